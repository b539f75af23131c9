"""Schemas of completion: the reasons an enrolment is not eligible, and the course-wide
completion list."""

from marshmallow import Schema, fields, validate

from lms.core.schemas import DecimalNumber, StrictSchema
from lms.enrollments.models import EnrollmentStatus

STATUSES = tuple(s.value for s in EnrollmentStatus)


class MissingOut(Schema):
    """One reason why an enrolment is not eligible; only the keys that apply are present."""

    reason = fields.String(
        metadata={
            "description": "enrollment_not_active, module_not_completed, module_not_passed, "
            "theory_hours_missing or practical_hours_missing"
        }
    )
    module_id = fields.Integer(metadata={"description": "Module reasons."})
    title = fields.String(metadata={"description": "Module reasons: the module's title."})
    status = fields.String(
        metadata={
            "description": "module_not_passed: the practical's status as the viewer sees it; "
            "enrollment_not_active: the enrolment's status."
        }
    )
    hours_missing = DecimalNumber(places=1, metadata={"description": "Hours reasons."})
    hours_required = DecimalNumber(places=1, metadata={"description": "Hours reasons."})
    hours_credited = DecimalNumber(places=1, metadata={"description": "Hours reasons."})


class CompletionArgs(StrictSchema):
    status = fields.List(
        fields.String(validate=validate.OneOf(STATUSES)),
        load_default=lambda: ["active", "completed"],
        metadata={
            "description": "Enrolment statuses to include (repeatable); default active and "
            "completed. Waitlisted and withdrawn enrolments are never eligible."
        },
    )
    eligible = fields.Boolean(metadata={"description": "Only eligible (true) or not (false)."})
    q = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Part of the email, the name or the English name."},
    )


class ModuleStateOut(Schema):
    module_id = fields.Integer()
    kind = fields.String()
    status = fields.String(
        metadata={"description": "not_started, completed, submitted, returned, passed or failed"}
    )
    hours_credited = DecimalNumber(places=1)


class CompletionEntryOut(Schema):
    """One enrolment of the course with its verdict (evaluated as course staff: grades count
    before their release)."""

    enrollment_id = fields.Integer()
    user_id = fields.Integer()
    email = fields.String()
    full_name = fields.String()
    full_name_en = fields.String(allow_none=True)
    institution = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "The enrolment's status."})
    theory_hours = DecimalNumber(places=1)
    practical_hours = DecimalNumber(places=1)
    total_hours = DecimalNumber(places=1)
    eligible = fields.Boolean()
    missing = fields.List(fields.Nested(MissingOut))
    modules = fields.List(fields.Nested(ModuleStateOut))

"""Schemas of completion: per-enrolment progress, the reasons an enrolment is not eligible,
the course-wide completion list and the gradebook's arguments."""

from marshmallow import Schema, fields, post_dump, pre_dump, validate

from lms.core import export
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
    format = export.format_field()
    lang = export.lang_field()


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


class GradebookArgs(StrictSchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(("csv", "xlsx", "json")))
    status = fields.List(
        fields.String(validate=validate.OneOf(STATUSES)),
        load_default=lambda: ["active", "completed"],
        metadata={
            "description": "Enrolment statuses to include (repeatable); "
            "default active and completed."
        },
    )
    lang = fields.String(
        load_default="zh",
        validate=validate.OneOf(("zh", "en")),
        metadata={
            "description": "zh: bilingual headers (姓名 Name) and Chinese labels; en: English only."
        },
    )


class ModuleProgressOut(Schema):
    module_id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    required = fields.Boolean()
    hours = DecimalNumber(places=1)
    has_quiz = fields.Boolean()
    status = fields.String(
        metadata={"description": "not_started, completed, submitted, returned, passed or failed"}
    )
    hours_credited = DecimalNumber(places=1)
    attempts = fields.Integer(metadata={"description": "Theory modules with a quiz."})
    best_percent = DecimalNumber(
        allow_none=True, metadata={"description": "Theory modules with a quiz."}
    )
    latest_submission_id = fields.Integer(
        allow_none=True, metadata={"description": "Practical modules."}
    )

    @post_dump(pass_original=True)
    def _only_what_applies(self, data, module, **kwargs):
        if module.kind == "theory":
            drop = (
                ("latest_submission_id",)
                if module.has_quiz
                else ("latest_submission_id", "attempts", "best_percent")
            )
        else:
            drop = ("has_quiz", "attempts", "best_percent")
        for name in drop:
            data.pop(name, None)
        return data


class ProgressOut(Schema):
    enrollment_id = fields.Integer()
    course_id = fields.Integer()
    user_id = fields.Integer()
    status = fields.String(metadata={"description": "The enrolment's status."})
    view = fields.String(
        metadata={
            "description": "teacher: unreleased grades are not counted; staff: every grade is."
        }
    )
    theory_hours = DecimalNumber(places=1)
    practical_hours = DecimalNumber(places=1)
    total_hours = DecimalNumber(places=1)
    eligible = fields.Boolean(
        metadata={"description": "Completion (DESIGN section 3), as the viewer sees it."}
    )
    missing = fields.List(
        fields.Nested(MissingOut), metadata={"description": "Why not eligible; empty when it is."}
    )
    modules = fields.List(fields.Nested(ModuleProgressOut))

    @pre_dump
    def _flatten(self, evaluation, **kwargs):
        """Dump a ``completion.Evaluation``: its progress plus the verdict."""
        progress = evaluation.progress
        data = {name: getattr(progress, name) for name in self.fields if hasattr(progress, name)}
        return {**data, "eligible": evaluation.eligible, "missing": evaluation.missing}

"""Enrolment schemas."""

from marshmallow import Schema, fields, validate

from lms.catalog.schemas import ProgramSummary
from lms.core import export
from lms.core.schemas import AwareDateTime, StrictSchema
from lms.enrollments.models import EnrollmentStatus

STATUSES = tuple(s.value for s in EnrollmentStatus)


class EnrollmentCreate(StrictSchema):
    user_id = fields.Integer(
        validate=validate.Range(min=1), metadata={"description": "Admins only: whom to enrol."}
    )


class RosterArgs(StrictSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    q = fields.String(validate=validate.Length(min=1, max=100))
    format = export.format_field()
    lang = export.lang_field()


class MyEnrollmentArgs(StrictSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))


class UserSummary(Schema):
    id = fields.Integer()
    email = fields.String()
    full_name = fields.String()
    full_name_en = fields.String(allow_none=True)
    institution = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    title = fields.String(allow_none=True)


class CourseSummary(Schema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()
    status = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    time_zone = fields.String(metadata={"description": "Show the course's times in this zone."})
    location = fields.String(allow_none=True)
    host_institution = fields.String(allow_none=True)
    program = fields.Nested(ProgramSummary, allow_none=True)


class EnrollmentOut(Schema):
    id = fields.Integer()
    course_id = fields.Integer()
    user_id = fields.Integer()
    status = fields.String()
    source = fields.String()
    queued_at = AwareDateTime()
    activated_at = AwareDateTime(allow_none=True)
    withdrawn_at = AwareDateTime(allow_none=True)
    completed_at = AwareDateTime(allow_none=True)
    created_at = AwareDateTime()
    waitlist_position = fields.Integer(allow_none=True)


class RosterEntryOut(EnrollmentOut):
    user = fields.Nested(UserSummary)


class MyEnrollmentOut(EnrollmentOut):
    course = fields.Nested(CourseSummary)

"""Schemas of the grading queue, grades, their history, grade release and the gradebook."""

from marshmallow import Schema, fields, validate

from lms.core.markdown import render as render_markdown
from lms.core.schemas import AwareDateTime, DecimalNumber, Points, StrictSchema, Text
from lms.enrollments.models import EnrollmentStatus
from lms.practicals.grading import SUBMISSION_STATUSES, etag

FEEDBACK_MAX_CHARS = 20_000


# --- input -----------------------------------------------------------------------------------


class ScoreIn(StrictSchema):
    criterion_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    points = Points(required=True)


class GradeIn(StrictSchema):
    scores = fields.List(
        fields.Nested(ScoreIn),
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Every rubric criterion exactly once."},
    )
    feedback = Text(
        allow_none=True,
        load_default=None,
        validate=validate.Length(max=FEEDBACK_MAX_CHARS),
        metadata={
            "description": "Plain text or Markdown; kept as sent and "
            "rendered to sanitised HTML (feedback_html)."
        },
    )
    return_for_revision = fields.Boolean(
        load_default=False,
        metadata={"description": "Give the work back for a new attempt (status returned)."},
    )


class QueueArgs(StrictSchema):
    status = fields.String(validate=validate.OneOf(SUBMISSION_STATUSES))
    module_id = fields.Integer(validate=validate.Range(min=1))
    late = fields.Boolean()
    user_id = fields.Integer(validate=validate.Range(min=1))


GRADEBOOK_STATUSES = tuple(s.value for s in EnrollmentStatus)


# --- output ----------------------------------------------------------------------------------


class ScoreOut(Schema):
    criterion_id = fields.Integer()
    points = fields.Float()


class GradeSummary(Schema):
    id = fields.Integer()
    total_points = DecimalNumber()
    passed = fields.Boolean()
    version = fields.Integer()
    graded_at = AwareDateTime()
    grader_id = fields.Integer(allow_none=True)
    returned_for_revision = fields.Boolean()


class GradeOut(GradeSummary):
    submission_id = fields.Integer()
    status = fields.String(
        attribute="submission.status", metadata={"description": "The submission's status."}
    )
    scores = fields.List(fields.Nested(ScoreOut))
    feedback = fields.String(allow_none=True)
    feedback_html = fields.String(allow_none=True)
    etag = fields.Function(etag, metadata={"description": "Send it back as If-Match."})


class GradeRevisionOut(Schema):
    version = fields.Integer()
    scores = fields.List(fields.Nested(ScoreOut))
    total_points = DecimalNumber()
    passed = fields.Boolean()
    feedback = fields.String(allow_none=True)
    feedback_html = fields.Function(lambda r: render_markdown(r.feedback))
    grader_id = fields.Integer(allow_none=True)
    graded_at = AwareDateTime()
    returned_for_revision = fields.Boolean()


class QueueUser(Schema):
    id = fields.Integer()
    full_name = fields.String()
    institution = fields.String(allow_none=True)


class QueueModule(Schema):
    id = fields.Integer()
    title = fields.String()


class QueueItemOut(Schema):
    id = fields.Integer()
    attempt_no = fields.Integer()
    submitted_at = AwareDateTime()
    late = fields.Boolean()
    status = fields.String()
    file_count = fields.Integer()
    user = fields.Nested(QueueUser)
    module = fields.Nested(QueueModule)
    grade = fields.Nested(GradeSummary, allow_none=True)


class ReleaseOut(Schema):
    module_id = fields.Integer()
    released_at = AwareDateTime()
    released_by_id = fields.Integer(allow_none=True)
    grades = fields.Integer(metadata={"description": "Grades of the module now visible."})

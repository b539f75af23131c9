"""Input and output schemas of practicals: submissions, files and extensions; grading.

Each section belongs to one part of the domain; add new schemas to their own section.
"""

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from lms.core.schemas import AwareDateTime, DecimalNumber, StrictSchema, Text

# === submissions, files and extensions =======================================================

MAX_TEXT = 50_000


class SubmissionForm(StrictSchema):
    """The form fields of a submission (multipart/form-data)."""

    text = Text(allow_none=True, load_default=None, validate=validate.Length(max=MAX_TEXT))


class SubmissionFiles(Schema):
    """The files of a submission: repeat the ``files`` field once per file."""

    files = fields.List(Upload(), load_default=list)


class SubmissionUpload(Schema):
    """The multipart body as documented: parsed as SubmissionForm plus SubmissionFiles."""

    text = fields.String(metadata={"description": f"Optional, at most {MAX_TEXT} characters."})
    files = fields.List(
        Upload(),
        metadata={
            "description": "Repeat the field once per file (at most 10); "
            "the module decides the accepted extensions and the size limit."
        },
    )


class SubmissionFileOut(Schema):
    id = fields.Integer()
    filename = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    content_type = fields.String()


class SubmissionGradeOut(Schema):
    """The grade as submitters and staff read it with the submission."""

    total_points = DecimalNumber(
        allow_none=True,
        metadata={"description": "Null for a teacher before a manual release of grades."},
    )
    passed = fields.Boolean(allow_none=True)
    feedback_html = fields.String(allow_none=True)
    graded_at = AwareDateTime()
    scores = fields.List(fields.Dict(), allow_none=True)
    returned_for_revision = fields.Boolean()


class SubmissionOut(Schema):
    id = fields.Integer()
    module_id = fields.Integer()
    course_id = fields.Integer()
    enrollment_id = fields.Integer()
    user_id = fields.Integer()
    attempt_no = fields.Integer()
    status = fields.String(
        metadata={
            "description": "submitted, returned or graded; teachers "
            "see 'submitted' until the grades are released"
        }
    )
    late = fields.Boolean()
    submitted_at = AwareDateTime()
    text = fields.String(allow_none=True)
    text_html = fields.String(
        allow_none=True, metadata={"description": "text (Markdown) as sanitised HTML."}
    )
    files = fields.List(fields.Nested(SubmissionFileOut))
    grade = fields.Nested(SubmissionGradeOut, allow_none=True)


class ExtensionIn(StrictSchema):
    user_id = fields.Integer(required=True, strict=True)
    due_at = AwareDateTime(required=True)
    reason = Text(required=True, validate=validate.Length(min=1, max=1000))


class ExtensionOut(Schema):
    id = fields.Integer()
    module_id = fields.Integer()
    enrollment_id = fields.Integer()
    user_id = fields.Integer()
    full_name = fields.String()
    due_at = AwareDateTime()
    reason = fields.String()
    granted_by_id = fields.Integer(allow_none=True)
    granted_at = AwareDateTime()


# === grading =================================================================================

"""Input and output schemas of programmes, courses and modules."""

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, post_dump, validate, validates_schema

from lms.catalog.models import CourseStatus, ModuleKind
from lms.core.schemas import (
    AwareDateTime,
    DecimalNumber,
    Hours,
    Points,
    StrictSchema,
    Text,
    TimeZoneName,
)

NAME = validate.Length(min=1, max=200)
EXTENSION = validate.Regexp(r"^\.[a-z0-9]{1,10}$", error="Use a lowercase extension like .pdf")
MAX_FILE_MB = 50  # one request carries at most LMS_MAX_CONTENT_MB (50 by default)


class ProgramCreate(StrictSchema):
    code = Text(
        required=True,
        validate=[validate.Length(min=1, max=40), validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")],
    )
    title = Text(required=True, validate=NAME)
    organizers = fields.List(
        Text(validate=NAME), validate=validate.Length(max=20), load_default=list
    )
    description = Text(allow_none=True, validate=validate.Length(max=20000))


class ProgramUpdate(ProgramCreate):
    code = Text(
        validate=[validate.Length(min=1, max=40), validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    )
    title = Text(validate=NAME)
    organizers = fields.List(Text(validate=NAME), validate=validate.Length(max=20))


class ProgramOut(Schema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()
    organizers = fields.List(fields.String())
    description = fields.String(allow_none=True)
    created_at = AwareDateTime()
    updated_at = AwareDateTime()


class CourseFields(StrictSchema):
    """Every writable course field; cross-field rules are checked by the service."""

    code = Text(
        validate=[
            validate.Length(min=1, max=40),
            validate.Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", error="Letters, digits, '-', '_' and '.' only."
            ),
        ]
    )
    title = Text(validate=NAME)
    program_id = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    description = Text(allow_none=True, validate=validate.Length(max=20000))
    host_institution = Text(allow_none=True, validate=NAME)
    organizers = fields.List(Text(validate=NAME), validate=validate.Length(max=20))
    location = Text(allow_none=True, validate=NAME)
    starts_on = fields.Date()
    ends_on = fields.Date()
    time_zone = TimeZoneName(
        metadata={"description": "IANA name; the course's dates are days in this zone."}
    )
    capacity = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=1_000_000))
    waitlist_enabled = fields.Boolean()
    self_enrollment = fields.Boolean()
    enroll_opens_at = AwareDateTime(allow_none=True)
    enroll_closes_at = AwareDateTime(allow_none=True)
    min_theory_hours = Hours(minimum=Decimal("0"))
    min_practical_hours = Hours(minimum=Decimal("0"))
    grade_release = fields.String(validate=validate.OneOf(("immediate", "manual")))
    certificate_title = Text(allow_none=True, validate=NAME)
    certificate_issuer = Text(allow_none=True, validate=NAME)
    certificate_signatory = Text(allow_none=True, validate=NAME)
    certificate_validity_months = fields.Integer(
        allow_none=True, validate=validate.Range(min=1, max=1200)
    )


class CourseCreate(CourseFields):
    code = Text(required=True, validate=CourseFields._declared_fields["code"].validators)
    title = Text(required=True, validate=NAME)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)


class CourseUpdate(CourseFields):
    pass


class CourseListArgs(StrictSchema):
    status = fields.String(validate=validate.OneOf(tuple(s.value for s in CourseStatus)))
    program_id = fields.Integer(validate=validate.Range(min=1))
    q = fields.String(validate=validate.Length(min=1, max=100))


class ProgramSummary(Schema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()


class CourseOut(Schema):
    id = fields.Integer()
    code = fields.String()
    title = fields.String()
    program_id = fields.Integer(allow_none=True)
    program = fields.Nested(ProgramSummary, allow_none=True)
    description = fields.String(allow_none=True)
    host_institution = fields.String(allow_none=True)
    organizers = fields.List(fields.String())
    location = fields.String(allow_none=True)
    starts_on = fields.Date()
    ends_on = fields.Date()
    time_zone = fields.String()
    ends_at = AwareDateTime(
        metadata={"description": "The end of ends_on in the course's time zone (UTC)."}
    )
    capacity = fields.Integer(allow_none=True)
    seats_taken = fields.Integer()
    waitlist_enabled = fields.Boolean()
    self_enrollment = fields.Boolean()
    enroll_opens_at = AwareDateTime(allow_none=True)
    enroll_closes_at = AwareDateTime(allow_none=True)
    self_enrollment_closes_at = AwareDateTime(
        metadata={"description": "enroll_closes_at if set, else the end of the course (ends_at)."}
    )
    status = fields.String()
    min_theory_hours = DecimalNumber(places=1)
    min_practical_hours = DecimalNumber(places=1)
    grade_release = fields.String()
    certificate_title = fields.String(allow_none=True)
    certificate_issuer = fields.String(allow_none=True)
    certificate_signatory = fields.String(allow_none=True)
    certificate_validity_months = fields.Integer(allow_none=True)
    published_at = AwareDateTime(allow_none=True)
    created_at = AwareDateTime()
    updated_at = AwareDateTime()


class InstructorOut(Schema):
    user_id = fields.Integer()
    email = fields.String(attribute="user.email")
    full_name = fields.String(attribute="user.full_name")
    institution = fields.String(attribute="user.institution", allow_none=True)
    assigned_at = AwareDateTime()


# --- modules -------------------------------------------------------------------------------


class Resource(StrictSchema):
    title = Text(required=True, validate=NAME)
    url = fields.Url(required=True, schemes={"http", "https"}, validate=validate.Length(max=2000))


class QuestionIn(StrictSchema):
    prompt = Text(required=True, validate=validate.Length(min=1, max=5000))
    choices = fields.List(
        Text(validate=validate.Length(min=1, max=1000)),
        required=True,
        validate=validate.Length(min=2, max=20),
    )
    correct = fields.List(
        fields.Integer(strict=True), required=True, validate=validate.Length(min=1, max=20)
    )
    points = Points(minimum=Decimal("0.01"), load_default=Decimal("1"))

    @validates_schema
    def _correct_within_choices(self, data, **kwargs):
        choices, correct = data.get("choices"), data.get("correct")
        if choices is None or correct is None:
            return
        if len(set(correct)) != len(correct):
            raise ValidationError("Each choice index may appear once.", "correct")
        if any(i < 0 or i >= len(choices) for i in correct):
            raise ValidationError(f"Choice indexes run from 0 to {len(choices) - 1}.", "correct")


class QuizIn(StrictSchema):
    pass_percent = DecimalNumber(
        places=2, minimum=Decimal("0"), maximum=Decimal("100"), required=True
    )
    max_attempts = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=100))
    questions = fields.List(
        fields.Nested(QuestionIn), required=True, validate=validate.Length(min=1, max=200)
    )


class CriterionIn(StrictSchema):
    title = Text(required=True, validate=NAME)
    description = Text(allow_none=True, validate=validate.Length(max=5000))
    max_points = Points(minimum=Decimal("0.01"), required=True)


THEORY_ONLY = ("quiz",)
PRACTICAL_ONLY = (
    "brief",
    "rubric",
    "pass_points",
    "due_at",
    "closes_at",
    "max_attempts",
    "reopen",
    "allowed_extensions",
    "max_file_mb",
)


class ModuleFields(StrictSchema):
    title = Text(validate=NAME)
    hours = Hours()
    required = fields.Boolean()
    position = fields.Integer(validate=validate.Range(min=0, max=10000))
    content = Text(allow_none=True, validate=validate.Length(max=200_000))
    resources = fields.List(fields.Nested(Resource), validate=validate.Length(max=50))
    quiz = fields.Nested(QuizIn, allow_none=True)
    brief = Text(allow_none=True, validate=validate.Length(max=50_000))
    rubric = fields.List(fields.Nested(CriterionIn), validate=validate.Length(min=1, max=50))
    pass_points = Points()
    due_at = AwareDateTime(allow_none=True)
    closes_at = AwareDateTime(allow_none=True)
    max_attempts = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=100))
    reopen = fields.String(validate=validate.OneOf(("manual", "until_pass")))
    allowed_extensions = fields.List(
        fields.String(validate=EXTENSION), validate=validate.Length(max=30), allow_none=True
    )
    max_file_mb = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=MAX_FILE_MB))


class ModuleCreate(ModuleFields):
    kind = fields.String(required=True, validate=validate.OneOf(tuple(k.value for k in ModuleKind)))
    title = Text(required=True, validate=NAME)
    hours = Hours(required=True)

    @validates_schema
    def _fields_match_kind(self, data, **kwargs):
        wrong = PRACTICAL_ONLY if data.get("kind") == ModuleKind.THEORY else THEORY_ONLY
        errors = {
            name: [f"Not allowed on a {data.get('kind')} module."] for name in wrong if name in data
        }
        if data.get("kind") == ModuleKind.PRACTICAL:
            for name in ("rubric", "pass_points"):
                if name not in data:
                    errors[name] = ["Required for a practical module."]
        if errors:
            raise ValidationError(errors)


class ModuleUpdate(ModuleFields):
    pass


class ModuleOrder(StrictSchema):
    module_ids = fields.List(
        fields.Integer(strict=True), required=True, validate=validate.Length(min=1, max=1000)
    )


class QuestionOut(Schema):
    """A quiz question as a teacher sees it: never the answers."""

    id = fields.Integer()
    position = fields.Integer()
    prompt = fields.String()
    choices = fields.List(fields.String())
    multiple = fields.Function(lambda q: len(q.correct) > 1)
    points = DecimalNumber()


class QuestionStaffOut(QuestionOut):
    correct = fields.List(fields.Integer(), metadata={"description": "Course staff only."})


class QuizOut(Schema):
    pass_percent = DecimalNumber()
    max_attempts = fields.Integer(allow_none=True)
    max_score = fields.Function(lambda quiz: float(sum(q.points for q in quiz.questions)))
    questions = fields.List(fields.Nested(QuestionOut))


class QuizStaffOut(QuizOut):
    questions = fields.List(fields.Nested(QuestionStaffOut))


class CriterionOut(Schema):
    id = fields.Integer()
    position = fields.Integer()
    title = fields.String()
    description = fields.String(allow_none=True)
    max_points = DecimalNumber()


class ModuleOut(Schema):
    id = fields.Integer()
    course_id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    hours = DecimalNumber(places=1)
    required = fields.Boolean()
    position = fields.Integer()
    content = fields.String(allow_none=True)
    content_html = fields.String(
        allow_none=True, metadata={"description": "content (Markdown) as sanitised HTML."}
    )
    resources = fields.List(fields.Dict())
    quiz = fields.Nested(QuizOut, allow_none=True)
    brief = fields.String(allow_none=True)
    brief_html = fields.String(
        allow_none=True, metadata={"description": "brief (Markdown) as sanitised HTML."}
    )
    rubric = fields.List(fields.Nested(CriterionOut), attribute="criteria")
    max_points = fields.Function(
        lambda m: float(sum(c.max_points for c in m.criteria)) if m.kind == "practical" else None
    )
    pass_points = DecimalNumber(allow_none=True)
    due_at = AwareDateTime(allow_none=True)
    closes_at = AwareDateTime(allow_none=True)
    max_attempts = fields.Integer(allow_none=True)
    reopen = fields.String(allow_none=True)
    allowed_extensions = fields.List(fields.String(), allow_none=True)
    max_file_mb = fields.Integer(allow_none=True)
    created_at = AwareDateTime()
    updated_at = AwareDateTime()

    @post_dump
    def _drop_other_kind(self, data, **kwargs):
        for name in (
            PRACTICAL_ONLY + ("max_points", "brief_html")
            if data["kind"] == "theory"
            else THEORY_ONLY
        ):
            data.pop(name, None)
        return data


class ModuleStaffOut(ModuleOut):
    """A module as its course staff see it: with the quiz's correct answers (``ModuleOut``,
    what teachers get, has none)."""

    quiz = fields.Nested(QuizStaffOut, allow_none=True)

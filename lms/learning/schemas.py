"""Input and output schemas of theory completion, quiz attempts and progress.

No schema here has a field for the correct answers of a quiz: they never leave the server
through these endpoints.
"""

from marshmallow import Schema, fields, post_dump, pre_dump, validate

from lms.certificates.completion_schemas import MissingOut
from lms.core.schemas import AwareDateTime, DecimalNumber, StrictSchema

MAX_QUESTIONS, MAX_CHOICES = 200, 20  # the catalogue's limits on a quiz


class QuizAttemptIn(StrictSchema):
    answers = fields.List(
        fields.List(fields.Integer(strict=True), validate=validate.Length(max=MAX_CHOICES)),
        required=True,
        validate=validate.Length(min=1, max=MAX_QUESTIONS),
        metadata={
            "description": "One list of chosen choice indexes per question, in "
            "question order; an empty list leaves a question unanswered."
        },
    )


class CompletionOut(Schema):
    module_id = fields.Integer()
    enrollment_id = fields.Integer()
    how = fields.String(metadata={"description": "manual, quiz or instructor"})
    completed_at = AwareDateTime()
    marked_by_id = fields.Integer(allow_none=True)
    hours_credited = DecimalNumber(places=1)


class QuizAttemptResultOut(Schema):
    attempt_no = fields.Integer(attribute="attempt.attempt_no")
    score = DecimalNumber(attribute="attempt.score")
    max_score = DecimalNumber(attribute="attempt.max_score")
    percent = DecimalNumber(attribute="attempt.percent")
    passed = fields.Boolean(attribute="attempt.passed")
    submitted_at = AwareDateTime(attribute="attempt.submitted_at")
    attempts_left = fields.Integer(allow_none=True, metadata={"description": "null: unlimited"})
    best_percent = DecimalNumber(metadata={"description": "The best attempt counts."})
    completed = fields.Boolean(metadata={"description": "The module is completed."})


class QuizAttemptOut(Schema):
    attempt_no = fields.Integer()
    answers = fields.List(fields.List(fields.Integer()))
    score = DecimalNumber()
    max_score = DecimalNumber()
    percent = DecimalNumber()
    passed = fields.Boolean()
    submitted_at = AwareDateTime()


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

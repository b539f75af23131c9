"""Input and output schemas of theory completion, quiz attempts and progress.

No schema here has a field for the correct answers of a quiz: they never leave the server
through these endpoints.
"""

from marshmallow import Schema, fields, validate

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

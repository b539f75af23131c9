"""Theory modules: completion and quiz attempts."""

from flask_smorest import Blueprint

from lms.core.auth import actor, load
from lms.core.pagination import paginate
from lms.learning import services
from lms.learning.schemas import (
    CompletionOut,
    QuizAttemptIn,
    QuizAttemptOut,
    QuizAttemptResultOut,
)

blp = Blueprint(
    "learning",
    __name__,
    url_prefix="/api/v1",
    description="Theory completion and quiz attempts.",
)


def _created_or_existing(completed: services.Completed):
    """201 for a new completion, 200 when the module was already complete."""
    return completed, 201 if completed.created else 200


@blp.route("/modules/<int:module_id>/completion", methods=["POST"])
@load(seat=("module_id", services.learner_for))
@blp.response(201, CompletionOut)
@blp.alt_response(
    200,
    schema=CompletionOut,
    description="Already completed: the existing completion, unchanged (the call is idempotent).",
)
@blp.alt_response(
    409,
    description="``quiz-required``, ``not-a-theory-module``, ``enrollment-not-active`` or "
    "``course-not-open``.",
)
def complete_module(seat):
    """Mark a theory module without a quiz complete (your active enrolment).

    409 ``quiz-required`` when the module has a quiz (pass it instead),
    ``not-a-theory-module`` for practical modules, ``enrollment-not-active`` for a completed
    enrolment and ``course-not-open`` when the course is closed.
    """
    return _created_or_existing(services.complete_module(seat.module, seat.enrollment))


@blp.route("/enrollments/<int:enrollment_id>/modules/<int:module_id>/completion", methods=["POST"])
@load(seat=(("enrollment_id", "module_id"), services.staff_target))
@blp.response(201, CompletionOut)
@blp.alt_response(
    200, schema=CompletionOut, description="Already completed: the existing completion, unchanged."
)
@blp.alt_response(
    409, description="``not-a-theory-module``, ``enrollment-not-active`` or ``course-not-open``."
)
def mark_completion(seat):
    """Course staff mark a theory module complete for a teacher (audited).

    Works on modules with a quiz too (an override for work done outside the system).
    The teacher of the enrolment gets 403; anyone else who may not see it, 404.
    """
    completed = services.mark_completed_by_staff(seat.enrollment, seat.module, actor=actor())
    return _created_or_existing(completed)


@blp.route("/modules/<int:module_id>/quiz-attempts", methods=["POST"])
@load(seat=("module_id", services.learner_for))
@blp.arguments(QuizAttemptIn)
@blp.response(201, QuizAttemptResultOut)
@blp.alt_response(
    409,
    description="``no-quiz``, ``no-attempts-left``, ``enrollment-not-active``, "
    "``course-not-open``, or an attempt submitted concurrently.",
)
def submit_quiz_attempt(data, seat):
    """Answer the module's quiz; scored on the server. The best attempt counts.

    A question scores when the chosen set equals the correct one exactly. Passing completes
    the module; further attempts are allowed while attempts remain and never undo it.
    The correct answers are never returned. 409 ``no-attempts-left`` beyond the limit.
    """
    return services.submit_attempt(seat.module, seat.enrollment, data["answers"])


@blp.route("/modules/<int:module_id>/quiz-attempts", methods=["GET"])
@load(seat=("module_id", services.reader_enrollment))
@blp.response(200, QuizAttemptOut(many=True))
@blp.paginate()
def list_quiz_attempts(seat, pagination_parameters):
    """Your own attempts at the module's quiz, oldest first (course staff: see progress)."""
    return paginate(services.attempts_query(seat.module, seat.enrollment), pagination_parameters)

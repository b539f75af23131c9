"""Theory rules: completing a module, quiz attempts scored on the server, and who may act.

Services flush but never commit; the request boundary commits once.

Decisions (see also the endpoint docstrings in lms.learning.views):

- Completing a module twice is idempotent: the second call returns the existing completion
  (200) instead of a 409, so that a client retrying after a lost response is not punished.
- A module with a quiz is completed only by passing the quiz (409 ``quiz-required`` on the
  manual endpoint), but course staff may mark any theory module complete, quiz or not: it is
  the override for work done outside the system (a quiz taken on paper, say).
- The best attempt counts: a passing attempt completes the module once; later attempts are
  allowed while attempts remain and never take the completion away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import User
from lms.audit import services as audit
from lms.catalog import permissions
from lms.catalog.models import CourseStatus, Module, ModuleKind, Quiz
from lms.core.auth import may_forbid
from lms.core.errors import Forbidden, Invalid, NotFound
from lms.enrollments.access import Seat, learner_enrollment, readable_enrollment
from lms.enrollments.errors import (
    CourseNotOpen,
    EnrollmentNotActive,
    NoAttemptsLeft,
    OwnEnrollment,
)
from lms.enrollments.models import SEAT_HOLDING, Enrollment, EnrollmentStatus
from lms.extensions import db
from lms.learning.errors import (
    QUIZ_ATTEMPTS_USED,
    AttemptConflict,
    NoQuiz,
    NotATheoryModule,
    QuizRequired,
)
from lms.learning.models import ModuleCompletion, QuizAttempt

HOW_MANUAL, HOW_QUIZ, HOW_INSTRUCTOR = "manual", "quiz", "instructor"
# Courses in which staff may still record completions: work is over once a course is
# archived (read-only), and a draft course has no learners.
STAFF_MARKABLE = (CourseStatus.PUBLISHED, CourseStatus.CLOSED)


# --- who may act -----------------------------------------------------------------------------


@may_forbid
def learner_for(module_id: int, user: User) -> Seat:
    """The module and the active enrolment through which ``user`` works on it.

    404 when the module is not visible to the user (not enrolled, waitlisted, withdrawn);
    403 for the course staff, who do not take courses; 409 from ``learner_enrollment`` when
    the enrolment is completed or the course is not open.
    """
    module = permissions.visible_module(module_id, user)
    if permissions.is_course_staff(user, module.course):
        raise Forbidden(
            "Course staff do not take modules; mark completions for a teacher "
            "through the enrolment instead.",
            "研修班管理人员不参加学习；请通过学员的报名记录为其标记完成。",
        )
    return Seat(module, learner_enrollment(module, user))


def reader_enrollment(module_id: int, user: User) -> Seat:
    """The module and the caller's own enrolment (active or completed) to read their own
    attempts; 404 otherwise, course staff included (they read progress instead)."""
    module = permissions.visible_module(module_id, user)
    enrollment = db.session.scalar(
        select(Enrollment).where(
            Enrollment.course_id == module.course_id,
            Enrollment.user_id == user.id,
            Enrollment.status.in_(SEAT_HOLDING),
        )
    )
    if enrollment is None:
        raise NotFound()
    return Seat(module, enrollment)


@may_forbid
def staff_target(enrollment_id: int, module_id: int, user: User) -> Seat:
    """The enrolment and the module of its course that staff ``user`` marks: 404 unless
    the enrolment is readable (``readable_enrollment``: owner or staff) and the module is
    of its course; its owner gets 403 (``own-enrollment`` when they are staff too)."""
    enrollment = readable_enrollment(enrollment_id, user)
    if not permissions.is_course_staff(user, enrollment.course):
        raise Forbidden(
            "Only course staff mark modules complete for a teacher.",
            "只有研修班管理人员可以为学员标记完成。",
        )
    module = db.session.get(Module, module_id)
    if module is None or module.course_id != enrollment.course_id:
        raise NotFound()
    if enrollment.user_id == user.id:  # enrolled, then made staff of the course (or admin)
        raise OwnEnrollment()
    return Seat(module, enrollment)


# --- completion ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Completed:
    """A completion as the API shows it; ``created`` tells 201 from an idempotent 200."""

    module_id: int
    enrollment_id: int
    how: str
    completed_at: datetime
    marked_by_id: int | None
    hours_credited: Decimal
    created: bool


def _completed(completion: ModuleCompletion, module: Module, created: bool) -> Completed:
    return Completed(
        completion.module_id,
        completion.enrollment_id,
        completion.how,
        completion.completed_at,
        completion.marked_by_id,
        module.hours,
        created,
    )


def _existing_completion(enrollment: Enrollment, module: Module) -> ModuleCompletion | None:
    return db.session.scalar(
        select(ModuleCompletion).where(
            ModuleCompletion.enrollment_id == enrollment.id, ModuleCompletion.module_id == module.id
        )
    )


def _insert_completion(
    enrollment: Enrollment, module: Module, how: str, marked_by: User | None = None
) -> tuple[ModuleCompletion, bool]:
    """Insert the completion unless one exists; (completion, created).

    The unique (enrolment, module) constraint settles concurrent requests: the loser reads
    the winner's row.
    """
    existing = _existing_completion(enrollment, module)
    if existing is not None:
        return existing, False
    completion = ModuleCompletion(
        enrollment_id=enrollment.id,
        module_id=module.id,
        how=how,
        marked_by_id=marked_by.id if marked_by else None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(completion)
            db.session.flush()
    except IntegrityError:
        return _existing_completion(enrollment, module), False
    return completion, True


def _require_theory(module: Module) -> None:
    if module.kind != ModuleKind.THEORY:
        raise NotATheoryModule()


def complete_module(module: Module, enrollment: Enrollment) -> Completed:
    """Complete a theory module without a quiz for the learner of ``enrollment`` (manual).

    Idempotent: an existing completion is returned with ``created=False``.
    """
    _require_theory(module)
    if module.quiz is not None:
        raise QuizRequired()
    completion, created = _insert_completion(enrollment, module, HOW_MANUAL)
    return _completed(completion, module, created)


def mark_completed_by_staff(enrollment: Enrollment, module: Module, *, actor: User) -> Completed:
    """Course staff mark a theory module complete for a teacher (how=instructor), audited.

    Allowed on modules with a quiz too (the override for work done outside the system);
    the enrolment must be active and the course published or closed.
    """
    _require_theory(module)
    if enrollment.status != EnrollmentStatus.ACTIVE:
        raise EnrollmentNotActive("The enrolment is not active.", "该报名记录不是进行中状态。")
    if enrollment.course.status not in STAFF_MARKABLE:
        raise CourseNotOpen()
    completion, created = _insert_completion(enrollment, module, HOW_INSTRUCTOR, actor)
    if created:
        audit.record(
            "module.completed_by_staff",
            "enrollment",
            enrollment.id,
            actor=actor,
            data={
                "module_id": module.id,
                "course_id": enrollment.course_id,
                "user_id": enrollment.user_id,
            },
        )
    return _completed(completion, module, created)


# --- quizzes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptResult:
    """A scored attempt and where the learner stands afterwards."""

    attempt: QuizAttempt
    attempts_left: int | None
    best_percent: Decimal
    completed: bool


def _quiz_of(module: Module) -> Quiz:
    _require_theory(module)
    if module.quiz is None:
        raise NoQuiz()
    return module.quiz


def check_answers(quiz: Quiz, answers: Sequence[Sequence[int]]) -> list[list[int]]:
    """The answers as sorted sets of choice indexes, one per question in order; 422 with
    field messages when their number or an index does not fit the quiz."""
    questions = quiz.questions
    if len(answers) != len(questions):
        raise Invalid(
            {
                "answers": [
                    f"Give one answer (a list of choice indexes, possibly "
                    f"empty) for each of the {len(questions)} questions, in "
                    f"order. 请按顺序为全部 {len(questions)} 道题作答。"
                ]
            }
        )
    errors = {}
    for number, (question, chosen) in enumerate(zip(questions, answers, strict=True)):
        last = len(question.choices) - 1
        if any(i < 0 or i > last for i in chosen):
            errors[str(number)] = [
                f"Choice indexes run from 0 to {last}. 选项序号应在 0 到 {last} 之间。"
            ]
    if errors:
        raise Invalid({"answers": errors})
    return [sorted(set(chosen)) for chosen in answers]


def score_answers(quiz: Quiz, answers: list[list[int]]) -> tuple[Decimal, Decimal, Decimal]:
    """(score, max_score, percent). A question scores its points only when the chosen set
    equals the correct set. The percent is rounded down to 2 places, so that it passes a
    (2-place) pass percent exactly when the unrounded score does."""
    max_score = sum((q.points for q in quiz.questions), Decimal("0"))
    score = sum(
        (
            q.points
            for q, chosen in zip(quiz.questions, answers, strict=True)
            if set(chosen) == set(q.correct)
        ),
        Decimal("0"),
    )
    percent = (score * 100 / max_score).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    return score, max_score, percent


def _attempt_count(enrollment: Enrollment, module: Module) -> int:
    return db.session.scalar(
        select(func.coalesce(func.max(QuizAttempt.attempt_no), 0)).where(
            QuizAttempt.enrollment_id == enrollment.id, QuizAttempt.module_id == module.id
        )
    )


def _insert_attempt(
    enrollment: Enrollment, module: Module, quiz: Quiz, **scored
) -> QuizAttempt | None:
    """Take the next attempt number; None when a concurrent request took it first."""
    used = _attempt_count(enrollment, module)
    if quiz.max_attempts is not None and used >= quiz.max_attempts:
        raise NoAttemptsLeft(*QUIZ_ATTEMPTS_USED)
    attempt = QuizAttempt(
        enrollment_id=enrollment.id, module_id=module.id, attempt_no=used + 1, **scored
    )
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
            db.session.flush()
    except IntegrityError:
        return None
    return attempt


def submit_attempt(
    module: Module, enrollment: Enrollment, answers: Sequence[Sequence[int]]
) -> AttemptResult:
    """Score an attempt on the server and record it; a pass completes the module (once).

    The attempt number is unique per (enrolment, module): of two concurrent attempts one
    gets the next number, the other retries once and then answers 409.
    """
    quiz = _quiz_of(module)
    chosen = check_answers(quiz, answers)
    score, max_score, percent = score_answers(quiz, chosen)
    scored = dict(
        answers=chosen,
        score=score,
        max_score=max_score,
        percent=percent,
        passed=percent >= quiz.pass_percent,
    )
    attempt = _insert_attempt(enrollment, module, quiz, **scored) or _insert_attempt(
        enrollment, module, quiz, **scored
    )
    if attempt is None:
        raise AttemptConflict()
    if attempt.passed:
        _insert_completion(enrollment, module, HOW_QUIZ)
    return _attempt_result(attempt, enrollment, module, quiz)


def _attempt_result(
    attempt: QuizAttempt, enrollment: Enrollment, module: Module, quiz: Quiz
) -> AttemptResult:
    best = db.session.scalar(
        select(func.max(QuizAttempt.percent)).where(
            QuizAttempt.enrollment_id == enrollment.id, QuizAttempt.module_id == module.id
        )
    )
    left = None if quiz.max_attempts is None else max(quiz.max_attempts - attempt.attempt_no, 0)
    completed = _existing_completion(enrollment, module) is not None
    return AttemptResult(attempt, left, best, completed)


def attempts_query(module: Module, enrollment: Enrollment):
    """The attempts of one enrolment at a module's quiz, oldest first."""
    return (
        select(QuizAttempt)
        .where(QuizAttempt.enrollment_id == enrollment.id, QuizAttempt.module_id == module.id)
        .order_by(QuizAttempt.attempt_no)
    )


# --- catalogue integration -------------------------------------------------------------------


def module_has_learning_activity(module: Module) -> bool:
    """Answers ``catalog.signals.module_activity``: true when a module has theory
    completions or quiz attempts (it is then in use)."""
    return bool(
        db.session.scalar(
            select(
                or_(
                    exists().where(ModuleCompletion.module_id == module.id),
                    exists().where(QuizAttempt.module_id == module.id),
                )
            )
        )
    )

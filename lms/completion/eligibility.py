"""Completion rules (DESIGN section 3): who has completed a course, and if not, why.

An active enrolment is eligible when every required theory module is completed (its quiz
passed where it has one; a completion marked by course staff also counts: it is their
explicit override), every required practical is passed (its latest graded attempt), and
the credited theory and practical hours reach the course's minimums. The evaluation
returns the reasons, not only a boolean. It is set-based: it reuses
``lms.completion.progress``, a fixed number of queries per batch of named enrolments, or for
a whole course list (``evaluated``) a fixed number of streamed queries, whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, or_, select

from lms.accounts.models import User
from lms.catalog.models import Course, ModuleKind
from lms.completion.progress import (
    BATCH,
    ZERO,
    CourseModule,
    Progress,
    course_modules,
    progress_for_enrollments,
    stream_progress,
)
from lms.core.bulk import gc_paused
from lms.enrollments.models import Enrollment, EnrollmentStatus

NOT_ACTIVE = "enrollment_not_active"
MODULE_NOT_COMPLETED = "module_not_completed"
MODULE_NOT_PASSED = "module_not_passed"
THEORY_HOURS_MISSING = "theory_hours_missing"
PRACTICAL_HOURS_MISSING = "practical_hours_missing"
EVALUATED_STATUSES = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.COMPLETED.value)


@dataclass
class Evaluation:
    """The completion verdict of one enrolment, with its progress."""

    progress: Progress
    eligible: bool
    missing: list[dict] = field(default_factory=list)


def _module_reasons(progress: Progress) -> list[dict]:
    reasons = []
    for unmet in progress.unmet:
        module = unmet.module
        if module.kind == ModuleKind.THEORY:
            reasons.append(
                {"module_id": module.id, "title": module.title, "reason": MODULE_NOT_COMPLETED}
            )
        else:
            reasons.append(
                {
                    "module_id": module.id,
                    "title": module.title,
                    "reason": MODULE_NOT_PASSED,
                    "status": unmet.status,
                }
            )
    return reasons


def _hours_reasons(progress: Progress, minimums: tuple[Decimal, Decimal]) -> list[dict]:
    reasons = []
    need_theory, need_practical = minimums
    if progress.theory_hours < need_theory:
        reasons.append(_hours_reason(THEORY_HOURS_MISSING, progress.theory_hours, need_theory))
    if progress.practical_hours < need_practical:
        reasons.append(
            _hours_reason(PRACTICAL_HOURS_MISSING, progress.practical_hours, need_practical)
        )
    return reasons


def _hours_reason(reason: str, have: Decimal, need: Decimal) -> dict:
    return {
        "reason": reason,
        "hours_missing": float(need - have),
        "hours_required": float(need),
        "hours_credited": float(have),
    }


def _minimums(course: Course) -> tuple[Decimal, Decimal]:
    """The course's minimum theory and practical hours (read once per evaluation)."""
    return course.min_theory_hours or ZERO, course.min_practical_hours or ZERO


def evaluate(progress: Progress, course: Course) -> Evaluation:
    """The verdict for one enrolment's progress.

    Completed enrolments stay eligible (they already met the rule); waitlisted and
    withdrawn ones are not, with the reason ``enrollment_not_active``.
    """
    return _verdict(progress, _minimums(course))


def _verdict(progress: Progress, minimums: tuple[Decimal, Decimal]) -> Evaluation:
    missing = []
    if progress.status not in EVALUATED_STATUSES:
        missing.append({"reason": NOT_ACTIVE, "status": progress.status})
    if progress.unmet:
        missing += _module_reasons(progress)
    missing += _hours_reasons(progress, minimums)
    return Evaluation(progress, not missing, missing)


def evaluate_enrollments(
    course: Course,
    enrollments: Sequence[Enrollment],
    *,
    viewer_is_staff: bool = True,
    modules: Sequence[CourseModule] | None = None,
) -> dict[int, Evaluation]:
    """Evaluate many enrolments of ``course`` in a constant number of queries per batch.

    Issuance and the course completion list evaluate as staff: grades count even before a
    manual release. A teacher's own progress evaluates as they see it.
    """
    modules = course_modules(course) if modules is None else modules
    with gc_paused():
        progress = progress_for_enrollments(
            course, enrollments, viewer_is_staff=viewer_is_staff, modules=modules
        )
        minimums = _minimums(course)
        return {eid: _verdict(p, minimums) for eid, p in progress.items()}


def evaluate_enrollment(enrollment: Enrollment, *, viewer_is_staff: bool = True) -> Evaluation:
    """Evaluate one enrolment."""
    return evaluate_enrollments(enrollment.course, [enrollment], viewer_is_staff=viewer_is_staff)[
        enrollment.id
    ]


# --- the course completion list ------------------------------------------------------------


def enrollments_query(course: Course, statuses: list[str], q: str | None):
    """The course's enrolments with ``statuses`` (and matching ``q``) as rows carrying what
    progress needs (id, course_id, user_id, status) and who the enrolled user is."""
    stmt = (
        select(
            Enrollment.id,
            Enrollment.course_id,
            Enrollment.user_id,
            Enrollment.status,
            User.email,
            User.full_name,
            User.full_name_en,
            User.institution,
        )
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.course_id == course.id, Enrollment.status.in_(statuses))
    )
    if q:
        needle = q.lower()
        stmt = stmt.where(
            or_(
                *(
                    func.lower(column).contains(needle, autoescape=True)
                    for column in (User.email, User.full_name, User.full_name_en)
                )
            )
        )
    return stmt


def evaluated(course: Course, stmt) -> Iterator[tuple]:
    """(row, Evaluation) for every row of ``stmt`` (``enrollments_query``), by enrolment
    id, as staff: six statements whatever the number of rows (the modules, then
    ``progress.stream_progress``'s ids and four streams), ``BATCH`` enrolments in memory at
    a time.

    The garbage collector stays paused until the iteration ends (``lms.core.bulk.gc_paused``):
    each batch's objects are freed by reference counting once the caller moves on, so the
    full collection they would trigger after a batch, traversing the whole process, is not
    merely deferred but never needed."""
    modules = course_modules(course)
    minimums = _minimums(course)
    with gc_paused():
        for row, progress in stream_progress(
            course, stmt, viewer_is_staff=True, modules=modules, batch=BATCH
        ):
            yield row, _verdict(progress, minimums)


def completion_page(course: Course, stmt, eligible: bool | None, pagination_parameters):
    """The requested page of the evaluated rows of ``stmt`` (only the eligible or only the
    others when ``eligible`` is given) and the summary of all of them. Sets the item count
    for the X-Pagination header."""
    first, last = pagination_parameters.first_item, pagination_parameters.last_item
    summary = {"eligible": 0, "not_eligible": 0}
    page, position = [], 0
    for row, evaluation in evaluated(course, stmt):
        summary["eligible" if evaluation.eligible else "not_eligible"] += 1
        if eligible is not None and evaluation.eligible != eligible:
            continue
        if first <= position <= last:
            page.append(entry(row, evaluation))
        position += 1
    pagination_parameters.item_count = position
    return page, summary


def entry(row, evaluation: Evaluation) -> dict:
    """One enrolment of the list, as ``CompletionEntryOut`` reads it."""
    progress = evaluation.progress
    return {
        "enrollment_id": row.id,
        "user_id": row.user_id,
        "email": row.email,
        "full_name": row.full_name,
        "full_name_en": row.full_name_en,
        "institution": row.institution,
        "status": row.status,
        "theory_hours": progress.theory_hours,
        "practical_hours": progress.practical_hours,
        "total_hours": progress.total_hours,
        "eligible": evaluation.eligible,
        "missing": evaluation.missing,
        "modules": progress.modules,
    }

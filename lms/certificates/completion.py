"""Completion rules (DESIGN section 3): who has completed a course, and if not, why.

An active enrolment is eligible when every required theory module is completed (its quiz
passed where it has one; a completion marked by course staff also counts: it is their
explicit override), every required practical is passed (its latest graded attempt), and
the credited theory and practical hours reach the course's minimums. The evaluation
returns the reasons, not only a boolean. It is set-based: it reuses
``lms.learning.progress``, a fixed number of grouped queries per batch of enrolments.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, or_, select

from lms.accounts.models import User
from lms.catalog.models import Course, ModuleKind
from lms.enrollments.models import Enrollment, EnrollmentStatus
from lms.extensions import db
from lms.learning.progress import (
    BATCH,
    COMPLETED,
    PASSED,
    CourseModule,
    Progress,
    course_modules,
    progress_for_enrollments,
)

NOT_ACTIVE = "enrollment_not_active"
MODULE_NOT_COMPLETED = "module_not_completed"
MODULE_NOT_PASSED = "module_not_passed"
THEORY_HOURS_MISSING = "theory_hours_missing"
PRACTICAL_HOURS_MISSING = "practical_hours_missing"


@dataclass
class Evaluation:
    """The completion verdict of one enrolment, with its progress."""

    progress: Progress
    eligible: bool
    missing: list[dict] = field(default_factory=list)


def _module_reasons(progress: Progress) -> list[dict]:
    reasons = []
    for module in progress.modules:
        if not module.required:
            continue
        if module.kind == ModuleKind.THEORY and module.status != COMPLETED:
            reasons.append(
                {
                    "module_id": module.module_id,
                    "title": module.title,
                    "reason": MODULE_NOT_COMPLETED,
                }
            )
        elif module.kind == ModuleKind.PRACTICAL and module.status != PASSED:
            reasons.append(
                {
                    "module_id": module.module_id,
                    "title": module.title,
                    "reason": MODULE_NOT_PASSED,
                    "status": module.status,
                }
            )
    return reasons


def _hours_reasons(progress: Progress, course: Course) -> list[dict]:
    reasons = []
    for reason, have, need in (
        (THEORY_HOURS_MISSING, progress.theory_hours, course.min_theory_hours),
        (PRACTICAL_HOURS_MISSING, progress.practical_hours, course.min_practical_hours),
    ):
        need = need or Decimal("0")
        if have < need:
            reasons.append(
                {
                    "reason": reason,
                    "hours_missing": float(need - have),
                    "hours_required": float(need),
                    "hours_credited": float(have),
                }
            )
    return reasons


def evaluate(progress: Progress, course: Course) -> Evaluation:
    """The verdict for one enrolment's progress.

    Completed enrolments stay eligible (they already met the rule); waitlisted and
    withdrawn ones are not, with the reason ``enrollment_not_active``.
    """
    missing = []
    if progress.status not in (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED):
        missing.append({"reason": NOT_ACTIVE, "status": progress.status})
    missing += _module_reasons(progress) + _hours_reasons(progress, course)
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
    progress = progress_for_enrollments(
        course, enrollments, viewer_is_staff=viewer_is_staff, modules=modules
    )
    return {eid: evaluate(p, course) for eid, p in progress.items()}


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
    """(row, Evaluation) for every row of ``stmt``, by enrolment id, ``BATCH`` at a time:
    the modules once, then the same queries for each batch."""
    modules = course_modules(course)
    after = 0
    while True:
        rows = db.session.execute(
            stmt.where(Enrollment.id > after).order_by(Enrollment.id).limit(BATCH)
        ).all()
        evaluations = evaluate_enrollments(course, rows, modules=modules) if rows else {}
        for row in rows:
            yield row, evaluations[row.id]
        if len(rows) < BATCH:
            return
        after = rows[-1].id


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

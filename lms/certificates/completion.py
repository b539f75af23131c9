"""Completion rules (DESIGN section 3): who has completed a course, and if not, why.

An active enrolment is eligible when every required theory module is completed (its quiz
passed where it has one; a completion marked by course staff also counts: it is their
explicit override), every required practical is passed (its latest graded attempt), and
the credited theory and practical hours reach the course's minimums. The evaluation
returns the reasons, not only a boolean. It is set-based: it reuses
``lms.learning.progress``, a fixed number of grouped queries per batch of enrolments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from lms.catalog.models import Course, ModuleKind
from lms.enrollments.models import Enrollment, EnrollmentStatus
from lms.learning.progress import (
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

"""Progress of enrolments through a course's modules, computed set-based.

``progress_for_enrollments`` evaluates many enrolments of one course with a fixed number of
grouped queries (one for the modules, four per batch of ``BATCH`` enrolments), whatever the
number of modules, attempts or submissions: the course completion list and the gradebook
call it with a page or a stream batch of enrolments; the progress endpoint uses the
one-enrolment wrapper.

Module status:

- theory: ``completed`` when a completion exists (manual, quiz passed, or staff-marked);
  ``failed`` when its quiz was attempted but not passed; else ``not_started``.
- practical, from the latest submission (highest attempt number): ``submitted``,
  ``returned`` (sent back for revision), or ``passed`` / ``failed`` once graded. Teachers
  see a graded submission as ``submitted`` until the module's grades are released (courses
  with manual release); staff always see the grade.

Hours are credited for a completed theory module, and for a practical whose latest graded
attempt passed and whose grades the viewer may see.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, func, select

from lms.catalog.models import Course, Module, ModuleKind, Quiz
from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.learning.models import ModuleCompletion, QuizAttempt
from lms.practicals.models import Grade, Submission
from lms.practicals.rules import grades_released_clause

# Enrolments per round of queries: keeps IN lists well below the bind-parameter limits of
# SQLite (32766) and PostgreSQL (65535).
BATCH = 500
ZERO = Decimal("0")

NOT_STARTED, COMPLETED, FAILED = "not_started", "completed", "failed"
SUBMITTED, RETURNED, PASSED = "submitted", "returned", "passed"
MODULE_STATUSES = (NOT_STARTED, COMPLETED, SUBMITTED, RETURNED, PASSED, FAILED)


@dataclass(frozen=True)
class CourseModule:
    """What progress needs to know of a module (read once per course)."""

    id: int
    kind: str
    title: str
    required: bool
    hours: Decimal
    has_quiz: bool
    grades_released: bool


@dataclass
class ModuleProgress:
    module_id: int
    kind: str
    title: str
    required: bool
    hours: Decimal
    has_quiz: bool
    status: str = NOT_STARTED
    hours_credited: Decimal = ZERO
    attempts: int | None = None  # theory modules with a quiz
    best_percent: Decimal | None = None  # theory modules with a quiz, once attempted
    latest_submission_id: int | None = None  # practical modules


@dataclass
class Progress:
    enrollment_id: int
    course_id: int
    user_id: int
    status: str
    view: str  # "teacher" or "staff": whether unreleased grades were counted
    modules: list[ModuleProgress] = field(default_factory=list)

    def _hours(self, kind: str | None = None) -> Decimal:
        return sum((m.hours_credited for m in self.modules if kind in (None, m.kind)), ZERO)

    @property
    def theory_hours(self) -> Decimal:
        return self._hours(ModuleKind.THEORY)

    @property
    def practical_hours(self) -> Decimal:
        return self._hours(ModuleKind.PRACTICAL)

    @property
    def total_hours(self) -> Decimal:
        return self._hours()


def course_modules(course: Course) -> list[CourseModule]:
    """The modules of a course in display order, with quiz presence and grade release: one
    query."""
    rows = db.session.execute(
        select(
            Module.id,
            Module.kind,
            Module.title,
            Module.required,
            Module.hours,
            Quiz.id.is_not(None),
            grades_released_clause(),
        )
        .join(Course, Course.id == Module.course_id)
        .outerjoin(Quiz, Quiz.module_id == Module.id)
        .where(Module.course_id == course.id)
        .order_by(Module.position, Module.id)
    ).all()
    return [CourseModule(r[0], r[1], r[2], bool(r[3]), r[4], bool(r[5]), bool(r[6])) for r in rows]


def progress_for_enrollment(enrollment: Enrollment, *, viewer_is_staff: bool) -> Progress:
    """Progress of one enrolment (its course must be loaded or loadable)."""
    return progress_for_enrollments(
        enrollment.course, [enrollment], viewer_is_staff=viewer_is_staff
    )[enrollment.id]


def progress_for_enrollments(
    course: Course,
    enrollments: Sequence[Enrollment],
    *,
    viewer_is_staff: bool,
    modules: Sequence[CourseModule] | None = None,
) -> dict[int, Progress]:
    """Progress of each of ``enrollments`` (all of ``course``), by enrolment id.

    One query for the modules (none when the caller passes ``course_modules(course)``, as
    a caller going through a course page by page may) plus four grouped queries per
    ``BATCH`` enrolments. ``viewer_is_staff`` counts grades that teachers cannot see yet.
    """
    if modules is None:
        modules = course_modules(course)
    view = "staff" if viewer_is_staff else "teacher"
    result = {}
    for batch in _batches(enrollments):
        facts = _Facts.load([e.id for e in batch])
        for enrollment in batch:
            result[enrollment.id] = Progress(
                enrollment.id,
                enrollment.course_id,
                enrollment.user_id,
                enrollment.status,
                view,
                [facts.module_progress(enrollment.id, m, viewer_is_staff) for m in modules],
            )
    return result


def _batches(items: Sequence) -> Iterator[Sequence]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


@dataclass
class _Facts:
    """What a batch of enrolments did, keyed by (enrollment_id, module_id)."""

    completed: set[tuple[int, int]]
    attempts: dict[tuple[int, int], tuple[int, Decimal]]
    latest: dict[tuple[int, int], tuple[int, str, bool | None]]
    latest_graded_passed: dict[tuple[int, int], bool]

    @classmethod
    def load(cls, ids: list[int]) -> _Facts:
        completed = db.session.execute(
            select(ModuleCompletion.enrollment_id, ModuleCompletion.module_id).where(
                ModuleCompletion.enrollment_id.in_(ids)
            )
        ).all()
        attempts = db.session.execute(
            select(
                QuizAttempt.enrollment_id,
                QuizAttempt.module_id,
                func.count(),
                func.max(QuizAttempt.percent),
            )
            .where(QuizAttempt.enrollment_id.in_(ids))
            .group_by(QuizAttempt.enrollment_id, QuizAttempt.module_id)
        ).all()
        latest = db.session.execute(_latest_submissions(ids, graded_only=False)).all()
        graded = db.session.execute(_latest_submissions(ids, graded_only=True)).all()
        return cls(
            completed={(e, m) for e, m in completed},
            attempts={(e, m): (n, best) for e, m, n, best in attempts},
            latest={(e, m): (sid, status, passed) for e, m, sid, status, passed in latest},
            latest_graded_passed={(e, m): bool(passed) for e, m, _, _, passed in graded},
        )

    def module_progress(
        self, enrollment_id: int, module: CourseModule, viewer_is_staff: bool
    ) -> ModuleProgress:
        progress = ModuleProgress(
            module.id, module.kind, module.title, module.required, module.hours, module.has_quiz
        )
        key = (enrollment_id, module.id)
        if module.kind == ModuleKind.THEORY:
            self._theory(progress, key)
        else:
            self._practical(progress, key, viewer_is_staff or module.grades_released)
        return progress

    def _theory(self, progress: ModuleProgress, key: tuple[int, int]) -> None:
        attempts, best = self.attempts.get(key, (0, None))
        if progress.has_quiz:
            progress.attempts, progress.best_percent = attempts, best
        if key in self.completed:
            progress.status, progress.hours_credited = COMPLETED, progress.hours
        elif attempts:
            progress.status = FAILED

    def _practical(
        self, progress: ModuleProgress, key: tuple[int, int], grades_visible: bool
    ) -> None:
        latest = self.latest.get(key)
        if latest is None:
            return
        progress.latest_submission_id, status, passed = latest
        if status == "graded":
            status = (PASSED if passed else FAILED) if grades_visible else SUBMITTED
        progress.status = status
        if grades_visible and self.latest_graded_passed.get(key):
            progress.hours_credited = progress.hours


def _latest_submissions(ids: list[int], *, graded_only: bool):
    """(enrollment_id, module_id, submission id, status, grade passed) of the latest
    submission per enrolment and module, or of the latest graded one."""
    newest = (
        select(
            Submission.enrollment_id,
            Submission.module_id,
            func.max(Submission.attempt_no).label("attempt_no"),
        )
        .where(Submission.enrollment_id.in_(ids))
        .group_by(Submission.enrollment_id, Submission.module_id)
    )
    if graded_only:
        newest = newest.where(Submission.status == "graded")
    newest = newest.subquery()
    return (
        select(
            Submission.enrollment_id,
            Submission.module_id,
            Submission.id,
            Submission.status,
            Grade.passed,
        )
        .join(
            newest,
            and_(
                Submission.enrollment_id == newest.c.enrollment_id,
                Submission.module_id == newest.c.module_id,
                Submission.attempt_no == newest.c.attempt_no,
            ),
        )
        .outerjoin(Grade, Grade.submission_id == Submission.id)
    )

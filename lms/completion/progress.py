"""Progress of enrolments through a course's modules, computed set-based.

``progress_for_enrollments`` evaluates given enrolments of one course with a fixed number
of queries (one for the modules, three per batch of ``BATCH`` enrolments), whatever the
number of modules, attempts or submissions: issuance and the gradebook call it with the
enrolments they hold, the progress endpoint through the one-enrolment wrapper.
``stream_progress`` evaluates every enrolment a query selects (the course completion list)
with a fixed number of statements whatever their number: the ids, then four streams
ordered by enrolment id, merged ``BATCH`` enrolments at a time.

Course-wide evaluation (10,000 enrolments) is dominated by the rows read and the Python
work per enrolment and module, so: the facts are read as plain rows (Core, not ORM
loading; on PostgreSQL the ids go as one array parameter), the latest submissions come
from one ordered scan instead of two grouped self-joins, and the hours and unmet required
modules are computed in one tight loop, while the per-module ``ModuleProgress`` list is
only built for the enrolments whose ``modules`` are read (a page of the completion list,
a gradebook row). Benchmark row 3 (``bench/service_rows.py``, docs/benchmarks.md) compares
it with one hand-written SQL aggregate.

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

import bisect
import functools
import operator
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Row, Select, func, select

from lms.catalog.models import Course, Module, ModuleKind, Quiz
from lms.core import bulk
from lms.core.bulk import gc_paused
from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.learning.models import ModuleCompletion, QuizAttempt
from lms.practicals.models import Grade, Submission
from lms.practicals.rules import grades_released_clause

# Enrolments per round of queries. Few rounds matter on a busy server (each is a wait for a
# reply), and a round's IN lists must stay below SQLite's bind-parameter limit (see
# lms.core.bulk; PostgreSQL gets one array parameter). A batch's facts are some hundred
# thousand small tuples held in memory at once.
BATCH = 5000
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


@dataclass(slots=True)
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


@dataclass(frozen=True, slots=True)
class Unmet:
    """A required module neither completed (theory) nor passed (practical), with its status
    as the viewer sees it."""

    module: CourseModule
    status: str


@dataclass(eq=False)
class Progress:
    """An enrolment's progress: the credited hours and the unmet required modules, computed
    with the rest; the per-module list on first access (a course list of 10,000 enrolments
    shows a page of them, issuance none)."""

    enrollment_id: int
    course_id: int
    user_id: int
    status: str
    view: str  # "teacher" or "staff": whether unreleased grades were counted
    theory_hours: Decimal = ZERO
    practical_hours: Decimal = ZERO
    unmet: list[Unmet] = field(default_factory=list)
    _build_modules: Callable[[], list[ModuleProgress]] = field(
        default=list, repr=False, compare=False
    )

    @property
    def total_hours(self) -> Decimal:
        return self.theory_hours + self.practical_hours

    @functools.cached_property
    def modules(self) -> list[ModuleProgress]:
        """Every module of the course in display order, with its status and hours."""
        modules = self._build_modules()
        self._build_modules = list  # let go of the batch's facts
        return modules

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Progress):
            return NotImplemented
        return (self._fields(), self.modules) == (other._fields(), other.modules)

    __hash__ = None  # type: ignore[assignment] - mutable, compared by value

    def _fields(self) -> tuple:
        return (
            self.enrollment_id,
            self.course_id,
            self.user_id,
            self.status,
            self.view,
            self.theory_hours,
            self.practical_hours,
            self.unmet,
        )


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
    a caller going through a course page by page may) plus three queries per ``BATCH``
    enrolments. ``viewer_is_staff`` counts grades that teachers cannot see yet.
    """
    if modules is None:
        modules = course_modules(course)
    view = "staff" if viewer_is_staff else "teacher"
    result = {}
    for batch in bulk.chunked(enrollments, BATCH):
        with gc_paused():
            facts = _Facts.load([e.id for e in batch])
            for enrollment in batch:
                result[enrollment.id] = Progress(
                    enrollment.id,
                    enrollment.course_id,
                    enrollment.user_id,
                    enrollment.status,
                    view,
                )
            facts.summarise([result[e.id] for e in batch], modules, viewer_is_staff)
    return result


def stream_progress(
    course: Course,
    stmt: Select,
    *,
    viewer_is_staff: bool,
    modules: Sequence[CourseModule] | None = None,
    batch: int | None = None,
) -> Iterator[tuple[Row, Progress]]:
    """(row, Progress) for every row of ``stmt`` (enrolments of ``course`` with at least
    their ``id``, ``course_id``, ``user_id`` and ``status`` columns), by enrolment id.

    Five statements however many enrolments (plus the modules unless given): the ids of
    ``stmt`` (``_among_all``), then its rows and the three kinds of facts of the same
    enrolments, each ordered by enrolment id and read as a stream (a server-side cursor on
    PostgreSQL; SQLite's cursor steps lazily), ``batch`` enrolments with their facts at a
    time. Memory holds the ids and one batch; a course of 100,000 costs no more statements
    than one of ten. Consume it inside the transaction (the cursors live in it).
    """
    if modules is None:
        modules = course_modules(course)
    size = batch or BATCH
    view = "staff" if viewer_is_staff else "teacher"
    connection, streaming = _connection(), {"yield_per": size}  # per statement, not connection
    among = _among_all(connection, stmt)
    results = []
    try:
        for query in (
            stmt.where(among(Enrollment.id)).order_by(Enrollment.id),
            *_fact_queries(among, ordered=True),
        ):
            results.append(connection.execute(query, execution_options=streaming))
        completed, attempts, submissions = (_Ordered(r) for r in results[1:])
        for rows in results[0].partitions():
            last = rows[-1].id
            facts = _Facts.of(completed.until(last), attempts.until(last), submissions.until(last))
            progresses = [Progress(r.id, r.course_id, r.user_id, r.status, view) for r in rows]
            facts.summarise(progresses, modules, viewer_is_staff)
            yield from zip(rows, progresses, strict=True)
    finally:
        for result in results:
            result.close()


def _among_all(connection, stmt: Select) -> Callable:
    """``among(column)``: the enrolments of ``stmt``, for the streams of ``stream_progress``.

    On PostgreSQL their ids, read first (one statement, a list of integers), as one array
    parameter (``bulk.among_indexed``): each stream is then an index range per enrolment,
    read in order. With ``stmt`` as a subquery instead, the server hashed every completion
    and submission of every course (a sequential scan of all of them), or, planning a cursor
    for its first rows, walked whole indexes in order: slower for a large course. SQLite
    takes the subquery (it probes the index per id; a list of ids could exceed its limit of
    bound parameters); the ids are read all the same, so that both issue the same statements.
    """
    ids = connection.scalars(stmt.with_only_columns(Enrollment.id)).all()
    if bulk.postgresql():
        return lambda column: bulk.among_indexed(column, ids)
    subquery = stmt.with_only_columns(Enrollment.id).scalar_subquery()
    return lambda column: column.in_(subquery)


class _Ordered:
    """A stream of rows ordered by their first column (an enrolment id), taken up to an id
    at a time. It works on the lists the cursor fetches (``Result.partitions``): iterating
    row by row through the result costs more than the evaluation of a row."""

    def __init__(self, result) -> None:
        self._chunks = result.partitions()
        self._rows = next(self._chunks, [])

    def until(self, last_id: int) -> list:
        """The rows up to ``last_id`` not taken yet (those of enrolments that appeared
        between the statements are skipped by the caller, which has no progress for them)."""
        taken, rows = [], self._rows
        while rows and rows[-1][0] <= last_id:
            taken += rows
            rows = next(self._chunks, [])
        if rows:
            cut = bisect.bisect_right(rows, last_id, key=_first)
            taken += rows[:cut]
            rows = rows[cut:]
        self._rows = rows
        return taken


_first = operator.itemgetter(0)


@dataclass
class _Facts:
    """What a batch of enrolments did, keyed by (enrollment_id, module_id)."""

    completed: set[tuple[int, int]]
    attempts: dict[tuple[int, int], tuple[int, Decimal]]
    latest: dict[tuple[int, int], tuple[int, str, bool | None]]
    latest_graded_passed: dict[tuple[int, int], bool]

    @classmethod
    def load(cls, ids: list[int]) -> _Facts:
        connection = _connection()
        completed, attempts, submissions = (
            connection.execute(query).all()
            for query in _fact_queries(lambda column: bulk.among_indexed(column, ids))
        )
        return cls.of(completed, attempts, submissions)

    @classmethod
    def of(cls, completed, attempts, submissions) -> _Facts:
        """The facts from the rows of ``_fact_queries``."""
        facts = cls(
            completed={(e, m) for e, m in completed},
            attempts={(e, m): (n, best) for e, m, n, best in attempts},
            latest={},
            latest_graded_passed={},
        )
        facts._add_submissions(submissions)
        return facts

    def _add_submissions(self, rows) -> None:
        """Keep the latest submission, and the latest graded one, per enrolment and module
        (``rows`` come by attempt number: a later attempt replaces an earlier one)."""
        for enrollment_id, module_id, submission_id, status, passed in rows:
            key = (enrollment_id, module_id)
            self.latest[key] = (submission_id, status, passed)
            if status == "graded":
                self.latest_graded_passed[key] = bool(passed)

    def summarise(
        self, progresses: list[Progress], modules: Sequence[CourseModule], viewer_is_staff: bool
    ) -> None:
        """Fill in the hours and unmet modules of each of ``progresses``, and how to list
        its modules.

        The hot loop of a course-wide evaluation (enrolments x modules): a set or dict
        lookup per module, no object unless a required module is unmet.
        """
        completed, attempts, latest, graded = (
            self.completed,
            self.attempts,
            self.latest,
            self.latest_graded_passed,
        )
        plan = [
            (
                m,
                m.id,
                m.kind == ModuleKind.THEORY,
                m.required,
                m.hours,
                viewer_is_staff or m.grades_released,
            )
            for m in modules
        ]
        for progress in progresses:
            enrollment_id = progress.enrollment_id
            unmet = progress.unmet
            theory = practical = ZERO
            for module, module_id, is_theory, required, hours, visible in plan:
                key = (enrollment_id, module_id)
                if is_theory:
                    if key in completed:
                        theory += hours
                    elif required:
                        unmet.append(Unmet(module, FAILED if key in attempts else NOT_STARTED))
                    continue
                if visible and key in graded and graded[key]:
                    practical += hours
                if required:
                    status = _practical_status(latest.get(key), visible)
                    if status != PASSED:
                        unmet.append(Unmet(module, status))
            progress.theory_hours, progress.practical_hours = theory, practical
            progress._build_modules = functools.partial(
                self.modules_of, enrollment_id, modules, viewer_is_staff
            )

    def modules_of(
        self, enrollment_id: int, modules: Sequence[CourseModule], viewer_is_staff: bool
    ) -> list[ModuleProgress]:
        return [self.module_progress(enrollment_id, m, viewer_is_staff) for m in modules]

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
        if latest is not None:
            progress.latest_submission_id = latest[0]
            progress.status = _practical_status(latest, grades_visible)
        if grades_visible and self.latest_graded_passed.get(key):
            progress.hours_credited = progress.hours


def _practical_status(latest: tuple[int, str, bool | None] | None, grades_visible: bool) -> str:
    """A practical's status from its latest submission: a graded one reads passed or failed,
    or submitted while the viewer may not see its grade."""
    if latest is None:
        return NOT_STARTED
    _, status, passed = latest
    if status == "graded":
        return (PASSED if passed else FAILED) if grades_visible else SUBMITTED
    return status


def _fact_queries(among: Callable, *, ordered: bool = False) -> tuple:
    """The three queries of what enrolments did, ``among(column)`` choosing the enrolments,
    each ordered by enrolment id when ``ordered`` (so that a stream of them follows a stream
    of enrolments; a batch reads them into sets and dicts, and needs no sort): their theory
    completions (enrollment_id, module_id); their quiz attempts per module (enrollment_id,
    module_id, count, best percent); and every submission with its grade (enrollment_id,
    module_id, submission id, status, passed) by attempt number, in the order of the unique
    index (enrolment, module, attempt), no self-join."""
    completed = (
        select(ModuleCompletion.enrollment_id, ModuleCompletion.module_id)
        .where(among(ModuleCompletion.enrollment_id))
        .order_by(*([ModuleCompletion.enrollment_id] if ordered else []))
    )
    attempts = (
        select(
            QuizAttempt.enrollment_id,
            QuizAttempt.module_id,
            func.count(),
            func.max(QuizAttempt.percent),
        )
        .where(among(QuizAttempt.enrollment_id))
        .group_by(QuizAttempt.enrollment_id, QuizAttempt.module_id)
        .order_by(*([QuizAttempt.enrollment_id] if ordered else []))
    )
    submissions = (
        select(
            Submission.enrollment_id,
            Submission.module_id,
            Submission.id,
            Submission.status,
            Grade.passed,
        )
        .outerjoin(Grade, Grade.submission_id == Submission.id)
        .where(among(Submission.enrollment_id))
        .order_by(Submission.enrollment_id, Submission.module_id, Submission.attempt_no)
    )
    return completed, attempts, submissions


def _connection():
    """The session's connection, after flushing pending changes (what ``session.execute``
    would do): the facts are plain rows, read without the ORM's per-row loading."""
    db.session.flush()
    return db.session.connection()

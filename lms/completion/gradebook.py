"""The gradebook of a course: one row per enrolment, one column per module, hours.

The module states and hours come from ``lms.completion.progress.progress_for_enrollments``
(the same set-based rules as the progress endpoint and course completion), evaluated as
course staff: grades count whether or not they are released. Rows are produced in chunks of
``CHUNK_SIZE`` enrolments (keyset on the enrolment id); each chunk costs the same queries
whatever its size: the enrolments with their users, progress (modules plus four grouped
queries) and the totals of the latest graded attempts. The CSV and JSON answers are
streamed chunk by chunk; XLSX is written to a spooled temporary file first (a zip cannot be
sent before it is complete).

Cells, per module kind:

- theory: ``completed`` (with the best quiz percent when there is a quiz), else the best
  quiz percent so far (``failed``), else ``not_started``;
- practical, from the latest attempt: ``passed``/``failed`` with its total when graded,
  ``submitted``, ``returned`` (for revision, with the total it had), else ``not_started``.

Hours: theory hours are those of completed theory modules; practical hours those of
practical modules whose latest graded attempt passed.

Every text cell of CSV and XLSX that a spreadsheet could read as a formula (starting with
``=``, ``+``, ``-``, ``@``, tab or carriage return) gets a leading ``'``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select

from lms.accounts.models import User
from lms.catalog.models import Course, ModuleKind, RubricCriterion
from lms.completion import progress
from lms.completion.progress import CourseModule, ModuleProgress, Progress
from lms.core import bulk, export
from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.practicals.models import Grade, Submission

CHUNK_SIZE = progress.BATCH  # one round of progress queries per chunk
CSV_MIMETYPE, XLSX_MIMETYPE = export.CSV_MIMETYPE, export.XLSX_MIMETYPE
neutralise = export.neutralise
_number = export.number

LABELS = {
    "zh": {
        "full_name": "姓名 Name",
        "email": "邮箱 Email",
        "institution": "单位 Institution",
        "status": "状态 Status",
        "theory_hours": "理论学时 Theory hours",
        "practical_hours": "实训学时 Practical hours",
        "total_hours": "总学时 Total hours",
        "points": "分",
        "theory": "理论",
        "practical": "实训",
        "active": "在读",
        "completed": "已结业",
        "withdrawn": "已退出",
        "waitlisted": "候补",
        "done": "已完成",
        "passed": "通过",
        "failed": "未通过",
        "submitted": "已提交",
        "returned": "退回修改",
        "none": "—",
    },
    "en": {
        "full_name": "Name",
        "email": "Email",
        "institution": "Institution",
        "status": "Status",
        "theory_hours": "Theory hours",
        "practical_hours": "Practical hours",
        "total_hours": "Total hours",
        "points": "points",
        "theory": "theory",
        "practical": "practical",
        "active": "active",
        "completed": "completed",
        "withdrawn": "withdrawn",
        "waitlisted": "waitlisted",
        "done": "completed",
        "passed": "passed",
        "failed": "failed",
        "submitted": "submitted",
        "returned": "returned",
        "none": "—",
    },
}


@dataclass
class GradebookRow:
    enrollment: Enrollment
    user: User
    progress: Progress
    totals: dict[int, Decimal]  # submission id -> total points, for the latest attempts
    scores: dict[int, dict[int, Decimal]] = field(default_factory=dict)  # -> criterion points

    def cells(self) -> Iterator[dict]:
        """Each module's state, in column order."""
        for module in self.progress.modules:
            yield module_cell(module, self.totals)


# --- data ------------------------------------------------------------------------------------


def course_modules(course: Course) -> list[CourseModule]:
    """The course's modules in display order (the gradebook's columns)."""
    return progress.course_modules(course)


def iter_rows(
    course_id: int, statuses: list[str], *, chunk_size: int | None = None
) -> Iterator[list[GradebookRow]]:
    """The rows of the course's enrolments with one of ``statuses``, by enrolment id, a
    chunk at a time.

    Takes the course's id, not the Course: when streamed, this runs after the view's
    session is gone (Flask pushes the contexts again around the iteration), so it loads
    what it needs in the session of the moment.
    """
    course = db.session.get(Course, course_id)
    size = chunk_size or CHUNK_SIZE
    after = 0
    while True:
        people = db.session.execute(
            select(Enrollment, User)
            .join(User, User.id == Enrollment.user_id)
            .where(
                Enrollment.course_id == course_id,
                Enrollment.status.in_(statuses),
                Enrollment.id > after,
            )
            .order_by(Enrollment.id)
            .limit(size)
        ).all()
        if not people:
            return
        found = progress.progress_for_enrollments(
            course, [e for e, _ in people], viewer_is_staff=True
        )
        totals, scores = latest_grades(found)
        yield [GradebookRow(e, u, found[e.id], totals, scores) for e, u in people]
        if len(people) < size:
            return
        after = people[-1][0].id


def latest_totals(found: dict[int, Progress]) -> dict[int, Decimal]:
    """Total points of the latest submissions that have a grade, by submission id."""
    return latest_grades(found)[0]


def latest_grades(
    found: dict[int, Progress],
) -> tuple[dict[int, Decimal], dict[int, dict[int, Decimal]]]:
    """Total points and points per criterion (criterion id -> points) of the latest
    submissions that have a grade, by submission id: one query, bound by the enrolment ids
    (not by the number of modules)."""
    latest = {m.latest_submission_id for p in found.values() for m in p.modules}
    rows = db.session.execute(
        select(Grade.submission_id, Grade.total_points, Grade.scores)
        .join(Submission, Submission.id == Grade.submission_id)
        .where(bulk.among_indexed(Submission.enrollment_id, list(found)))
    )
    totals, scores = {}, {}
    for sid, total, given in rows:
        if sid in latest:
            totals[sid] = total
            scores[sid] = {
                int(s["criterion_id"]): Decimal(str(s["points"]))
                for s in given or ()
                if s.get("criterion_id") is not None and s.get("points") is not None
            }
    return totals, scores


@dataclass(frozen=True)
class Criterion:
    id: int
    module_id: int
    title: str


def course_criteria(modules: list[CourseModule]) -> dict[int, list[Criterion]]:
    """The rubric criteria of the practical modules, by module id, in rubric order: one
    query (the gradebook's per-criterion columns)."""
    ids = [m.id for m in modules if m.kind == ModuleKind.PRACTICAL]
    found: dict[int, list[Criterion]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = db.session.execute(
        select(RubricCriterion.id, RubricCriterion.module_id, RubricCriterion.title)
        .where(RubricCriterion.module_id.in_(ids))
        .order_by(RubricCriterion.module_id, RubricCriterion.position)
    )
    for criterion_id, module_id, title in rows:
        found[module_id].append(Criterion(criterion_id, module_id, title))
    return found


def module_cell(module: ModuleProgress, totals: dict[int, Decimal]) -> dict:
    """The state of one enrolment in one module, as exported."""
    cell = {
        "module_id": module.module_id,
        "kind": module.kind,
        "status": module.status,
        "hours_credited": module.hours_credited,
    }
    if module.kind == ModuleKind.THEORY:
        return {**cell, "best_percent": module.best_percent}
    return {**cell, "total_points": totals.get(module.latest_submission_id)}


# --- formats ---------------------------------------------------------------------------------


def header(
    modules: list[CourseModule], lang: str, criteria: dict[int, list[Criterion]] | None = None
) -> list[str]:
    """The header row of the CSV and XLSX tables: after each practical module's column,
    one column per rubric criterion with its points."""
    labels = LABELS[lang]
    criteria = criteria or {}
    columns = [labels[k] for k in ("full_name", "email", "institution", "status")]
    for m in modules:
        if lang == "zh":
            columns.append(f"{m.title}（{labels[m.kind]}）")
            columns += [
                f"{m.title}：{c.title}（{labels['points']}）" for c in criteria.get(m.id, ())
            ]
        else:
            columns.append(f"{m.title} ({labels[m.kind]})")
            columns += [
                f"{m.title}: {c.title} ({labels['points']})" for c in criteria.get(m.id, ())
            ]
    return columns + [labels[k] for k in ("theory_hours", "practical_hours", "total_hours")]


def cell_text(cell: dict, lang: str) -> str:
    """One module cell as the text a person reads in the spreadsheet."""
    labels = LABELS[lang]
    status = cell["status"]
    if cell["kind"] == ModuleKind.THEORY:
        best = cell["best_percent"]
        percent = None if best is None else f"{_number(best)}%"
        if status == "completed":
            return labels["done"] + (f" ({percent})" if percent else "")
        return percent or labels["none"]
    total = cell["total_points"]
    if status in ("passed", "failed"):
        return f"{_number(total)} {labels[status]}"
    if status in ("submitted", "returned"):
        return labels[status] + (f" ({_number(total)})" if total is not None else "")
    return labels["none"]


def table_row(
    row: GradebookRow, lang: str, criteria: dict[int, list[Criterion]] | None = None
) -> list:
    """A row of the CSV/XLSX table (numbers as numbers; lms.core.export neutralises text)."""
    labels, user, found = LABELS[lang], row.user, row.progress
    criteria = criteria or {}
    values = [user.full_name, user.email, user.institution or "", labels[found.status]]
    for module, state in zip(found.modules, row.cells(), strict=True):
        values.append(cell_text(state, lang))
        points = row.scores.get(module.latest_submission_id, {})
        values += [_number(points.get(c.id)) for c in criteria.get(module.module_id, ())]
    values += [
        _number(found.theory_hours),
        _number(found.practical_hours),
        _number(found.total_hours),
    ]
    return values


def json_row(row: GradebookRow) -> dict:
    """A row of the JSON export (raw values, machine-readable codes)."""
    user, found = row.user, row.progress
    modules = [
        {
            key: _number(value) if isinstance(value, Decimal) else value
            for key, value in cell.items()
        }
        for cell in row.cells()
    ]
    return {
        "enrollment_id": row.enrollment.id,
        "user_id": user.id,
        "full_name": user.full_name,
        "email": user.email,
        "institution": user.institution,
        "status": found.status,
        "modules": modules,
        "theory_hours": _number(found.theory_hours),
        "practical_hours": _number(found.practical_hours),
        "total_hours": _number(found.total_hours),
    }


def json_chunks(chunks: Iterator[list[GradebookRow]]) -> Iterator[bytes]:
    """A JSON list, a chunk of rows at a time."""
    yield b"["
    first = True
    for rows in chunks:
        parts = [json.dumps(json_row(row), ensure_ascii=False) for row in rows]
        if parts:
            yield (("" if first else ",") + ",".join(parts)).encode("utf-8")
            first = False
    yield b"]"


def table_chunks(
    chunks: Iterator[list[GradebookRow]], lang: str, criteria: dict[int, list[Criterion]]
) -> Iterator[list[list]]:
    """The CSV/XLSX rows, a chunk at a time."""
    for rows in chunks:
        yield [table_row(row, lang, criteria) for row in rows]

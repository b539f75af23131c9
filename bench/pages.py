"""Rows 2 and 7: list pages at the full dataset against the 100-times smaller one.

Both datasets are served in this process by two instances of the real app (production
configuration, one per database) through Flask's test client, with personal API tokens
(``Authorization: Bearer``) created through the accounts service, as a script would. The
personas are found in each dataset the same way (BENCH-BIG's first instructor, the teacher of
its first eligible enrolment, ...), so both sides ask for the same page of the same kind of
object; only the amount of data around it differs.

Row 2: median latency over ``repeats`` warm requests of the teacher dashboard, the grading
queue and the roster. Row 7: the number of SQL statements every list endpoint issues (counted
on the engine), which must not depend on the size of the data.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import event, func, select

from bench.environment import apply, production_env
from bench.generate import ADMIN_EMAIL, BIG_CODE

PAGE = "page_size=50"
TEACHER_ENROLMENTS = 4


@dataclass
class World:
    """The ids and tokens the benchmarked requests use, found in one dataset."""

    app: Flask
    tokens: dict[str, str]
    course_id: int
    theory_id: int
    practical_id: int
    submission_id: int
    enrollment_id: int


def make_app(database_url: str, workdir: Path) -> Flask:
    """The real app, configured as in production, bound to ``database_url``."""
    from lms.app import create_app

    apply(production_env(workdir, database_url))
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url.replace(
                "postgresql://", "postgresql+psycopg://", 1
            )
        }
    )


def build_world(app: Flask) -> World:
    """Find the personas and objects, and give each persona an API token (committed)."""
    from lms.accounts.models import User
    from lms.accounts.services import create_api_token
    from lms.catalog.models import Course, CourseInstructor, Module
    from lms.certificates.models import Certificate
    from lms.enrollments.models import Enrollment
    from lms.extensions import db
    from lms.practicals.models import Submission

    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.code == BIG_CODE))
        modules = db.session.scalars(
            select(Module).where(Module.course_id == course.id).order_by(Module.position)
        ).all()
        practical = next(m for m in modules if m.kind == "practical")
        theory = next(m for m in modules if m.kind == "theory")
        # A teacher of BENCH-BIG with a graded submission and four enrolments in all, so that
        # the dashboard lists as many courses in both datasets.
        others = (
            select(Enrollment.user_id)
            .group_by(Enrollment.user_id)
            .having(func.count() == TEACHER_ENROLMENTS)
        )
        graded_stmt = (
            select(Submission)
            .join(Enrollment, Enrollment.id == Submission.enrollment_id)
            .where(Submission.course_id == course.id, Submission.status == "graded")
            .order_by(Submission.id)
            .limit(1)
        )
        graded = db.session.scalar(graded_stmt.where(Enrollment.user_id.in_(others)))
        graded = graded or db.session.scalar(graded_stmt)  # a tiny dataset may have none
        enrollment = db.session.get(Enrollment, graded.enrollment_id)
        instructor_id = db.session.scalar(
            select(CourseInstructor.user_id)
            .where(CourseInstructor.course_id == course.id)
            .order_by(CourseInstructor.user_id)
            .limit(1)
        )
        holder_id = db.session.scalar(select(Certificate.user_id).order_by(Certificate.id).limit(1))
        people = {
            "admin": db.session.scalar(select(User).where(User.email == ADMIN_EMAIL)),
            "instructor": db.session.get(User, instructor_id),
            "teacher": db.session.get(User, enrollment.user_id),
            "holder": db.session.get(User, holder_id),
        }
        tokens = {name: create_api_token(user, "bench", 1)[1] for name, user in people.items()}
        world = World(
            app=app,
            tokens=tokens,
            course_id=course.id,
            theory_id=theory.id,
            practical_id=practical.id,
            submission_id=graded.id,
            enrollment_id=enrollment.id,
        )
        db.session.commit()
    return world


def dashboard_pages(w: World) -> list[tuple[str, str, str]]:
    """Row 2: (title, persona, path). The first page at the API's default size (10), full in
    both datasets: the small BENCH-BIG has only 16 submissions waiting, so pages of 50 would
    compare 50 serialised items against 16."""
    return [
        ("teacher dashboard", "teacher", "/api/v1/me/enrollments"),
        (
            "grading queue",
            "instructor",
            f"/api/v1/courses/{w.course_id}/submissions?status=submitted",
        ),
        ("roster", "instructor", f"/api/v1/courses/{w.course_id}/enrollments"),
    ]


def list_endpoints(w: World) -> list[tuple[str, str]]:
    """Row 7: every GET endpoint that returns a list, as (persona, path)."""
    c, m, p = w.course_id, w.theory_id, w.practical_id
    return [
        ("admin", f"/api/v1/users?{PAGE}"),
        ("admin", f"/api/v1/users?role=teacher&q=li&{PAGE}"),
        ("admin", f"/api/v1/auth/tokens?{PAGE}"),
        ("admin", f"/api/v1/audit-events?{PAGE}"),
        ("admin", f"/api/v1/programs?{PAGE}"),
        ("admin", f"/api/v1/courses?{PAGE}"),
        ("teacher", f"/api/v1/courses?{PAGE}"),
        ("instructor", f"/api/v1/courses?{PAGE}"),
        ("admin", f"/api/v1/courses/{c}/instructors"),
        ("instructor", f"/api/v1/courses/{c}/modules"),
        ("instructor", f"/api/v1/courses/{c}/enrollments?{PAGE}"),
        ("admin", f"/api/v1/courses/{c}/enrollments?status=active&{PAGE}"),
        ("teacher", f"/api/v1/me/enrollments?{PAGE}"),
        ("teacher", f"/api/v1/modules/{m}/quiz-attempts"),
        ("teacher", f"/api/v1/modules/{p}/submissions/mine"),
        ("instructor", f"/api/v1/modules/{p}/extensions"),
        ("instructor", f"/api/v1/courses/{c}/submissions?{PAGE}"),
        ("instructor", f"/api/v1/courses/{c}/submissions?status=submitted&{PAGE}"),
        ("instructor", f"/api/v1/submissions/{w.submission_id}/grade/history"),
        ("instructor", f"/api/v1/courses/{c}/completion?{PAGE}"),
        ("teacher", f"/api/v1/enrollments/{w.enrollment_id}/progress"),
        ("admin", f"/api/v1/certificates?{PAGE}"),
        ("admin", f"/api/v1/certificates?status=valid&{PAGE}"),
        ("holder", f"/api/v1/me/certificates?{PAGE}"),
    ]


class QueryCounter:
    """Counts the statements the app's engine executes while active."""

    def __init__(self, engine):
        self.engine, self.count = engine, 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args, **kwargs):
        self.count += 1

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._count)


def _get(w: World, persona: str, path: str):
    client = w.app.test_client()
    response = client.get(path, headers={"Authorization": f"Bearer {w.tokens[persona]}"})
    if response.status_code != 200:
        raise RuntimeError(f"{path} as {persona}: {response.status_code} {response.data[:300]!r}")
    return response


def _seconds(w: World, persona: str, path: str) -> float:
    started = time.perf_counter()
    _get(w, persona, path)
    return time.perf_counter() - started


def timed_pair(a: World, a_path: str, b: World, b_path: str, persona: str, repeats: int):
    """Median seconds of ``repeats`` requests on each side, after three warm-up ones.

    The two sides alternate request by request, so that a burst of load from elsewhere on
    the machine hits both alike.
    """
    for _ in range(3):
        _get(a, persona, a_path)
        _get(b, persona, b_path)
    a_times, b_times = [], []
    for _ in range(repeats):
        a_times.append(_seconds(a, persona, a_path))
        b_times.append(_seconds(b, persona, b_path))
    return statistics.median(a_times), statistics.median(b_times)


def count_queries(w: World, persona: str, path: str) -> int:
    """Statements of one (warm) request."""
    from lms.extensions import db

    _get(w, persona, path)
    with w.app.app_context():
        counter = QueryCounter(db.engine)
    try:
        _get(w, persona, path)
    finally:
        counter.close()
    return counter.count


def measure(full: World, small: World, *, repeats: int = 60, log=print) -> tuple[list[dict], list]:
    """Rows 2 and 7, and the per-endpoint detail of row 7 for the report."""
    rows = []
    for (title, persona, path), (_, _, small_path) in zip(
        dashboard_pages(full), dashboard_pages(small), strict=True
    ):
        ours, floor = timed_pair(full, path, small, small_path, persona, repeats)
        log(f"  row 2 {title}: {ours * 1000:.1f} ms vs {floor * 1000:.1f} ms")
        rows.append(
            {
                "row": 2,
                "title": f"{title}: full vs 1/100 dataset",
                "ours": ours,
                "floor": floor,
                "ratio": ours / floor,
                "target": "<= 1.3x",
                "met": ours / floor <= 1.3,
                "note": f"median of {repeats} warm requests, {path.split('/api/v1')[1]}",
                "unit": "s",
            }
        )
    detail = []
    for (persona, path), (_, small_path) in zip(
        list_endpoints(full), list_endpoints(small), strict=True
    ):
        n_full = count_queries(full, persona, path)
        n_small = count_queries(small, persona, small_path)
        t_full, t_small = timed_pair(full, path, small, small_path, persona, 7)
        detail.append((persona, path.split("/api/v1")[1], n_full, n_small, t_full, t_small))
    unequal = [d for d in detail if d[2] != d[3]]
    total_full, total_small = sum(d[2] for d in detail), sum(d[3] for d in detail)
    log(f"  row 7: {len(detail)} endpoints, {len(unequal)} with different query counts")
    rows.append(
        {
            "row": 7,
            "title": "queries of every list endpoint, full vs 1/100",
            "ours": total_full,
            "floor": total_small,
            "ratio": total_full / total_small,
            "target": "equal",
            "met": not unequal,
            "note": f"{len(detail)} endpoints; "
            + ("all equal" if not unequal else "unequal: " + ", ".join(d[1] for d in unequal)),
            "unit": "queries",
        }
    )
    return rows, detail

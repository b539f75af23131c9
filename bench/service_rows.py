"""Benchmark rows 3 to 6 (issue 7): services against their floors, measured side by side.

3. completion evaluation of ``BENCH-BIG`` (``completion.evaluated``, what the course
   completion list and issuance run) against one hand-written SQL aggregate computing the
   same verdicts and hours; the two answers must be equal;
4. roster import (``enrollments.imports.import_roster``) of a CSV of existing teachers into
   a fresh course against a raw ``executemany`` of the same enrolment rows;
5. bulk issuance to every eligible enrolment (``certificates.issuance.issue_certificates``,
   no PDFs) against a raw ``executemany`` INSERT of the certificate rows it wrote;
6. certificate PDF rendering (``certificates.pdf.render_certificate_pdf``) against a bare
   reportlab page with the same text, the same font and a QR code of the same URL.

Each side runs once to warm up, then both alternate ``runs`` times (so that a load spike
hits both) and the medians are compared. Rows 4 and 5 write inside a transaction rolled
back (and the tables vacuumed) after every run, into a scratch course created in that
transaction: the dataset is left as it was (only sequences advance). Rows 3 and 6 only
read. A row that misses its target says in its note where the time of one more run went.
"""

from __future__ import annotations

import contextlib
import cProfile
import csv
import io
import json
import os
import pstats
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal

import segno
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url

from lms.accounts.models import Role, User
from lms.catalog.models import Course, CourseStatus
from lms.certificates import issuance
from lms.certificates import pdf as certificate_pdf
from lms.certificates.fonts import certificate_font
from lms.certificates.models import Certificate
from lms.certificates.snapshot import build_snapshot, verify_url
from lms.completion import eligibility as completion
from lms.core.db import utcnow
from lms.enrollments import imports
from lms.enrollments.models import Enrollment
from lms.extensions import db

BIG_CODE = "BENCH-BIG"
ISSUABLE = ["active", "completed"]
FULL_ROWS = 10_000

# One SQL statement computing what completion.evaluated decides for every enrolment (as
# staff: every grade counts): theory modules count when completed, practicals when their
# latest graded attempt passed; a required practical is met when its latest attempt is
# graded and passed. Eligible: every required module met and both hour minimums reached.
COMPLETION_FLOOR_SQL = """
WITH e AS (
    SELECT id FROM enrollments
    WHERE course_id = :course_id AND status IN ('active', 'completed') AND id <= :last_id
),
m AS (SELECT id, kind, hours, required FROM modules WHERE course_id = :course_id),
latest AS (
    SELECT s.enrollment_id, s.module_id, max(s.attempt_no) AS latest,
           max(s.attempt_no) FILTER (WHERE s.status = 'graded') AS latest_graded
    FROM submissions s JOIN e ON e.id = s.enrollment_id
    GROUP BY s.enrollment_id, s.module_id
),
done AS (
    SELECT mc.enrollment_id AS eid, mc.module_id AS mid, true AS met, true AS credited
    FROM module_completions mc JOIN e ON e.id = mc.enrollment_id
    UNION ALL
    SELECT s.enrollment_id, s.module_id,
           coalesce(bool_or(g.passed AND s.attempt_no = l.latest), false),
           coalesce(bool_or(g.passed AND s.attempt_no = l.latest_graded), false)
    FROM submissions s
    JOIN latest l ON l.enrollment_id = s.enrollment_id AND l.module_id = s.module_id
    LEFT JOIN grades g ON g.submission_id = s.id AND s.status = 'graded'
    GROUP BY s.enrollment_id, s.module_id
),
hours AS (
    SELECT e.id,
           coalesce(sum(m.hours) FILTER (WHERE m.kind = 'theory' AND d.credited), 0) AS theory,
           coalesce(sum(m.hours) FILTER (WHERE m.kind = 'practical' AND d.credited), 0)
               AS practical,
           coalesce(bool_and(NOT m.required OR coalesce(d.met, false)), true) AS modules_met
    FROM e CROSS JOIN m
    LEFT JOIN done d ON d.eid = e.id AND d.mid = m.id
    GROUP BY e.id
)
SELECT h.id, h.modules_met AND h.theory >= c.min_theory_hours
             AND h.practical >= c.min_practical_hours AS eligible,
       h.theory, h.practical
FROM hours h CROSS JOIN courses c WHERE c.id = :course_id
"""

ENROLMENT_FLOOR_SQL = (
    "INSERT INTO enrollments (course_id, user_id, status, source, queued_at, activated_at, "
    "created_at, updated_at) SELECT %s, id, 'active', 'import', %s, %s, %s, %s "
    "FROM users WHERE email = %s"
)
VACUUM_SQL = "VACUUM enrollments, courses, audit_events, certificates, certificate_sequences"
CERTIFICATE_COLUMNS = (
    "serial",
    "verify_code",
    "enrollment_id",
    "course_id",
    "user_id",
    "snapshot",
    "issued_at",
    "issued_by_id",
    "expires_at",
    "status",
    "override_reason",
)
# Column names from the constant above only, no input: not an injection vector.
CERTIFICATE_FLOOR_SQL = (
    f"INSERT INTO certificates ({', '.join(CERTIFICATE_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('%s' for _ in CERTIFICATE_COLUMNS)})"
)


def measure(app, database_url: str, scale: float, log) -> list[dict]:
    """Rows 3 to 6 on the dataset of ``database_url`` (the database ``app`` uses), with
    ``max(100, 10,000 x scale)`` enrolments, import rows and certificates."""
    count = max(100, int(FULL_ROWS * scale))
    with app.app_context():
        _check_database(database_url)
        try:
            return [
                completion_row(count, log),
                import_row(count, log),
                issuance_row(count, log),
                pdf_row(log),
            ]
        finally:
            _roll_back()


# --- timing ----------------------------------------------------------------------------------


def side_by_side(
    ours: Callable[[], float], floor: Callable[[], float], runs: int
) -> tuple[float, float]:
    """Medians of ``runs`` timings of each side, taken alternately after one warm-up each.
    Each callable returns the seconds of its timed part (set-up and rollback excluded)."""
    ours(), floor()
    ours_times, floor_times = [], []
    for _ in range(runs):
        ours_times.append(ours())
        floor_times.append(floor())
    return statistics.median(ours_times), statistics.median(floor_times)


def result_row(number: int, title: str, ours: float, floor: float, limit: float, note: str):
    """A row of the benchmark table."""
    ratio = ours / floor if floor > 0 else float("inf")
    return {
        "row": number,
        "title": title,
        "ours": ours,
        "floor": floor,
        "ratio": ratio,
        "target": f"<= {limit:g}x",
        "met": ratio <= limit,
        "note": note,
    }


# The timed part of the run in progress: only there are statements attributed and is the
# profiler on (not in the set-up, the checks or the rollback and vacuum).
_WINDOW: dict = {"open": False, "profiler": None}


@contextlib.contextmanager
def measuring() -> Iterator[None]:
    """Mark the timed part of a run of ``ours`` (for ``where_time_goes`` and
    ``python_hot_spots``)."""
    profiler = _WINDOW["profiler"]
    _WINDOW["open"] = True
    if profiler is not None:
        profiler.enable()
    try:
        yield
    finally:
        if profiler is not None:
            profiler.disable()
        _WINDOW["open"] = False


def where_time_goes(run: Callable[[], float]) -> str:
    """One more run of ``run`` with every SQL statement timed: the seconds spent in
    statements, by kind (verb and table), and the rest (Python, the driver, waiting)."""
    spent: dict[str, list] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        started = conn.info.pop("bench_started", None)
        if not _WINDOW["open"] or started is None:
            return
        entry = spent.setdefault(statement_kind(statement), [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - started

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        total = run()
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    in_sql = sum(seconds for _, seconds in spent.values())
    top = sorted(spent.items(), key=lambda item: -item[1][1])[:4]
    parts = ", ".join(f"{kind} {duration(seconds)} in {n}" for kind, (n, seconds) in top)
    return (
        f"profile of one run ({duration(total)}): SQL statements {duration(in_sql)} ({parts}); "
        f"Python, driver and waits {duration(max(total - in_sql, 0))}"
    )


def python_hot_spots(run: Callable[[], float], limit: int = 4) -> str:
    """One more run of ``run`` under cProfile (CPU time): the app's functions with the most
    cumulative CPU, leaving out the service's entry point that holds it all."""
    profiler = _WINDOW["profiler"] = cProfile.Profile(time.process_time)
    try:
        run()
    finally:
        _WINDOW["profiler"] = None
    cumulative = {}
    for (path, _, name), (_, _, _, seconds, _) in pstats.Stats(profiler).stats.items():
        if f"{os.sep}lms{os.sep}" in path:
            where = path.rsplit(f"{os.sep}lms{os.sep}", 1)[1].removesuffix(".py")
            key = f"{where.replace(os.sep, '.')}.{name}"
            cumulative[key] = max(seconds, cumulative.get(key, 0.0))
    if not cumulative:
        return "no CPU in the app's code"
    top = max(cumulative.values())
    inner = sorted(
        ((s, k) for k, s in cumulative.items() if s < 0.9 * top), key=lambda item: -item[0]
    )
    spots = ", ".join(f"{name} {duration(seconds)}" for seconds, name in inner[:limit])
    return f"CPU under cProfile {duration(top)} in the app's code, of which {spots}"


def duration(seconds: float) -> str:
    """``2.13 s`` or ``7.3 ms``."""
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.1f} ms"


def statement_kind(statement: str) -> str:
    """``INSERT audit_events``, ``SELECT certificates``...: the verb and the first table of
    the statement itself (not of a subquery)."""
    words = statement.split()
    verb = words[0].upper() if words else "?"
    marker = {"INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"}.get(verb, "FROM")
    depth = 0
    for word, following in zip(words, words[1:], strict=False):
        if depth == 0 and word.upper() == marker:
            return f"{verb} {following.strip('(')}"
        depth += word.count("(") - word.count(")")
    return verb


def _check_database(database_url: str) -> None:
    """Refuse to run when the app is bound to another database than ``database_url``:
    rows 4 and 5 write (and roll back) there."""
    wanted, bound = make_url(database_url), db.engine.url
    if (wanted.host, wanted.port or 5432, wanted.database) != (
        bound.host,
        bound.port or 5432,
        bound.database,
    ):
        raise RuntimeError(f"the app uses {bound.database!r}, not {wanted.database!r}")


def _big_course() -> Course:
    course = db.session.scalar(select(Course).where(Course.code == BIG_CODE))
    if course is None:
        raise RuntimeError(f"no course {BIG_CODE}: generate the benchmark dataset first")
    return course


def _admin() -> User:
    """An admin to act as (the dataset's; else one created in the current transaction)."""
    admin = db.session.scalar(
        select(User).where(User.role == Role.ADMIN.value, User.is_active).order_by(User.id)
    )
    if admin is None:
        admin = User(email=f"bench-svc-{uuid.uuid4().hex[:8]}@bench.lms.cn", full_name="基准")
        admin.role = Role.ADMIN.value
        db.session.add(admin)
        db.session.flush()
    return admin


def _scratch_course() -> Course:
    """A fresh published course without modules, in the current transaction."""
    course = Course(
        code=f"BENCH-SVC-{uuid.uuid4().hex[:8].upper()}",
        title="基准测试临时研修班 Benchmark scratch course",
        host_institution="广东轻工职业技术学院",
        organizers=["中国职业技术教育学会"],
        location="广州",
        starts_on=date(2020, 12, 2),
        ends_on=date(2020, 12, 20),
        status=CourseStatus.PUBLISHED.value,
        certificate_validity_months=36,
    )
    db.session.add(course)
    db.session.flush()
    return course


def _roll_back() -> None:
    """Undo a run of row 4 or 5, and vacuum what it wrote. Rolled-back rows stay behind as
    dead tuples until a vacuum (autovacuum may be off, and is slow to come anyway): measured,
    a few runs of 10,000 left 300,000 dead certificate rows, and every later run (of either
    side) was slower than the one before. Vacuuming keeps the runs alike and the dataset as
    it was found."""
    db.session.rollback()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(VACUUM_SQL))


def _raw_cursor():
    """A DB-API cursor on the session's connection (inside its transaction)."""
    return db.session.connection().connection.driver_connection.cursor()


def _first_enrolments(course: Course, count: int) -> int:
    """The id of the ``count``-th active or completed enrolment of ``course`` (or of the
    last one when it has fewer)."""
    ids = select(Enrollment.id).where(
        Enrollment.course_id == course.id, Enrollment.status.in_(ISSUABLE)
    )
    last = db.session.scalar(ids.order_by(Enrollment.id).offset(count - 1).limit(1))
    return last if last is not None else db.session.scalar(select(func.max(ids.subquery().c.id)))


def _explained(row: dict, ours: Callable[[], float], log) -> dict:
    """A row that misses its target gets where the time goes in its note."""
    if not row["met"]:
        log(f"row {row['row']}: target missed, profiling one more run ...")
        row["note"] += "; " + where_time_goes(ours) + "; " + python_hot_spots(ours)
    return row


# --- row 3: completion evaluation ------------------------------------------------------------


def completion_row(count: int, log) -> dict:
    course = _big_course()
    course_id = course.id
    last_id = _first_enrolments(course, count)
    answers: dict[str, dict] = {}

    def ours() -> float:
        course = db.session.get(Course, course_id)
        stmt = completion.enrollments_query(course, ISSUABLE, None).where(Enrollment.id <= last_id)
        with measuring():
            start = time.perf_counter()
            verdicts = {
                row.id: (e.eligible, e.progress.theory_hours, e.progress.practical_hours)
                for row, e in completion.evaluated(course, stmt)
            }
            elapsed = time.perf_counter() - start
        answers["ours"] = verdicts
        return elapsed

    def floor() -> float:
        start = time.perf_counter()
        rows = db.session.execute(
            text(COMPLETION_FLOOR_SQL), {"course_id": course_id, "last_id": last_id}
        ).all()
        elapsed = time.perf_counter() - start
        answers["floor"] = {i: (bool(ok), Decimal(t), Decimal(p)) for i, ok, t, p in rows}
        return elapsed

    log(f"row 3: completion evaluation of {BIG_CODE}, first {count} enrolments ...")
    # The aggregate's row estimates are far off (a CTE joined to everything), so the server
    # would JIT-compile it: measured, 1.8 s of compiling for 0.2 s of work. The floor is
    # the aggregate at its best, so JIT is off for this transaction (both sides).
    db.session.execute(text("SET LOCAL jit = off"))
    ours_s, floor_s = side_by_side(ours, floor, runs=5)
    if answers["ours"] != answers["floor"]:
        differ = [
            i
            for i in sorted(answers["ours"].keys() | answers["floor"].keys())
            if answers["ours"].get(i) != answers["floor"].get(i)
        ]
        raise AssertionError(
            f"row 3: evaluation and SQL aggregate disagree on {len(differ)} enrolments, "
            f"e.g. {[(i, answers['ours'].get(i), answers['floor'].get(i)) for i in differ[:3]]}"
        )
    evaluated = len(answers["ours"])
    eligible = sum(1 for ok, _, _ in answers["ours"].values() if ok)
    row = result_row(
        3,
        f"completion evaluation of {evaluated} enrolments vs one SQL aggregate",
        ours_s,
        floor_s,
        3,
        f"same answer on both sides ({eligible} eligible of {evaluated}); ours also names "
        "each unmet module with its state and the missing hours (the reasons), and reads the "
        "enrolments with their users as the list pages them",
    )
    if not row["met"] and evaluated < FULL_ROWS:
        row["note"] += (
            f"; at {evaluated} enrolments the fixed cost of ours (five statements: modules, "
            "enrolments, then progress's three, against the aggregate's one) outweighs the "
            f"per-enrolment work that the target is about ({FULL_ROWS:,} enrolments)"
        )
    return _explained(row, ours, log)


# --- row 4: roster import --------------------------------------------------------------------


def roster_csv(course: Course, count: int) -> bytes:
    """A roster of ``count`` existing teachers (those enrolled in ``course``), as a CSV
    with their current names: the import creates and updates no account, only enrols."""
    people = db.session.execute(
        select(User.email, User.full_name)
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.course_id == course.id)
        .order_by(Enrollment.id)
        .limit(count)
    ).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "full_name"])
    writer.writerows(people)
    return out.getvalue().encode()


def import_row(count: int, log) -> dict:
    data = roster_csv(_big_course(), count)
    enrolled: dict[str, set] = {}

    def placed(course_id: int) -> set:
        return set(
            db.session.execute(
                select(Enrollment.user_id, Enrollment.status, Enrollment.source).where(
                    Enrollment.course_id == course_id
                )
            ).all()
        )

    def ours() -> float:
        try:
            actor, course = _admin(), _scratch_course()
            with measuring():
                start = time.perf_counter()
                report = imports.import_roster(course, data, dry_run=False, actor=actor)
                db.session.flush()
                elapsed = time.perf_counter() - start
            if report["enrolled"] != count or report["created"]:
                raise AssertionError(f"row 4: unexpected import report {report}")
            enrolled["ours"] = placed(course.id)
            return elapsed
        finally:
            _roll_back()

    def floor() -> float:
        try:
            course_id = _scratch_course().id
            cursor = _raw_cursor()
            start = time.perf_counter()
            now = utcnow()
            rows = list(csv.reader(io.StringIO(data.decode())))[1:]
            cursor.executemany(
                ENROLMENT_FLOOR_SQL, [(course_id, now, now, now, now, email) for email, _ in rows]
            )
            elapsed = time.perf_counter() - start
            enrolled["floor"] = placed(course_id)
            return elapsed
        finally:
            _roll_back()

    log(f"row 4: roster import of {count} rows (rolled back after each run) ...")
    ours_s, floor_s = side_by_side(ours, floor, runs=3)
    if enrolled["ours"] != enrolled["floor"] or len(enrolled["ours"]) != count:
        raise AssertionError("row 4: the import and the floor enrolled different rows")
    row = result_row(
        4,
        f"roster import of {count} rows vs raw executemany",
        ours_s,
        floor_s,
        2,
        "floor: one INSERT ... SELECT per CSV row (email to user id in the statement), "
        "pipelined by psycopg; ours also validates every row, locks the course, takes the "
        "seats and appends one audit event per enrolment",
    )
    return _explained(row, ours, log)


# --- row 5: bulk issuance --------------------------------------------------------------------


def _course_with_enrolments(count: int) -> Course:
    """A scratch course holding active enrolments of the first ``count`` teachers of
    ``BENCH-BIG``; it has no modules, so every enrolment is eligible."""
    big_id = _big_course().id
    course = _scratch_course()
    db.session.execute(
        text(
            "INSERT INTO enrollments (course_id, user_id, status, source, queued_at, "
            "activated_at, created_at, updated_at) "
            "SELECT :course_id, user_id, 'active', 'admin', now(), now(), now(), now() "
            "FROM enrollments WHERE course_id = :big_id ORDER BY id LIMIT :count"
        ),
        {"course_id": course.id, "big_id": big_id, "count": count},
    )
    db.session.execute(
        text("UPDATE courses SET seats_taken = :count WHERE id = :id"),
        {"count": count, "id": course.id},
    )
    db.session.refresh(course)
    return course


def _certificate_rows(course_id: int) -> list[dict]:
    rows = db.session.execute(
        select(*(getattr(Certificate, c) for c in CERTIFICATE_COLUMNS)).where(
            Certificate.course_id == course_id
        )
    ).all()
    return [dict(zip(CERTIFICATE_COLUMNS, row, strict=True)) for row in rows]


def issuance_row(count: int, log) -> dict:
    written: dict[str, list[dict]] = {}

    def ours() -> float:
        try:
            actor, course = _admin(), _course_with_enrolments(count)
            with measuring():
                start = time.perf_counter()
                result = issuance.issue_certificates(course, actor=actor)
                db.session.flush()
                elapsed = time.perf_counter() - start
            if len(result["issued"]) != count or result["skipped"]:
                raise AssertionError(
                    f"row 5: issued {len(result['issued'])}, skipped {len(result['skipped'])}"
                )
            written["ours"] = _certificate_rows(course.id)
            return elapsed
        finally:
            _roll_back()

    def floor() -> float:
        try:
            course = _course_with_enrolments(count)
            enrolment_of = dict(
                db.session.execute(
                    select(Enrollment.user_id, Enrollment.id).where(
                        Enrollment.course_id == course.id
                    )
                ).all()
            )
            source = written["ours"]
            cursor = _raw_cursor()
            start = time.perf_counter()
            cursor.executemany(
                CERTIFICATE_FLOOR_SQL,
                [
                    (
                        *(row[c] for c in CERTIFICATE_COLUMNS[:2]),
                        enrolment_of[row["user_id"]],
                        course.id,
                        row["user_id"],
                        json.dumps(row["snapshot"], ensure_ascii=False),
                        *(row[c] for c in CERTIFICATE_COLUMNS[6:]),
                    )
                    for row in source
                ],
            )
            elapsed = time.perf_counter() - start
            written["floor"] = _certificate_rows(course.id)
            return elapsed
        finally:
            _roll_back()

    log(f"row 5: bulk issuance of {count} certificates (rolled back after each run) ...")
    ours_s, floor_s = side_by_side(ours, floor, runs=3)
    if len(written["floor"]) != count or len(written["ours"]) != count:
        raise AssertionError("row 5: the service and the floor wrote different row counts")
    row = result_row(
        5,
        f"bulk issuance of {count} certificates (no PDF) vs raw INSERT",
        ours_s,
        floor_s,
        3,
        "floor: executemany INSERT of the very rows the service wrote (serials, codes, "
        "snapshots given); ours also evaluates eligibility, completes the enrolments, "
        "reserves serials, builds snapshots and appends one audit event per certificate",
    )
    return _explained(row, ours, log)


# --- row 6: PDF rendering --------------------------------------------------------------------


def sample_certificate() -> Certificate:
    """An unsaved certificate of a ``BENCH-BIG`` teacher (nothing is written)."""
    course = _big_course()
    user = db.session.scalar(
        select(User)
        .join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.course_id == course.id)
        .order_by(Enrollment.id)
        .limit(1)
    )
    now = utcnow()
    return Certificate(
        serial=issuance.format_serial(course, now.year, 1),
        verify_code=issuance.new_verify_code(),
        snapshot=build_snapshot(
            user, course, theory_hours=Decimal("14"), practical_hours=Decimal("12")
        ),
        issued_at=now,
        expires_at=issuance.expiry_for(course, now),
        status="valid",
    )


def certificate_lines(certificate: Certificate) -> list[str]:
    """Every text the certificate states, one line each (the floor's page)."""
    snap = certificate.snapshot
    return [
        snap.get("certificate_title") or "结业证书",
        "CERTIFICATE  OF  COMPLETION",
        snap.get("holder_name") or "",
        snap.get("holder_name_en") or "",
        f"工作单位 Institution：{snap.get('institution') or ''}",
        certificate_pdf._chinese_body(snap),
        certificate_pdf._english_body(snap),
        f"主办单位 Organisers：{'、'.join(snap.get('organizers') or [])}",
        f"承办单位 Host：{snap.get('host_institution') or ''}",
        f"证书编号 Serial No.：{certificate.serial}",
        f"发证单位 Issuer：{snap.get('issuer') or ''}",
        f"负责人 Signatory：{snap.get('signatory') or ''}",
        "扫码验证 Scan to verify",
        f"在线验证 Verify online: {verify_url(certificate.verify_code)}",
    ]


def bare_pdf(certificate: Certificate, font: str) -> bytes:
    """The floor: one reportlab page, every line drawn as it is (no wrapping, no layout),
    the QR code of the verify URL (segno, as the app) filled as one path."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=landscape(A4), invariant=1, pageCompression=1)
    y = 540
    for line in certificate_lines(certificate):
        canvas.setFont(font, 11)
        canvas.drawString(40, y, line)
        y -= 24
    matrix = segno.make(verify_url(certificate.verify_code), error="m", micro=False).matrix
    path = canvas.beginPath()
    size = len(matrix)
    for row_no, row in enumerate(matrix):
        for col, dark in enumerate(row):
            if dark:
                path.rect(700 + col * 2, 60 + (size - row_no) * 2, 2, 2)
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def pdf_row(log) -> dict:
    certificate = sample_certificate()
    font = certificate_font()
    pages: dict[str, bytes] = {}

    def ours() -> float:
        start = time.perf_counter()
        pages["ours"] = certificate_pdf.render_certificate_pdf(certificate)
        return time.perf_counter() - start

    def floor() -> float:
        start = time.perf_counter()
        pages["floor"] = bare_pdf(certificate, font.name)
        return time.perf_counter() - start

    log("row 6: certificate PDF rendering ...")
    ours_s, floor_s = side_by_side(ours, floor, runs=15)
    fonts = {side: set(re.findall(rb"/BaseFont /(\S+)", data)) for side, data in pages.items()}
    if fonts["ours"] != fonts["floor"] or not all(p.startswith(b"%PDF-") for p in pages.values()):
        raise AssertionError(f"row 6: the two PDFs use different fonts: {fonts}")
    embedded = f"embedded subset of {font.path}" if font.embedded else "not embedded (fallback)"
    return result_row(
        6,
        "certificate PDF rendering vs bare reportlab page",
        ours_s,
        floor_s,
        1.5,
        f"same text, font ({embedded}) and QR on both; ours also lays out, wraps and "
        f"frames the page ({len(pages['ours'])} vs {len(pages['floor'])} bytes)",
    )

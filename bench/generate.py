"""The national-scale dataset, generated with set-based SQL on PostgreSQL.

At ``scale=1.0``: 100k users (1 admin, 2% instructors, the rest teachers), 1k courses of
six modules (three theory of 2 h, three practical of 4 h with a two-criterion rubric), one
course ``BENCH-BIG`` with 10k active enrolments, about 340 enrolments in every other
course, about 1M theory completions, 200k submissions with their grades, and about 40k
certificates. Every smaller scale divides every count (with small floors), so
``scale=0.01`` is the "100 times smaller" dataset of benchmark row 2.

The data goes through the real schema (Alembic upgrade) and its constraints; nothing is
disabled. Progress is pseudo-random but deterministic: an enrolment's "level"
``h = (id * 2654435761) % 1000 / 10`` (Knuth's multiplicative hash) decides how far it got:

* theory: ``h < 70`` completed all three modules, ``h < 90`` two, otherwise one;
* practicals: ``h < F`` submitted all three and passed them (so it is eligible), ``F <= h <
  F+5`` failed the first, ``F+5 <= h < F+20`` submitted the first and waits in the
  grading queue; ``F`` is 40 in BENCH-BIG and 12 elsewhere;
* in the other courses the eligible enrolments are completed and hold a valid certificate;
  BENCH-BIG's are all still active, for the completion and issuance benchmarks.

The generator writes no audit events of its own except one ``bench.dataset_generated``
appended through ``lms.audit`` at the end, so the hash chain verifies.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import click
import psycopg
from sqlalchemy.engine import make_url

SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
FULL_DB, SMALL_DB = "lms_bench", "lms_bench_small"
BIG_CODE = "BENCH-BIG"
ADMIN_EMAIL = "bench-admin@bench.lms.cn"

SURNAMES = [
    ("李", "Li"), ("王", "Wang"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"),
    ("杨", "Yang"), ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"),
    ("徐", "Xu"), ("孙", "Sun"), ("马", "Ma"), ("朱", "Zhu"), ("胡", "Hu"),
    ("郭", "Guo"), ("何", "He"), ("林", "Lin"), ("罗", "Luo"), ("高", "Gao"),
]  # fmt: skip
GIVEN = [
    ("明", "Ming"), ("娜", "Na"), ("伟", "Wei"), ("芳", "Fang"), ("静", "Jing"),
    ("磊", "Lei"), ("敏", "Min"), ("强", "Qiang"), ("洋", "Yang"), ("勇", "Yong"),
    ("艳", "Yan"), ("杰", "Jie"), ("涛", "Tao"), ("超", "Chao"), ("军", "Jun"),
    ("平", "Ping"), ("刚", "Gang"), ("桂英", "Guiying"), ("建华", "Jianhua"),
    ("晓东", "Xiaodong"), ("海燕", "Haiyan"), ("志强", "Zhiqiang"), ("丽", "Li"),
    ("鹏", "Peng"), ("婷", "Ting"), ("宇", "Yu"), ("浩", "Hao"), ("欣", "Xin"),
    ("凯", "Kai"), ("琳", "Lin"),
]  # fmt: skip
INSTITUTIONS = [
    "广东轻工职业技术学院", "深圳职业技术大学", "广州番禺职业技术学院", "南京工业职业技术大学",
    "无锡职业技术学院", "浙江机电职业技术大学", "天津职业技术师范大学", "重庆工业职业技术学院",
    "山东商业职业技术学院", "武汉职业技术学院",
]  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    """Row counts for one scale."""

    scale: float
    users: int
    instructors: int
    courses: int
    big_enrollments: int
    per_course: int

    @property
    def teachers(self) -> int:
        return self.users - self.instructors - 1

    @classmethod
    def for_scale(cls, scale: float) -> Sizes:
        if not 0 < scale <= 1:
            raise click.BadParameter("scale must be in (0, 1]")
        users = max(300, round(100_000 * scale))
        courses = max(5, round(1_000 * scale))
        per_course = min(340, max(10, round(340_000 * scale / (courses - 1))))
        instructors = max(4, round(users * 0.02))
        per_course = min(per_course, users - instructors - 2)
        return cls(
            scale=scale,
            users=users,
            instructors=instructors,
            courses=courses,
            big_enrollments=max(20, round(10_000 * scale)),
            per_course=per_course,
        )


def server_url() -> str:
    """The PostgreSQL server (no database): BENCH_PG_URL, default the local postgres."""
    return os.environ.get("BENCH_PG_URL", SERVER_URL).rstrip("/")


def database_url(name: str) -> str:
    """URL of the benchmark database ``name``; BENCH_DATABASE_URL overrides the full one."""
    if name == FULL_DB and os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"]
    return f"{server_url()}/{name}"


def libpq(url: str) -> str:
    """A SQLAlchemy-style URL as psycopg takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def recreate_database(url: str) -> None:
    """Drop and create the database of ``url`` (connecting to the server's ``postgres``)."""
    parsed = make_url(url)
    name = parsed.database
    admin = libpq(parsed.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def migrate(url: str) -> None:
    """The schema, through the project's Alembic revisions."""
    from flask_migrate import upgrade

    from lms.app import create_app
    from lms.extensions import db

    app = create_app({"LMS_ENV": "testing", "SQLALCHEMY_DATABASE_URI": _sqlalchemy(url)})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _sqlalchemy(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


# --- the SQL steps ---------------------------------------------------------------------------
# Parameters: %(users)s, %(instructors)s, %(teachers)s, %(courses)s, %(big)s, %(per_course)s,
# %(surnames)s, %(surnames_en)s, %(given)s, %(given_en)s, %(institutions)s.
# Users: id 1 is the admin, 2 .. instructors+1 instructors, then teachers (teacher k has id
# instructors + 2 + k). Course 1 is BENCH-BIG. Module (c, p) has id (c - 1) * 6 + p.

# Constant SQL fragments, put in place of {LEVEL} and {FULL} in the steps by ``_sql``.
FRAGMENTS = {
    "{LEVEL}": "((e.id::bigint * 2654435761) %% 1000) / 10.0",
    "{FULL}": "(CASE WHEN e.course_id = 1 THEN 40 ELSE 12 END)",
}


def _sql(template: str) -> str:
    for name, fragment in FRAGMENTS.items():
        template = template.replace(name, fragment)
    return template


STEPS: list[tuple[str, str]] = [
    (
        "users",
        """
        INSERT INTO users (id, email, full_name, full_name_en, role, institution, department,
                           title, staff_no, is_active, created_at, updated_at)
        SELECT n,
               CASE WHEN n = 1 THEN 'bench-admin@bench.lms.cn'
                    WHEN n <= %(instructors)s + 1
                        THEN 'bench-i' || lpad(n::text, 5, '0') || '@bench.lms.cn'
                    ELSE 'bench-t' || lpad(n::text, 6, '0') || '@bench.lms.cn' END,
               (%(surnames)s::text[])[1 + n %% 20] || (%(given)s::text[])[1 + (n / 20) %% 30],
               (%(surnames_en)s::text[])[1 + n %% 20] || ' '
                   || (%(given_en)s::text[])[1 + (n / 20) %% 30],
               CASE WHEN n = 1 THEN 'admin' WHEN n <= %(instructors)s + 1 THEN 'instructor'
                    ELSE 'teacher' END,
               (%(institutions)s::text[])[1 + n %% 10], '智能制造学院', '讲师',
               'T' || lpad(n::text, 6, '0'), true, now(), now()
        FROM generate_series(1, %(users)s) AS n
        """,
    ),
    (
        "courses",
        """
        INSERT INTO programs (id, code, title, organizers, description, created_at, updated_at)
        VALUES (1, 'BENCH-PROG', '工业互联网产教融合教师研修·全国行',
                '["中国职业技术教育学会", "中国工业互联网研究院"]', NULL, now(), now());
        INSERT INTO courses (id, code, title, program_id, host_institution, organizers, location,
                             starts_on, ends_on, capacity, seats_taken, waitlist_enabled,
                             self_enrollment, status, min_theory_hours, min_practical_hours,
                             grade_release, certificate_title, certificate_issuer,
                             published_at, created_at, updated_at)
        SELECT c,
               CASE WHEN c = 1 THEN 'BENCH-BIG' ELSE 'BENCH-' || lpad(c::text, 4, '0') END,
               format('工业互联网教师研修·第%%s站', c), 1,
               (%(institutions)s::text[])[1 + c %% 10], '["中国职业技术教育学会"]',
               '广州', DATE '2026-03-01' + (c %% 200), DATE '2026-03-31' + (c %% 200),
               NULL, 0, false, true, 'published', 6, 12, 'immediate', '结业证书',
               (%(institutions)s::text[])[1 + c %% 10], now(), now(), now()
        FROM generate_series(1, %(courses)s) AS c;
        INSERT INTO modules (id, course_id, kind, title, content, content_html, resources,
                             position, hours, required, brief, brief_html, pass_points, due_at,
                             max_attempts, reopen, created_at, updated_at)
        SELECT (c - 1) * 6 + p, c,
               CASE WHEN p <= 3 THEN 'theory' ELSE 'practical' END,
               CASE WHEN p <= 3 THEN format('理论模块 %%s：工业互联网平台', p)
                    ELSE format('实训模块 %%s：设备上云', p - 3) END,
               '学习内容', E'<p>学习内容</p>\n', '[]', p, CASE WHEN p <= 3 THEN 2 ELSE 4 END,
               true, CASE WHEN p > 3 THEN '完成实训任务并提交报告' END,
               CASE WHEN p > 3 THEN E'<p>完成实训任务并提交报告</p>\n' END,
               CASE WHEN p > 3 THEN 60 END,
               CASE WHEN p > 3 THEN TIMESTAMPTZ '2026-06-30 16:00:00+00'
                                    + (c %% 200) * INTERVAL '1 day' END,
               CASE WHEN p > 3 THEN 3 END,
               CASE WHEN p > 3 THEN 'until_pass' END,
               now(), now()
        FROM generate_series(1, %(courses)s) AS c, generate_series(1, 6) AS p;
        INSERT INTO rubric_criteria (module_id, position, title, description, max_points)
        SELECT m.id, r.pos, r.title, NULL, r.max_points
        FROM modules AS m,
             (VALUES (1, '方案设计', 40), (2, '实操完成', 60)) AS r (pos, title, max_points)
        WHERE m.kind = 'practical';
        INSERT INTO course_instructors (course_id, user_id, assigned_at)
        SELECT c, 2 + ((2 * c + k) %% %(instructors)s), now()
        FROM generate_series(1, %(courses)s) AS c, generate_series(0, 1) AS k;
        """,
    ),
    (
        "enrolments",
        """
        INSERT INTO enrollments (course_id, user_id, status, source, queued_at, activated_at,
                                 created_at, updated_at)
        SELECT 1, %(instructors)s + 2 + k, 'active', 'import',
               TIMESTAMPTZ '2026-02-01 00:00:00+00' + k * INTERVAL '1 second',
               TIMESTAMPTZ '2026-02-01 00:00:00+00' + k * INTERVAL '1 second', now(), now()
        FROM generate_series(0, %(big)s - 1) AS k;
        INSERT INTO enrollments (course_id, user_id, status, source, queued_at, activated_at,
                                 created_at, updated_at)
        SELECT c, %(instructors)s + 2 + ((c * 7919 + k) %% %(teachers)s), 'active', 'self',
               TIMESTAMPTZ '2026-02-01 00:00:00+00' + (c * 1000 + k) * INTERVAL '1 second',
               TIMESTAMPTZ '2026-02-01 00:00:00+00' + (c * 1000 + k) * INTERVAL '1 second',
               now(), now()
        FROM generate_series(2, %(courses)s) AS c, generate_series(0, %(per_course)s - 1) AS k;
        """,
    ),
    (
        "theory progress",
        """
        INSERT INTO module_completions (enrollment_id, module_id, how, completed_at)
        SELECT e.id, (e.course_id - 1) * 6 + p, 'manual',
               e.activated_at + p * INTERVAL '2 days'
        FROM enrollments AS e, generate_series(1, 3) AS p
        WHERE p <= CASE WHEN {LEVEL} < 70 THEN 3 WHEN {LEVEL} < 90 THEN 2 ELSE 1 END;
        """,
    ),
    (
        "submissions",
        """
        INSERT INTO submissions (enrollment_id, module_id, course_id, attempt_no, text,
                                 submitted_at, late, status)
        SELECT e.id, (e.course_id - 1) * 6 + 3 + p, e.course_id, 1, '实训报告',
               e.activated_at + (10 + p) * INTERVAL '1 day' + (e.id %% 86400) * INTERVAL '1 s',
               false,
               CASE WHEN {LEVEL} < {FULL} + 5 THEN 'graded' ELSE 'submitted' END
        FROM enrollments AS e, generate_series(1, 3) AS p
        WHERE {LEVEL} < {FULL} OR (p = 1 AND {LEVEL} < {FULL} + 20);
        """,
    ),
    (
        "grades",
        """
        INSERT INTO grades (submission_id, scores, total_points, passed, feedback,
                            feedback_html, grader_id, graded_at, returned_for_revision, version)
        SELECT s.id,
               json_build_array(
                   json_build_object('criterion_id', r1.id, 'points', x.p1),
                   json_build_object('criterion_id', r2.id, 'points', x.p2)),
               x.p1 + x.p2, x.p1 + x.p2 >= 60, '完成良好', '<p>完成良好</p>', ci.user_id,
               s.submitted_at + INTERVAL '2 days', false, 1
        FROM submissions AS s
        JOIN enrollments AS e ON e.id = s.enrollment_id
        JOIN rubric_criteria AS r1 ON r1.module_id = s.module_id AND r1.position = 1
        JOIN rubric_criteria AS r2 ON r2.module_id = s.module_id AND r2.position = 2
        JOIN LATERAL (SELECT min(user_id) AS user_id FROM course_instructors
                      WHERE course_id = s.course_id) AS ci ON true
        CROSS JOIN LATERAL (
            SELECT CASE WHEN {LEVEL} < {FULL} THEN 30 + e.id %% 11 ELSE 10 END AS p1,
                   CASE WHEN {LEVEL} < {FULL} THEN 40 + e.id %% 21 ELSE 20 END AS p2
        ) AS x
        WHERE s.status = 'graded';
        """,
    ),
    (
        "certificates",
        """
        UPDATE enrollments AS e
        SET status = 'completed', completed_at = e.activated_at + INTERVAL '40 days'
        WHERE e.course_id <> 1 AND {LEVEL} < {FULL};
        INSERT INTO certificates (serial, verify_code, enrollment_id, course_id, user_id,
                                  snapshot, issued_at, issued_by_id, status)
        SELECT co.code || '-2026-' || lpad(
                   (row_number() OVER (PARTITION BY e.course_id ORDER BY e.id))::text, 5, '0'),
               replace(gen_random_uuid()::text, '-', '')
                   || substr(replace(gen_random_uuid()::text, '-', ''), 1, 11),
               e.id, e.course_id, e.user_id,
               json_build_object(
                   'holder_name', u.full_name, 'holder_name_en', u.full_name_en,
                   'holder_email', u.email, 'institution', u.institution,
                   'course_code', co.code, 'course_title', co.title,
                   'program_title', p.title, 'host_institution', co.host_institution,
                   'organizers', co.organizers, 'location', co.location,
                   'starts_on', co.starts_on, 'ends_on', co.ends_on,
                   'theory_hours', 6.0, 'practical_hours', 12.0, 'total_hours', 18.0,
                   'certificate_title', co.certificate_title,
                   'issuer', co.certificate_issuer, 'signatory', NULL),
               e.completed_at, 1, 'valid'
        FROM enrollments AS e
        JOIN users AS u ON u.id = e.user_id
        JOIN courses AS co ON co.id = e.course_id
        LEFT JOIN programs AS p ON p.id = co.program_id
        WHERE e.status = 'completed';
        INSERT INTO certificate_sequences (course_id, year, last_no)
        SELECT course_id, 2026, count(*) FROM certificates GROUP BY course_id;
        """,
    ),
    (
        "counters and sequences",
        """
        UPDATE courses AS c SET seats_taken = s.n
        FROM (SELECT course_id, count(*) AS n FROM enrollments
              WHERE status IN ('active', 'completed') GROUP BY course_id) AS s
        WHERE s.course_id = c.id;
        SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
        SELECT setval(pg_get_serial_sequence('programs', 'id'), 1);
        SELECT setval(pg_get_serial_sequence('courses', 'id'), (SELECT max(id) FROM courses));
        SELECT setval(pg_get_serial_sequence('modules', 'id'), (SELECT max(id) FROM modules));
        """,
    ),
]


def _parameters(sizes: Sizes) -> dict:
    return {
        "users": sizes.users,
        "instructors": sizes.instructors,
        "teachers": sizes.teachers,
        "courses": sizes.courses,
        "big": sizes.big_enrollments,
        "per_course": sizes.per_course,
        "surnames": [s for s, _ in SURNAMES],
        "surnames_en": [e for _, e in SURNAMES],
        "given": [g for g, _ in GIVEN],
        "given_en": [e.lower() for _, e in GIVEN],
        "institutions": INSTITUTIONS,
    }


COUNTED = (
    "users",
    "courses",
    "modules",
    "enrollments",
    "module_completions",
    "submissions",
    "grades",
    "certificates",
)


def table_counts(url: str) -> dict[str, int]:
    """Rows per generated table."""
    with psycopg.connect(libpq(url)) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED}  # noqa: S608


def _record_generated(url: str, sizes: Sizes, counts: dict) -> None:
    """Append one audit event through lms.audit, so the chain the app extends is valid."""
    from lms.app import create_app
    from lms.audit import services as audit
    from lms.extensions import db

    app = create_app({"LMS_ENV": "testing", "SQLALCHEMY_DATABASE_URI": _sqlalchemy(url)})
    with app.app_context():
        audit.record(
            "bench.dataset_generated", "dataset", None, data={"sizes": asdict(sizes), **counts}
        )
        db.session.commit()
        db.engine.dispose()


def generate(url: str, scale: float, *, log=click.echo) -> dict:
    """Recreate the database of ``url`` and fill it at ``scale``; return the row counts."""
    sizes = Sizes.for_scale(scale)
    started = time.perf_counter()
    log(f"generating {make_url(url).database} at scale {scale}: {sizes}")
    recreate_database(url)
    migrate(url)
    params = _parameters(sizes)
    with psycopg.connect(libpq(url)) as conn:
        conn.execute("SET synchronous_commit = off")
        with click.progressbar(
            STEPS, label="  dataset", item_show_func=lambda s: s and s[0], show_pos=True
        ) as bar:
            for _name, sql in bar:
                for statement in filter(str.strip, _sql(sql).split(";\n")):
                    conn.execute(statement, params)
                conn.commit()
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")  # visibility map and statistics, as autovacuum would
    counts = table_counts(url)
    _record_generated(url, sizes, counts)
    log(f"  {counts} in {time.perf_counter() - started:.0f} s")
    return counts


def small_scale(scale: float) -> float:
    """The scale of the comparison dataset: 100 times smaller."""
    return scale / 100


def describe(counts: dict) -> str:
    """ "100,000 users, ..." for the report."""
    return ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in counts.items())


__all__ = ["Sizes", "generate", "database_url", "FULL_DB", "SMALL_DB", "BIG_CODE"]

"""Fault tests (issue 6): a failure in the middle of a request leaves nothing behind.

Every test here commits for real (marker ``real_db``). The rolled-back test transaction
of the other tests would hide exactly what is checked here: with it, a request's "commit"
is only a savepoint release, and what a failed request half wrote could still be seen (or
be rolled back by the fixture rather than by the app). So the state is compared through a
fresh connection, against the real database, before and after the failed request.

Mid-service failures. For each write path (enrolment, withdrawal with waitlist promotion,
user import, roster import, submission with files, first grade, regrade, single and bulk
certificate issuance, reissue, the first PDF download) a later step of the service (the
audit append, or building the download) is made to fail after the first writes have
happened; the hook checks that they have (the transaction's view of the database already
differs). The failure is one of

- ``error``: an unexpected exception -> the generic 500 problem;
- ``operational``: a database error (``OperationalError``) -> 503 with Retry-After;
- ``invalidated``: another DBAPI error class on a connection SQLAlchemy invalidated -> 503;
- ``killed`` (PostgreSQL): the backend serving the request is terminated from a second
  connection (``pg_terminate_backend``) and the service carries on, so its next statement
  meets the dead connection -> 503;
- ``killed_at_commit`` (PostgreSQL): the same, just before the request's commit;
- ``idle_timeout`` (PostgreSQL): the server itself ends the session in flight
  (``idle_in_transaction_session_timeout``; psycopg raises an InternalError) -> 503.

Then: the answer is a clean problem+json without internals, every table holds exactly
the rows it held before, no stored file is left behind, and the same request sent again
(the fault disarmed) succeeds on the same app: the pool gave it a live connection.

Pool tests (PostgreSQL): connections killed while idle in the pool are replaced without
the client noticing (``pool_pre_ping``); the negative control without pre-ping shows what
it saves: a 503 for the first request after the kill. An unreachable database (SQLite and
PostgreSQL URLs) answers 503 on API requests while /healthz stays up and /readyz says 503.
"""

from __future__ import annotations

import io
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, select, text, update
from sqlalchemy.exc import InternalError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from lms.accounts.models import User
from lms.app import create_app
from lms.audit import services as audit_services
from lms.catalog.models import Course
from lms.certificates import pdf as certificate_pdf
from lms.certificates.models import Certificate
from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.practicals.models import Grade, GradeRevision, Submission
from tests import evidence
from tests.builders import UserFactory
from tests.enrollments.test_roster_import import csv_bytes, roster, upload
from tests.http import (
    ApiClient,
    assert_problem,
    certificate_course,
    client_for,
    eligible_enrollment,
    issued_certificate,
    make_course,
    practical_setup,
    submit,
    submitted,
)
from tests.payloads import COURSE, THEORY

pytestmark = pytest.mark.real_db

SECRET = "injected-fault-7f1c password=hunter2"
LEAKS = ("Traceback", "hunter2", "injected-fault", "RuntimeError", "OperationalError", "psycopg")
_codes = itertools.count(1)


# --- the database and the upload folder, seen from outside the request ------------------------


def db_state(connection) -> dict[str, list[str]]:
    """Every row of every table (as sorted reprs): equal states mean equal databases."""
    return {
        table.name: sorted(repr(tuple(row)) for row in connection.execute(table.select()))
        for table in db.metadata.sorted_tables
    }


def committed_state(app) -> dict[str, list[str]]:
    """The committed state, read through a connection of its own."""
    with app.app_context(), db.engine.connect() as connection:
        return db_state(connection)


def stored_files(app) -> set[str]:
    root = Path(app.config["LMS_UPLOAD_DIR"])
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


# --- killing backends -------------------------------------------------------------------------


@pytest.fixture
def admin_engine(app):
    """A connection to the test database outside the app's pool (for pg_terminate_backend)."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)
    yield engine
    engine.dispose()


def terminate(admin_engine, pids) -> int:
    """Terminate the backends ``pids`` and wait until they are gone; how many were."""
    with admin_engine.connect() as connection:
        return sum(
            bool(
                connection.execute(text("SELECT pg_terminate_backend(:p, 5000)"), {"p": p}).scalar()
            )
            for p in pids
        )


def wait_until_gone(admin_engine, pid: int, deadline: float = 10.0) -> None:
    """Wait (bounded) until backend ``pid`` has exited."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p")
    end = time.monotonic() + deadline
    # Autocommit: pg_stat_activity is a snapshot per transaction.
    with admin_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while connection.execute(query, {"p": pid}).scalar_one():
            assert time.monotonic() < end, f"backend {pid} still alive"
            time.sleep(0.01)


def idle_backends(admin_engine) -> list[int]:
    """The other backends connected to the test database: the app's pooled connections."""
    with admin_engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
        )


# --- the fault --------------------------------------------------------------------------------

KINDS = [
    pytest.param("error", id="error"),
    pytest.param("operational", id="operational"),
    pytest.param("invalidated", id="invalidated"),
    pytest.param("killed", id="killed", marks=pytest.mark.postgres),
    pytest.param("killed_at_commit", id="killed_at_commit", marks=pytest.mark.postgres),
    pytest.param("idle_timeout", id="idle_timeout", marks=pytest.mark.postgres),
]


@dataclass
class Fault:
    """A failure injected into the request in flight, after its first writes."""

    app: object
    kind: str
    admin_engine: object
    inflight: dict | None = None
    files_inflight: set[str] = field(default_factory=set)
    fired: int = 0
    armed: bool = False

    def strike(self, session) -> None:
        """Called at the failure point, inside the request's transaction."""
        self.fired += 1
        self.armed = False
        self.inflight = db_state(session.connection())
        self.files_inflight = stored_files(self.app)
        if self.kind == "error":
            raise RuntimeError(SECRET)
        if self.kind == "operational":
            raise OperationalError("SELECT 1", {}, Exception(SECRET))
        if self.kind == "invalidated":  # a lost connection reported under another class
            raise InternalError("SELECT 1", {}, Exception(SECRET), connection_invalidated=True)
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        if self.kind == "idle_timeout":
            # The server ends the session itself: psycopg reports that as an InternalError
            # (SQLSTATE 25P03), not an OperationalError, on a connection now invalidated.
            session.execute(text("SET LOCAL idle_in_transaction_session_timeout = '10ms'"))
            wait_until_gone(self.admin_engine, pid)
        else:
            assert terminate(self.admin_engine, [pid]) == 1
        # The request goes on with a dead connection: its next statement (or its commit)
        # meets it, as when the server or the network drops a connection mid-request.

    def wrap(self, original: Callable, when: Callable[..., bool]) -> Callable:
        def failing(*args, **kwargs):
            if self.armed and self.kind != "killed_at_commit" and when(*args, **kwargs):
                self.strike(db.session)
            return original(*args, **kwargs)

        return failing

    def before_commit(self, session) -> None:
        # Fired for savepoints too (begin_nested); only the request's own commit counts.
        outermost = session.get_nested_transaction() is None
        if self.armed and self.kind == "killed_at_commit" and outermost:
            session.flush()
            self.strike(session)


def assert_clean_failure(response, kind: str) -> None:
    """A problem+json answer, 500 or 503 with Retry-After, with nothing of the internals."""
    if kind == "error":
        body = assert_problem(response, 500, "internal-error")
    else:
        body = assert_problem(response, 503, "database-unavailable")
        assert int(response.headers["Retry-After"]) > 0
    assert re.fullmatch(r"[0-9a-f]{32}", body["error_id"]), body
    payload = response.get_data(as_text=True)
    for leak in LEAKS:
        assert leak not in payload, payload


# --- the people and the scenarios -------------------------------------------------------------


@dataclass
class World:
    app: object
    factory: UserFactory
    admin: ApiClient
    admin_email: str

    def teacher(self, **fields) -> tuple[int, ApiClient]:
        with self.app.app_context():
            user = self.factory.create(role="teacher", **fields)
            user_id, email = user.id, user.email
        return user_id, client_for(self.app, email, own_address=True)


@pytest.fixture
def world(app):
    factory = UserFactory()
    with app.app_context():
        email = factory.create(role="admin", full_name="王教务").email
    yield World(app, factory, client_for(app, email, own_address=True), email)
    # Before the real_db clean-up empties the tables: a reissued certificate and the one
    # it replaces point at each other, which SQLite's row-by-row foreign keys refuse to
    # delete in one statement.
    with app.app_context():
        db.session.execute(update(Certificate).values(replaces_id=None, replaced_by_id=None))
        db.session.commit()


@dataclass
class Scenario:
    """A write request, where it is made to fail, and what must then hold."""

    send: Callable[[], object]
    ok: int
    target: tuple[object, str]  # (module, function) called after the first writes
    when: Callable[..., bool]
    untouched: Callable[[], None]  # checks in the app's session that nothing was written
    done: Callable[[object], None]  # checks the successful retry's answer


def _first_action(action: str) -> Callable[..., bool]:
    """``when`` for audit.record_many: the batch starts with ``action``."""
    return lambda events, **kw: bool(events) and events[0].action == action


def _action(action: str) -> Callable[..., bool]:
    """``when`` for audit.record: the event is ``action``."""
    return lambda name, *a, **kw: name == action


def count(model, *where) -> int:
    return len(db.session.scalars(select(model.id).where(*where)).all())


def enrolment(world: World) -> Scenario:
    course = make_course(
        world.admin,
        [THEORY],
        base=COURSE,
        code=f"FAULT-ENR-{next(_codes)}",
        capacity=3,
        waitlist_enabled=False,
    )
    teacher_id, _ = world.teacher()

    def untouched():
        assert db.session.get(Course, course["id"]).seats_taken == 0
        assert count(Enrollment, Enrollment.course_id == course["id"]) == 0

    def done(response):
        assert response.get_json()["status"] == "active"

    return Scenario(
        lambda: world.admin.post(
            f"/api/v1/courses/{course['id']}/enrollments", json={"user_id": teacher_id}
        ),
        201,
        (audit_services, "record"),
        _action("enrollment.created"),
        untouched,
        done,
    )


def withdrawal_with_promotion(world: World) -> Scenario:
    course = make_course(
        world.admin,
        [THEORY],
        base=COURSE,
        code=f"FAULT-WD-{next(_codes)}",
        capacity=1,
        waitlist_enabled=True,
    )
    url = f"/api/v1/courses/{course['id']}/enrollments"
    ids = []
    for _ in range(2):
        teacher_id, _ = world.teacher()
        response = world.admin.post(url, json={"user_id": teacher_id})
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    active_id, waiting_id = ids

    def untouched():
        assert db.session.get(Course, course["id"]).seats_taken == 1
        assert db.session.get(Enrollment, active_id).status == "active"
        assert db.session.get(Enrollment, waiting_id).status == "waitlisted"

    def done(response):
        assert response.get_json()["status"] == "withdrawn"
        assert db.session.get(Enrollment, waiting_id).status == "active"

    return Scenario(
        lambda: world.admin.post(f"/api/v1/enrollments/{active_id}/withdraw"),
        200,
        # Withdrawn, seat freed, the waitlisted teacher promoted and seated by then.
        (audit_services, "record"),
        _action("enrollment.promoted"),
        untouched,
        done,
    )


def user_import(world: World) -> Scenario:
    content = csv_bytes(roster(3))

    def untouched():
        assert count(User, User.email.like("%@gz-roster.edu.cn")) == 0

    def done(response):
        assert response.get_json()["created"] == 3

    return Scenario(
        lambda: world.admin.post(
            "/api/v1/users/import",
            data={"file": (io.BytesIO(content), "teachers.csv"), "dry_run": "false"},
            content_type="multipart/form-data",
        ),
        200,
        # The accounts and their activation tokens are flushed by then.
        (audit_services, "record_many"),
        _first_action("user.created"),
        untouched,
        done,
    )


def roster_import(world: World) -> Scenario:
    course = make_course(
        world.admin,
        [THEORY],
        base=COURSE,
        code=f"FAULT-ROS-{next(_codes)}",
        capacity=10,
        waitlist_enabled=False,
    )
    content = csv_bytes(roster(4))

    def untouched():
        assert db.session.get(Course, course["id"]).seats_taken == 0
        assert count(User, User.email.like("%@gz-roster.edu.cn")) == 0
        assert count(Enrollment, Enrollment.course_id == course["id"]) == 0

    def done(response):
        assert response.get_json()["enrolled"] == 4

    return Scenario(
        lambda: upload(world.admin, course["id"], content, filename="名单.csv"),
        200,
        # Accounts, activation tokens, seats and enrolments are written by then.
        (audit_services, "record_many"),
        _first_action("enrollment.created"),
        untouched,
        done,
    )


def submission(world: World) -> Scenario:
    _, teacher = world.teacher()
    setup = practical_setup(world.admin, teacher, course={"code": f"FAULT-SUB-{next(_codes)}"})
    module_id = setup["module"]["id"]

    def untouched():
        assert count(Submission, Submission.module_id == module_id) == 0

    def done(response):
        assert [f["filename"] for f in response.get_json()["files"]] == ["report.pdf"]

    return Scenario(
        lambda: submit(teacher, module_id),
        201,
        # The attempt row and its stored file exist by then.
        (audit_services, "record"),
        _action("submission.created"),
        untouched,
        done,
    )


def _graded_setup(world: World) -> tuple[int, dict]:
    _, teacher = world.teacher()
    setup = practical_setup(world.admin, teacher, course={"code": f"FAULT-GRD-{next(_codes)}"})
    submission_id = submitted(teacher, setup["module"]["id"])["id"]
    scores = [
        {"criterion_id": c["id"], "points": float(c["max_points"]) * 0.75}
        for c in setup["module"]["rubric"]
    ]
    return submission_id, {"scores": scores, "feedback": "设备接入正确，数据上报完整。"}


def grade(world: World) -> Scenario:
    submission_id, payload = _graded_setup(world)

    def untouched():
        assert count(Grade, Grade.submission_id == submission_id) == 0
        assert count(GradeRevision) == 0
        assert db.session.get(Submission, submission_id).status == "submitted"

    def done(response):
        assert response.get_json()["version"] == 1

    return Scenario(
        lambda: world.admin.post(f"/api/v1/submissions/{submission_id}/grade", json=payload),
        200,
        # The grade, its revision and the submission's status are flushed by then.
        (audit_services, "record_many"),
        _first_action("grade.created"),
        untouched,
        done,
    )


def regrade(world: World) -> Scenario:
    submission_id, payload = _graded_setup(world)
    url = f"/api/v1/submissions/{submission_id}/grade"
    first = world.admin.post(url, json=payload)
    assert first.status_code == 200, first.get_json()
    etag = first.headers["ETag"]
    lower = {**payload, "scores": [{**s, "points": 5} for s in payload["scores"]]}

    def untouched():
        current = db.session.scalar(select(Grade).where(Grade.submission_id == submission_id))
        assert (current.version, current.passed) == (1, True)
        assert count(GradeRevision, GradeRevision.grade_id == current.id) == 1

    def done(response):
        assert (response.get_json()["version"], response.get_json()["passed"]) == (2, False)

    return Scenario(
        lambda: world.admin.post(url, json=lower, headers={"If-Match": etag}),
        200,
        (audit_services, "record_many"),
        _first_action("grade.updated"),
        untouched,
        done,
    )


def certificate(world: World) -> Scenario:
    with world.app.app_context():
        setup = eligible_enrollment(world.admin, world.factory)
    enrollment_id = setup["enrollment"]["id"]

    def untouched():
        assert count(Certificate) == 0
        assert db.session.get(Enrollment, enrollment_id).status == "active"

    def done(response):
        assert [c["holder_name"] for c in response.get_json()["issued"]] == [
            setup["user"].full_name
        ]

    return Scenario(
        lambda: world.admin.post(
            f"/api/v1/courses/{setup['course']['id']}/certificates",
            json={"enrollment_ids": [enrollment_id]},
        ),
        200,
        # The enrolment is completed, the serial reserved and the row inserted by then.
        (audit_services, "record_many"),
        _first_action("certificate.issued"),
        untouched,
        done,
    )


def bulk_certificates(world: World) -> Scenario:
    course = certificate_course(world.admin, code=f"FAULT-BULK-{next(_codes)}")
    with world.app.app_context():
        for _ in range(3):
            eligible_enrollment(world.admin, world.factory, course)

    def untouched():
        assert count(Certificate) == 0
        assert count(Enrollment, Enrollment.status == "completed") == 0

    def done(response):
        serials = [c["serial"] for c in response.get_json()["issued"]]
        # The failed attempt reserved no serial numbers: the sequence starts at 1.
        assert [s.rsplit("-", 1)[1] for s in serials] == ["00001", "00002", "00003"]

    return Scenario(
        lambda: world.admin.post(
            f"/api/v1/courses/{course['id']}/certificates", json={"all_eligible": True}
        ),
        200,
        (audit_services, "record_many"),
        _first_action("certificate.issued"),
        untouched,
        done,
    )


def certificate_reissue(world: World) -> Scenario:
    with world.app.app_context():
        setup = issued_certificate(world.admin, world.factory)
    serial = setup["certificate"]["serial"]

    def untouched():
        (cert,) = db.session.scalars(select(Certificate)).all()
        assert (cert.serial, cert.status, cert.replaced_by_id) == (serial, "valid", None)

    def done(response):
        assert response.get_json()["serial"] != serial
        assert response.get_json()["status"] == "valid"

    return Scenario(
        lambda: world.admin.post(
            f"/api/v1/certificates/{serial}/reissue", json={"reason": "姓名更正"}
        ),
        200,
        # The old certificate is superseded and the new one inserted by then.
        (audit_services, "record"),
        _action("certificate.reissued"),
        untouched,
        done,
    )


def certificate_pdf_download(world: World) -> Scenario:
    with world.app.app_context():
        setup = issued_certificate(world.admin, world.factory)
    serial = setup["certificate"]["serial"]

    def untouched():
        cert = db.session.scalar(select(Certificate).where(Certificate.serial == serial))
        assert (cert.pdf_key, cert.pdf_sha256) == (None, None)

    def done(response):
        assert response.data.startswith(b"%PDF")

    return Scenario(
        lambda: world.admin.get(f"/api/v1/certificates/{serial}/pdf"),
        200,
        # The PDF is rendered, stored and its key recorded by then.
        (certificate_pdf, "pdf_filename"),
        lambda *a, **kw: True,
        untouched,
        done,
    )


SCENARIOS = {
    "enrolment": enrolment,
    "withdrawal_with_promotion": withdrawal_with_promotion,
    "user_import": user_import,
    "roster_import": roster_import,
    "submission_with_file": submission,
    "grade": grade,
    "regrade": regrade,
    "certificate_single": certificate,
    "certificate_bulk": bulk_certificates,
    "certificate_reissue": certificate_reissue,
    "certificate_pdf": certificate_pdf_download,
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_failure_mid_service_leaves_nothing_and_the_next_request_succeeds(
    app, world, monkeypatch, admin_engine, name, kind
):
    scenario = SCENARIOS[name](world)
    fault = Fault(app, kind, admin_engine)
    module, function = scenario.target
    monkeypatch.setattr(module, function, fault.wrap(getattr(module, function), scenario.when))
    before, files_before = committed_state(app), stored_files(app)
    event.listen(Session, "before_commit", fault.before_commit)
    try:
        fault.armed = True
        response = scenario.send()
    finally:
        event.remove(Session, "before_commit", fault.before_commit)

    assert fault.fired == 1, response.get_data(as_text=True)
    assert changed_tables(before, fault.inflight), "the request wrote nothing before failing"
    assert_clean_failure(response, kind)
    after = committed_state(app)
    assert changed_tables(before, after) == []
    assert stored_files(app) == files_before
    if name in ("submission_with_file", "certificate_pdf"):
        assert len(fault.files_inflight - files_before) == 1  # stored, then deleted
    with app.app_context():
        scenario.untouched()

    retry = scenario.send()  # the same request, on the same app, the fault disarmed
    assert retry.status_code == scenario.ok, retry.get_data(as_text=True)
    with app.app_context():
        scenario.done(retry)
    assert changed_tables(after, committed_state(app)) != []
    evidence.add(
        "fault scenarios proven",
        note="tests/core/test_faults.py: clean problem+json, nothing half-written, recovery",
    )
    if kind.startswith("killed"):
        evidence.add("connections killed in flight (pg_terminate_backend)")
    if kind == "idle_timeout":
        evidence.add("connections ended in flight by idle_in_transaction_session_timeout")


# --- connections killed outside a request (PostgreSQL) ----------------------------------------


@pytest.mark.postgres
def test_connections_killed_while_idle_in_the_pool_are_replaced_transparently(
    app, world, admin_engine
):
    # A few requests at once would need several connections; one after the other reuse
    # one. Warm the pool with both, so that several idle connections are there to kill.
    with app.app_context():
        warm = min(3, db.engine.pool.size())
        connections = [db.engine.connect() for _ in range(warm)]
        for connection in connections:
            connection.close()
    assert world.admin.get("/api/v1/auth/me").status_code == 200
    pids = idle_backends(admin_engine)
    assert len(pids) >= warm, pids

    assert terminate(admin_engine, pids) == len(pids)

    for _ in range(5):  # more requests than pooled connections: every dead one is met
        response = world.admin.get("/api/v1/auth/me")
        assert response.status_code == 200, response.get_data(as_text=True)
    response = world.admin.post(
        "/api/v1/courses",
        json={
            "code": "FAULT-IDLE",
            "title": "工业互联网产教融合教师研修·广州站",
            "starts_on": "2020-12-02",
            "ends_on": "2020-12-08",
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert not set(idle_backends(admin_engine)) & set(pids)  # all replaced
    evidence.add("fault scenarios proven")
    evidence.add("idle pooled connections killed and replaced", len(pids))


@pytest.mark.postgres
def test_negative_control_without_pre_ping_the_first_request_after_a_kill_answers_503(
    app, world, admin_engine, tmp_path
):
    """What pool_pre_ping saves: without it the dead connection reaches a request, which
    answers 503 problem+json (not a 500, no traceback), and the pool is then recycled."""
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    plain = create_app(
        {
            "LMS_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
            "LMS_UPLOAD_DIR": str(tmp_path),
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    try:
        client = client_for(plain, world.admin_email, own_address=True)
        assert client.get("/api/v1/auth/me").status_code == 200
        with plain.app_context():
            pids_before = set(idle_backends(admin_engine))
            assert terminate(admin_engine, pids_before) == len(pids_before)

        first = client.get("/api/v1/auth/me")
        assert_clean_failure(first, "killed")
        second = client.get("/api/v1/auth/me")
        assert second.status_code == 200, second.get_data(as_text=True)
    finally:
        with plain.app_context():
            db.engine.dispose()
    evidence.add("fault scenarios proven")


def test_negative_control_a_service_that_commits_midway_is_caught(app, world, monkeypatch):
    """The state comparison sees partial writes: the same fault after a premature commit
    (what services must never do) leaves the seat and the enrolment behind."""
    scenario = enrolment(world)
    original = audit_services.record

    def commit_then_fail(action, *args, **kwargs):
        if action == "enrollment.created":
            db.session.commit()
            raise RuntimeError(SECRET)
        return original(action, *args, **kwargs)

    monkeypatch.setattr(audit_services, "record", commit_then_fail)
    before = committed_state(app)
    assert_clean_failure(scenario.send(), "error")
    assert {"courses", "enrollments"} <= set(changed_tables(before, committed_state(app)))
    with app.app_context(), pytest.raises(AssertionError):
        scenario.untouched()


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sqlite:////nonexistent/lms-fault/db.sqlite3", id="sqlite"),
        pytest.param("postgresql+psycopg://postgres@127.0.0.1:1/lms", id="postgresql"),
    ],
)
def test_an_unreachable_database_answers_503_problem_json_on_api_requests(url, tmp_path):
    down = create_app(
        {
            "LMS_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": url,
            "LMS_UPLOAD_DIR": str(tmp_path),
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    client = down.test_client()

    response = client.get("/api/v1/verify/" + "A" * 43)

    assert_clean_failure(response, "operational")
    assert client.get("/healthz").status_code == 200  # the process is alive...
    assert_problem(client.get("/readyz"), 503, "not-ready")  # ...but not ready
    evidence.add("fault scenarios proven")


def test_an_exhausted_pool_answers_503_and_serves_again_once_a_connection_is_free(app, tmp_path):
    busy = create_app(
        {
            "LMS_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "pool_pre_ping": True,
                "pool_size": 1,
                "max_overflow": 0,
                "pool_timeout": 0.2,
            },
            "LMS_UPLOAD_DIR": str(tmp_path),
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    client = busy.test_client()
    url = "/api/v1/verify/" + "A" * 43
    try:
        with busy.app_context():
            held = db.engine.connect()  # the only connection, as if a long request held it
        try:
            assert_clean_failure(client.get(url), "operational")
        finally:
            held.close()
        assert_problem(client.get(url), 404)  # answered from the database again
    finally:
        with busy.app_context():
            db.engine.dispose()
    evidence.add("fault scenarios proven")

"""Capacity under real concurrency, on PostgreSQL and on the embedded SQLite default.

These tests commit for real (marker ``real_db``: the rolled-back test transaction would
serialise everything on one connection). Every thread has its own test client, logged in
beforehand as its own user, and the threads are released together by a barrier; each
request gets its own app context, database session and connection, as in production.

Each race runs three times (run1..run3). 200 simultaneous enrolments are more than the
engine's pool holds: requests wait for a connection, and one that waits beyond
pool_timeout is a 503 with Retry-After, never a 500. The negative controls run the same
checks (``capacity_anomalies``) against a read-then-write seat counter and must fail them.
On SQLite (one writer at a time, each transaction taking the write lock at BEGIN
IMMEDIATE) the capacity races run too; their negative control is a deferred BEGIN, and
the 200-into-90 burst is also fired at a real threaded server, as `make run` serves.
Withdraw-and-promote races are in test_promotion_concurrency.py.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select, update
from werkzeug.serving import make_server

from lms.app import create_app
from lms.catalog.models import Course
from lms.core import db as core_db
from lms.enrollments import services as enrollment_services
from lms.enrollments.models import Enrollment
from lms.extensions import db
from tests import evidence, races
from tests.builders import create_users
from tests.http import ApiClient, client_for, make_course, token_clients
from tests.races import (
    control_caught,
    fire_together,
    no_server_errors,
    race_passed,
)

pytestmark = races.BOTH_DATABASES

REPEATS = races.REPEATS


# --- set-up (committed) --------------------------------------------------------------------


@pytest.fixture
def admin_client(app):
    (email,) = create_users(app, 1, role="admin")
    return client_for(app, email, own_address=True)


def teacher_clients(app, n: int) -> list[ApiClient]:
    return [client_for(app, email, own_address=True) for email in create_users(app, n)]


# --- firing and reading back ---------------------------------------------------------------


def enrol_all(clients, course_id) -> list[tuple[int, dict]]:
    url = f"/api/v1/courses/{course_id}/enrollments"
    return fire_together([lambda c=c: c.post(url, json={}) for c in clients])


def course_state(app, course_id) -> tuple[int, Counter]:
    """seats_taken and the number of enrolments per status, read from the database."""
    with app.app_context():
        seats = db.session.scalar(select(Course.seats_taken).where(Course.id == course_id))
        rows = db.session.execute(
            select(Enrollment.status, func.count())
            .where(Enrollment.course_id == course_id)
            .group_by(Enrollment.status)
        ).all()
    return seats, Counter(dict(rows))


def roster_counts(admin_client, course_id) -> dict:
    response = admin_client.get(f"/api/v1/courses/{course_id}/enrollments?page_size=100")
    assert response.status_code == 200
    return json.loads(response.headers["X-Roster-Counts"])


# --- capacity ------------------------------------------------------------------------------


def waitlist_positions(admin_client, results) -> list[int]:
    """The current waitlist place of every enrolment answered as waitlisted."""
    return [
        admin_client.get(f"/api/v1/enrollments/{body['id']}").get_json()["waitlist_position"]
        for status, body in results
        if status == 201 and body["status"] == "waitlisted"
    ]


def capacity_anomalies(app, admin_client, course_id, results, *, capacity: int) -> list[str]:
    """Everything that is wrong after ``len(results)`` simultaneous enrolments into
    ``capacity`` seats with a waitlist; [] when the outcome is exact. The tests assert [],
    the negative controls assert that their bug shows here."""
    n, found = len(results), []
    statuses = Counter(status for status, _ in results)
    if statuses != {201: n}:
        found.append(f"answers {dict(statuses)}, expected {n} x 201")
    answered = Counter(body["status"] for status, body in results if status == 201)
    if answered != {"active": capacity, "waitlisted": n - capacity}:
        found.append(f"answered {dict(answered)}")
    seats, counts = course_state(app, course_id)
    if counts["active"] > capacity:
        found.append(f"{counts['active']} active for {capacity} seats")
    if seats != counts["active"]:
        found.append(f"seats_taken {seats} but {counts['active']} active")
    if counts != {"active": capacity, "waitlisted": n - capacity}:
        found.append(f"stored {dict(counts)}")
    if roster_counts(admin_client, course_id)["active"] != counts["active"]:
        found.append("the roster disagrees with the table")
    # Once the dust settles the queue is a strict order: places 1 to n - capacity, each once.
    positions = sorted(waitlist_positions(admin_client, results))
    if positions != list(range(1, n - capacity + 1)):
        found.append(f"waitlist places {positions[:5]}... not 1..{n - capacity} each once")
    return found


@pytest.mark.parametrize("run", REPEATS)
def test_fifty_simultaneous_enrolments_fill_ten_seats_and_waitlist_forty(app, admin_client, run):
    course_id = make_course(admin_client, capacity=10, waitlist_enabled=True, self_enrollment=True)[
        "id"
    ]
    clients = teacher_clients(app, 50)

    results = enrol_all(clients, course_id)

    no_server_errors(results)
    assert capacity_anomalies(app, admin_client, course_id, results, capacity=10) == []
    race_passed("50 enrolments into 10 seats")


@contextmanager
def pool_watch(app):
    """Counts the engine's pooled connections in use; yields {"peak": n, "size": limit}."""
    seen = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def checkout(*args):
        with lock:
            seen["now"] += 1
            seen["peak"] = max(seen["peak"], seen["now"])

    def checkin(*args):
        with lock:
            seen["now"] -= 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
        seen["size"] = engine.pool.size() + engine.pool._max_overflow


@pytest.mark.parametrize("run", REPEATS)
def test_two_hundred_simultaneous_enrolments_fill_ninety_seats_and_waitlist_110(
    app, admin_client, run
):
    """The model case: about 90 teachers for the Guangzhou station, 200 at the same moment.

    200 threads share the engine's pool (15 connections by default; PostgreSQL allows 100
    for every client together): requests wait for a free connection (up to pool_timeout,
    see config._pool_options) instead of failing, and none is answered 5xx.
    """
    course_id = make_course(admin_client, capacity=90, waitlist_enabled=True, self_enrollment=True)[
        "id"
    ]
    clients = token_clients(app, 200)  # teachers with API tokens: no 400 login requests

    with pool_watch(app) as pool:
        results = enrol_all(clients, course_id)

    no_server_errors(results)
    assert Counter(status for status, _ in results) == {201: 200}
    assert capacity_anomalies(app, admin_client, course_id, results, capacity=90) == []
    seats, counts = course_state(app, course_id)
    assert seats == 90 and counts == {"active": 90, "waitlisted": 110}
    # More requests than connections: some of them queued for the pool, and none failed.
    assert pool["peak"] <= pool["size"] < len(clients)
    evidence.add(
        f"bursts of 200 requests through a pool of {pool['size']} connections",
        1,
        note=f"peak {pool['peak']} in use, requests queued, none failed",
    )
    race_passed("200 enrolments into 90 seats")


@races.POSTGRES_ONLY
def test_a_request_that_gets_no_connection_in_time_is_answered_503_and_changes_nothing(app):
    """When every pooled connection stays busy beyond pool_timeout, the request is a
    transient 503 problem with Retry-After (not a 500), and it wrote nothing."""
    tiny = create_app(
        {
            "LMS_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0, "pool_timeout": 1},
            "LMS_UPLOAD_DIR": app.config["LMS_UPLOAD_DIR"],
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    (admin_email,) = create_users(app, 1, role="admin")
    admin = client_for(tiny, admin_email, own_address=True)
    course_id = make_course(admin, capacity=5, waitlist_enabled=True, self_enrollment=True)["id"]
    teacher = client_for(tiny, create_users(app, 1)[0], own_address=True)
    url = f"/api/v1/courses/{course_id}/enrollments"
    with tiny.app_context():
        engine = db.engine
    try:
        with engine.connect():  # the pool's only connection, busy
            response = teacher.post(url, json={})
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert body["code"] == "database-unavailable" and "Traceback" not in str(body)
        assert response.headers["Retry-After"] == "5"
        assert course_state(app, course_id) == (0, Counter())
        # Once the connection is free again, the same request succeeds.
        assert teacher.post(url, json={}).status_code == 201
        assert course_state(app, course_id) == (1, Counter({"active": 1}))
    finally:
        engine.dispose()


@pytest.mark.parametrize("run", REPEATS)
def test_fifty_simultaneous_enrolments_without_waitlist_give_ten_seats_and_forty_409(
    app, admin_client, run
):
    course_id = make_course(
        admin_client, capacity=10, waitlist_enabled=False, self_enrollment=True
    )["id"]
    clients = teacher_clients(app, 50)

    results = enrol_all(clients, course_id)

    no_server_errors(results)
    assert Counter(status for status, _ in results) == {201: 10, 409: 40}
    assert {body["code"] for status, body in results if status == 409} == {"course-full"}
    assert {body["status"] for status, body in results if status == 201} == {"active"}
    seats, counts = course_state(app, course_id)
    assert seats == 10 and counts == {"active": 10}
    race_passed("50 enrolments into 10 seats without waitlist")


@pytest.mark.parametrize("run", REPEATS)
def test_twenty_simultaneous_enrolments_of_one_teacher_give_one_enrolment(app, admin_client, run):
    course_id = make_course(admin_client, capacity=10, waitlist_enabled=True, self_enrollment=True)[
        "id"
    ]
    (email,) = create_users(app, 1)
    clients = [client_for(app, email, own_address=True) for _ in range(20)]

    results = enrol_all(clients, course_id)

    no_server_errors(results)
    assert Counter(status for status, _ in results) == {201: 1, 409: 19}
    assert {body["code"] for status, body in results if status == 409} == {"already-enrolled"}
    seats, counts = course_state(app, course_id)
    assert seats == 1 and counts == {"active": 1}
    race_passed("20 enrolments of one teacher")


@races.POSTGRES_ONLY
@pytest.mark.parametrize("run", REPEATS)
def test_five_simultaneous_withdrawals_promote_the_first_five_waitlisted(app, admin_client, run):
    course_id = make_course(admin_client, capacity=10, waitlist_enabled=True, self_enrollment=True)[
        "id"
    ]
    clients = teacher_clients(app, 20)
    url = f"/api/v1/courses/{course_id}/enrollments"
    bodies = []
    for c in clients:  # one after the other: a known queue
        response = c.post(url, json={})
        assert response.status_code == 201, response.get_json()
        bodies.append(response.get_json())
    assert [b["status"] for b in bodies] == ["active"] * 10 + ["waitlisted"] * 10
    leaving = [2, 3, 5, 7, 9]

    results = fire_together(
        [
            lambda i=i: clients[i].post(f"/api/v1/enrollments/{bodies[i]['id']}/withdraw")
            for i in leaving
        ]
    )

    no_server_errors(results)
    assert [(status, body["status"]) for status, body in results] == [(200, "withdrawn")] * 5
    seats, counts = course_state(app, course_id)
    assert seats == 10 and counts == {"active": 10, "waitlisted": 5, "withdrawn": 5}
    roster = admin_client.get(f"{url}?status=active&page_size=100").get_json()
    active_ids = {e["id"] for e in roster}
    assert active_ids == (
        {b["id"] for b in bodies[:15]} - {bodies[i]["id"] for i in leaving}
    )  # first come, first served
    promoted = admin_client.get(
        "/api/v1/audit-events?entity_type=enrollment&action=enrollment.promoted"
    ).get_json()
    assert sorted(int(e["entity_id"]) for e in promoted) == [b["id"] for b in bodies[10:15]]
    race_passed("5 withdrawals promoting the waitlist")


@races.POSTGRES_ONLY
@pytest.mark.parametrize("run", REPEATS)
def test_enrolments_and_withdrawals_racing_keep_the_seat_count_exact(app, admin_client, run):
    """Enrolments take the course row before the audit chain; withdrawals must take them in
    the same order, or the two deadlock (and one of them fails)."""
    course_id = make_course(admin_client, capacity=10, waitlist_enabled=True, self_enrollment=True)[
        "id"
    ]
    clients = teacher_clients(app, 30)
    url = f"/api/v1/courses/{course_id}/enrollments"
    bodies = [clients[i].post(url, json={}).get_json() for i in range(10)]
    assert {b["status"] for b in bodies} == {"active"}

    results = fire_together(
        [lambda c=c: c.post(url, json={}) for c in clients[10:]]
        + [
            lambda i=i: clients[i].post(f"/api/v1/enrollments/{bodies[i]['id']}/withdraw")
            for i in range(5)
        ]
    )

    no_server_errors(results)
    assert all(status in (200, 201) for status, _ in results), results
    seats, counts = course_state(app, course_id)
    assert seats == counts["active"] == 10
    assert counts == {"active": 10, "waitlisted": 15, "withdrawn": 5}
    race_passed("20 enrolments racing 5 withdrawals")


@races.POSTGRES_ONLY
@pytest.mark.parametrize("run", REPEATS)
def test_closing_a_course_while_teachers_enrol_fails_no_request(app, admin_client, run):
    """Publishing and closing also touch the course row and the audit chain."""
    course_id = make_course(admin_client, capacity=10, waitlist_enabled=True, self_enrollment=True)[
        "id"
    ]
    clients = teacher_clients(app, 30)
    url = f"/api/v1/courses/{course_id}/enrollments"

    results = fire_together(
        [lambda c=c: c.post(url, json={}) for c in clients]
        + [lambda: admin_client.post(f"/api/v1/courses/{course_id}/close")]
    )

    no_server_errors(results)
    assert results[-1][0] == 200 and results[-1][1]["status"] == "closed"
    refused = {body["code"] for status, body in results[:-1] if status != 201}
    assert refused <= {"enrollment-closed", "not-found"}  # closed: invisible to newcomers
    seats, counts = course_state(app, course_id)
    assert seats == counts["active"] <= 10
    race_passed("30 enrolments racing a close")


# --- negative control ----------------------------------------------------------------------


def _naive_take_seat(course_id: int) -> bool:
    """Read-then-write seat taking: the bug the conditional UPDATE prevents."""
    seats, capacity = db.session.execute(
        select(Course.seats_taken, Course.capacity).where(Course.id == course_id)
    ).one()
    if capacity is not None and seats >= capacity:
        return False
    time.sleep(0.01)  # widen the window between the read and the write
    db.session.execute(
        update(Course)
        .where(Course.id == course_id)
        .values(seats_taken=seats + 1)
        .execution_options(synchronize_session=False)
    )
    return True


@races.POSTGRES_ONLY
@pytest.mark.parametrize(("teachers", "capacity"), [(50, 10), (200, 90)], ids=["50-10", "200-90"])
def test_negative_control_a_read_then_write_seat_counter_is_caught(
    app, admin_client, monkeypatch, teachers, capacity
):
    """The same race, with a naive seat counter, must show an anomaly in the same checks
    (capacity_anomalies): proof that the tests above would catch a regression."""
    monkeypatch.setattr(enrollment_services, "_take_seat", _naive_take_seat)
    clients = token_clients(app, teachers)
    found = []
    for _ in range(5):
        course_id = make_course(
            admin_client, capacity=capacity, waitlist_enabled=True, self_enrollment=True
        )["id"]
        results = enrol_all(clients, course_id)
        found = capacity_anomalies(app, admin_client, course_id, results, capacity=capacity)
        if found:
            break
    assert found, "the naive seat counter went unnoticed in 5 tries"
    control_caught(f"read-then-write seat counter, {teachers} into {capacity}", found)


def test_enrolment_status_answers_stay_problem_json_under_contention(app, admin_client):
    """A 409 under contention is a proper problem answer, not a bare error."""
    course_id = make_course(admin_client, capacity=1, waitlist_enabled=False, self_enrollment=True)[
        "id"
    ]
    results = enrol_all(teacher_clients(app, 10), course_id)
    no_server_errors(results)
    refused = [body for status, body in results if status == 409]
    assert len(refused) == 9
    for body in refused:
        assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == 409


# --- the embedded default: SQLite behind a threaded server -----------------------------------


@races.SQLITE_ONLY
def test_negative_control_a_deferred_begin_on_sqlite_fails_simultaneous_enrolments(
    app, admin_client, monkeypatch
):
    """Issue 12's numbers: with a plain (deferred) BEGIN, an enrolment that reads and then
    writes cannot wait for SQLite's lock, and most of a burst fails with
    ``database is locked``. BEGIN IMMEDIATE is what makes the races above pass."""
    monkeypatch.setattr(core_db, "SQLITE_BEGIN", "BEGIN")
    clients = token_clients(app, 50)
    course_id = make_course(admin_client, capacity=10, waitlist_enabled=True, self_enrollment=True)[
        "id"
    ]

    results = enrol_all(clients, course_id)

    found = capacity_anomalies(app, admin_client, course_id, results, capacity=10)
    assert any(status == 503 for status, _ in results), found
    control_caught("deferred BEGIN on SQLite, 50 into 10", found)


def _serve(app):
    """The app on a threaded werkzeug server at 127.0.0.1:<free port>, as `flask run`."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _post_over_http(base: str, path: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        base + path,
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - 127.0.0.1
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@races.SQLITE_ONLY
@pytest.mark.parametrize("run", REPEATS)
def test_two_hundred_enrolments_through_a_threaded_server_on_sqlite_all_succeed(
    app, admin_client, run
):
    """The opening ceremony on `make run`: 200 teachers scan the QR code at the same
    moment, the development server starts a thread for each, SQLite serialises the
    writers (BEGIN IMMEDIATE, busy_timeout): 200 x 201, exactly 90 active, 110 waitlisted."""
    course_id = make_course(admin_client, capacity=90, waitlist_enabled=True, self_enrollment=True)[
        "id"
    ]
    tokens = [client.bearer for client in token_clients(app, 200)]
    server, thread = _serve(app)
    base = f"http://127.0.0.1:{server.server_port}"
    path = f"/api/v1/courses/{course_id}/enrollments"
    try:
        barrier = threading.Barrier(len(tokens), timeout=60)

        def enrol(token):
            barrier.wait()
            return _post_over_http(base, path, token)

        evidence.add(races.REQUESTS_FIRED, len(tokens))
        with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
            results = list(pool.map(enrol, tokens, timeout=180))
    finally:
        server.shutdown()
        thread.join(timeout=10)

    assert Counter(status for status, _ in results) == {201: 200}, Counter(
        (status, body.get("code")) for status, body in results
    )
    assert capacity_anomalies(app, admin_client, course_id, results, capacity=90) == []
    seats, counts = course_state(app, course_id)
    assert seats == 90 and counts == {"active": 90, "waitlisted": 110}
    race_passed("200 enrolments into 90 seats, threaded server on SQLite")

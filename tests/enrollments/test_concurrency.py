"""Capacity under real concurrency (PostgreSQL only).

These tests commit for real (marker ``real_db``: the rolled-back test transaction would
serialise everything on one connection). Every thread has its own test client, logged in
beforehand as its own user, and the threads are released together by a barrier; each
request gets its own app context, database session and connection, as in production.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from lms.catalog.models import Course
from lms.enrollments import services as enrollment_services
from lms.enrollments.models import Enrollment
from lms.extensions import db
from tests.conftest import POSTGRES
from tests.factories import ApiClient, UserFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.real_db,
    pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL (set TEST_DATABASE_URL)"),
]

REPEATS = [pytest.param(i, id=f"run{i}") for i in range(1, 4)]
THEORY = {"kind": "theory", "title": "工业互联网体系架构", "hours": 4}
_codes = itertools.count(1)
_addresses = itertools.count(1)


# --- set-up (committed) --------------------------------------------------------------------


def client_for(app, email: str) -> ApiClient:
    """A logged-in client with its own address (the login rate limit is per address)."""
    c = ApiClient(app.test_client())
    n = next(_addresses)
    c.client.environ_base["REMOTE_ADDR"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    c.login(email)
    return c


def create_users(app, n: int, role: str = "teacher") -> list[str]:
    """Commit ``n`` users; return their emails."""
    factory = UserFactory()
    with app.app_context():
        return [factory.create(role=role).email for _ in range(n)]


@pytest.fixture
def admin_client(app):
    (email,) = create_users(app, 1, role="admin")
    return client_for(app, email)


def make_course(admin_client, *, capacity: int, waitlist: bool) -> int:
    """Create and publish a course over HTTP (each request commits)."""
    response = admin_client.post(
        "/api/v1/courses",
        json={
            "code": f"GZ-RACE-{next(_codes)}",
            "title": "工业互联网产教融合教师研修·广州站",
            "starts_on": "2020-12-02",
            "ends_on": "2020-12-08",
            "capacity": capacity,
            "waitlist_enabled": waitlist,
            "self_enrollment": True,
        },
    )
    assert response.status_code == 201, response.get_json()
    course_id = response.get_json()["id"]
    response = admin_client.post(f"/api/v1/courses/{course_id}/modules", json=THEORY)
    assert response.status_code == 201, response.get_json()
    response = admin_client.post(f"/api/v1/courses/{course_id}/publish")
    assert response.status_code == 200, response.get_json()
    return course_id


def teacher_clients(app, n: int) -> list[ApiClient]:
    return [client_for(app, email) for email in create_users(app, n)]


# --- firing and reading back ---------------------------------------------------------------


def fire_together(requests) -> list[tuple[int, dict]]:
    """Run the zero-argument callables in as many threads, released by one barrier;
    return (status, body) of each response, in order."""
    barrier = threading.Barrier(len(requests), timeout=60)

    def run(request):
        barrier.wait()
        response = request()
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(run, requests, timeout=120))


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


def no_server_errors(results) -> None:
    errors = [(status, body) for status, body in results if status >= 500]
    assert not errors, errors


# --- capacity ------------------------------------------------------------------------------


@pytest.mark.parametrize("run", REPEATS)
def test_fifty_simultaneous_enrolments_fill_ten_seats_and_waitlist_forty(app, admin_client, run):
    course_id = make_course(admin_client, capacity=10, waitlist=True)
    clients = teacher_clients(app, 50)

    results = enrol_all(clients, course_id)

    no_server_errors(results)
    assert Counter(status for status, _ in results) == {201: 50}
    assert Counter(body["status"] for _, body in results) == {"active": 10, "waitlisted": 40}
    seats, counts = course_state(app, course_id)
    assert seats == 10 and counts == {"active": 10, "waitlisted": 40}
    assert roster_counts(admin_client, course_id)["active"] == 10
    # Once the dust settles the queue is a strict order: places 1 to 40, each once.
    positions = [
        admin_client.get(f"/api/v1/enrollments/{body['id']}").get_json()["waitlist_position"]
        for _, body in results
        if body["status"] == "waitlisted"
    ]
    assert sorted(positions) == list(range(1, 41))


@pytest.mark.parametrize("run", REPEATS)
def test_fifty_simultaneous_enrolments_without_waitlist_give_ten_seats_and_forty_409(
    app, admin_client, run
):
    course_id = make_course(admin_client, capacity=10, waitlist=False)
    clients = teacher_clients(app, 50)

    results = enrol_all(clients, course_id)

    no_server_errors(results)
    assert Counter(status for status, _ in results) == {201: 10, 409: 40}
    assert {body["code"] for status, body in results if status == 409} == {"course-full"}
    assert {body["status"] for status, body in results if status == 201} == {"active"}
    seats, counts = course_state(app, course_id)
    assert seats == 10 and counts == {"active": 10}


@pytest.mark.parametrize("run", REPEATS)
def test_twenty_simultaneous_enrolments_of_one_teacher_give_one_enrolment(app, admin_client, run):
    course_id = make_course(admin_client, capacity=10, waitlist=True)
    (email,) = create_users(app, 1)
    clients = [client_for(app, email) for _ in range(20)]

    results = enrol_all(clients, course_id)

    no_server_errors(results)
    assert Counter(status for status, _ in results) == {201: 1, 409: 19}
    assert {body["code"] for status, body in results if status == 409} == {"already-enrolled"}
    seats, counts = course_state(app, course_id)
    assert seats == 1 and counts == {"active": 1}


@pytest.mark.parametrize("run", REPEATS)
def test_five_simultaneous_withdrawals_promote_the_first_five_waitlisted(app, admin_client, run):
    course_id = make_course(admin_client, capacity=10, waitlist=True)
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


@pytest.mark.parametrize("run", REPEATS)
def test_enrolments_and_withdrawals_racing_keep_the_seat_count_exact(app, admin_client, run):
    """Enrolments take the course row before the audit chain; withdrawals must take them in
    the same order, or the two deadlock (and one of them fails)."""
    course_id = make_course(admin_client, capacity=10, waitlist=True)
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


@pytest.mark.parametrize("run", REPEATS)
def test_closing_a_course_while_teachers_enrol_fails_no_request(app, admin_client, run):
    """Publishing and closing also touch the course row and the audit chain."""
    course_id = make_course(admin_client, capacity=10, waitlist=True)
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


def _anomalies(app, admin_client, results, course_id) -> list[str]:
    seats, counts = course_state(app, course_id)
    found = []
    if counts["active"] > 10:
        found.append(f"{counts['active']} active for 10 seats")
    if seats != counts["active"]:
        found.append(f"seats_taken {seats} but {counts['active']} active")
    statuses = Counter(status for status, _ in results)
    if set(statuses) - {201}:
        found.append(f"answers {dict(statuses)}")
    return found


def test_negative_control_a_read_then_write_seat_counter_is_caught(app, admin_client, monkeypatch):
    """The same race, with a naive seat counter, must show an anomaly: proof that the
    tests above would catch a regression."""
    monkeypatch.setattr(enrollment_services, "_take_seat", _naive_take_seat)
    clients = teacher_clients(app, 50)
    found = []
    for _ in range(5):
        course_id = make_course(admin_client, capacity=10, waitlist=True)
        results = enrol_all(clients, course_id)
        found = _anomalies(app, admin_client, results, course_id)
        if found:
            break
    assert found, "the naive seat counter went unnoticed in 5 tries"


def test_enrolment_status_answers_stay_problem_json_under_contention(app, admin_client):
    """A 409 under contention is a proper problem answer, not a bare error."""
    course_id = make_course(admin_client, capacity=1, waitlist=False)
    results = enrol_all(teacher_clients(app, 10), course_id)
    no_server_errors(results)
    refused = [body for status, body in results if status == 409]
    assert len(refused) == 9
    for body in refused:
        assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == 409

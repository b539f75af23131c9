"""Issuance under real concurrency, on PostgreSQL and on SQLite (the controls: PostgreSQL).

These tests commit for real (marker ``real_db``). Fifty requests, each with its own test
client (sharing one admin API token, so no login per thread), are released together by a
barrier; each request gets its own app context, session and connection, as in production.

The negative controls show what guarantees the outcome. They turn issuance into a naive
check-then-insert (a plain INSERT instead of ``INSERT ... ON CONFLICT DO NOTHING``, and no
second look after the enrolment row locks): the partial unique index still allows only
one certificate, but requests fail; without the index as well, duplicates appear.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, insert, select

from lms.audit.models import AuditEvent
from lms.audit.services import verify_chain
from lms.catalog.models import Course
from lms.certificates import issuance
from lms.certificates.models import ONE_VALID_INDEX, Certificate, CertificateSequence
from lms.core import bulk
from lms.enrollments.models import Enrollment
from lms.extensions import db
from tests import evidence, races
from tests.builders import UserFactory, add_completion
from tests.http import client_for, enrolled, make_course, token_client
from tests.payloads import TWO_HOUR_THEORY
from tests.races import (
    REQUESTS_FIRED,
    control_caught,
    fire_together,
    no_server_errors,
    race_passed,
)

pytestmark = races.BOTH_DATABASES

THREADS = 50
REPEATS = races.REPEATS


@pytest.fixture
def admin_token(app) -> str:
    with app.app_context():
        admin = UserFactory().create(role="admin")
    response = client_for(app, admin).post("/api/v1/auth/tokens", json={"name": "race"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def enrol_eligible(app, token: str, course_id: int, module_id: int) -> int:
    """A new teacher enrolled by the admin, with the module completed: the enrolment id."""
    with app.app_context():
        teacher = UserFactory().create(role="teacher")
    enrollment_id = enrolled(token_client(app, token), course_id, user_id=teacher.id)["id"]
    with app.app_context():
        add_completion(enrollment_id, module_id)
    return enrollment_id


def eligible_enrollment(app, token: str) -> tuple[int, int]:
    """A committed course and an eligible active enrolment: (course_id, enrollment_id)."""
    course = make_course(token_client(app, token), [TWO_HOUR_THEORY])
    return course["id"], enrol_eligible(app, token, course["id"], course["modules"][0]["id"])


def issue_together(app, token: str, course_id: int, enrollment_id: int | None, threads=THREADS):
    """Fire ``threads`` identical issuance requests at once (for one enrolment, or
    all_eligible when ``enrollment_id`` is None); (status, body) of each."""
    url = f"/api/v1/courses/{course_id}/certificates"
    payload = (
        {"all_eligible": True} if enrollment_id is None else {"enrollment_ids": [enrollment_id]}
    )
    clients = [token_client(app, token) for _ in range(threads)]
    evidence.add(REQUESTS_FIRED, threads)
    barrier = threading.Barrier(threads, timeout=60)

    def run(client):
        barrier.wait()
        response = client.post(url, json=payload)
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(run, clients, timeout=180))


def certificates_of(app, enrollment_id: int) -> Counter:
    with app.app_context():
        rows = db.session.execute(
            select(Certificate.status, func.count())
            .where(Certificate.enrollment_id == enrollment_id)
            .group_by(Certificate.status)
        ).all()
    return Counter(dict(rows))


@pytest.mark.parametrize("run", REPEATS)
def test_fifty_simultaneous_issuances_give_exactly_one_certificate(app, admin_token, run):
    course_id, enrollment_id = eligible_enrollment(app, admin_token)

    results = issue_together(app, admin_token, course_id, enrollment_id)

    assert Counter(status for status, _ in results) == {200: THREADS}
    issued = [c for _, body in results for c in body["issued"]]
    skipped = [s for _, body in results for s in body["skipped"]]
    assert len(issued) == 1
    assert len(skipped) == THREADS - 1
    assert {s["reason"] for s in skipped} == {"already_issued"}
    assert {s.get("serial") for s in skipped} == {issued[0]["serial"]}
    assert certificates_of(app, enrollment_id) == {"valid": 1}
    assert issued[0]["serial"].endswith("-00001")
    with app.app_context():
        # Losers noticed the winner after waiting for the enrolment lock: no serial burned.
        assert (
            db.session.scalar(
                select(CertificateSequence.last_no).where(
                    CertificateSequence.course_id == course_id
                )
            )
            == 1
        )
        events = db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "certificate.issued")
        )
    assert events == 1
    race_passed(f"{THREADS} issuances for one enrolment")


@pytest.mark.parametrize("run", REPEATS)
def test_issuances_racing_withdrawals_certify_exactly_the_teachers_who_stayed(
    app, admin_token, run
):
    """12 eligible enrolments, each issued by its own request, while 6 of them are
    withdrawn at the same moment. Each ends either completed with one certificate (its
    withdrawal, later, gets 409 not-withdrawable) or withdrawn with none (its issuance skips
    it as not_active); the serials are consecutive, the seats exact."""
    course = make_course(token_client(app, admin_token), [TWO_HOUR_THEORY])
    course_id, module_id = course["id"], course["modules"][0]["id"]
    ids = [enrol_eligible(app, admin_token, course_id, module_id) for _ in range(12)]
    leaving = ids[::2]
    issuers = [token_client(app, admin_token) for _ in ids]
    removers = [token_client(app, admin_token) for _ in leaving]
    url = f"/api/v1/courses/{course_id}/certificates"

    results = fire_together(
        [
            lambda c=c, i=i: c.post(url, json={"enrollment_ids": [i]})
            for c, i in zip(issuers, ids, strict=True)
        ]
        + [
            lambda c=c, i=i: c.post(f"/api/v1/enrollments/{i}/withdraw")
            for c, i in zip(removers, leaving, strict=True)
        ]
    )

    no_server_errors(results)
    issues, withdrawals = results[: len(ids)], results[len(ids) :]
    assert {status for status, _ in issues} == {200}
    with app.app_context():
        stored = dict(
            db.session.execute(
                select(Enrollment.id, Enrollment.status).where(Enrollment.id.in_(ids))
            ).all()
        )
        seats = db.session.scalar(select(Course.seats_taken).where(Course.id == course_id))
        _, chain_break = verify_chain()
    certified = {c["enrollment_id"] for _, body in issues for c in body["issued"]}
    assert certified == {i for i, s in stored.items() if s == "completed"}
    assert set(ids) - certified == {i for i, s in stored.items() if s == "withdrawn"}
    assert set(ids) - certified <= set(leaving)
    for i, (_, body) in zip(ids, issues, strict=True):
        if i not in certified:
            assert [(s["enrollment_id"], s["reason"]) for s in body["skipped"]] == [
                (i, "not_active")
            ]
    for i, (status, body) in zip(leaving, withdrawals, strict=True):
        if i in certified:
            assert (status, body["code"]) == (409, "not-withdrawable")
        else:
            assert (status, body["status"]) == (200, "withdrawn")
    for i in ids:
        assert certificates_of(app, i) == ({"valid": 1} if i in certified else {})
    serials = sorted(int(c["serial"].rsplit("-", 1)[1]) for _, b in issues for c in b["issued"])
    assert serials == list(range(1, len(certified) + 1))  # no serial burned or repeated
    assert seats == len(certified)  # completed enrolments keep their seat, withdrawn free it
    assert chain_break is None
    evidence.add("issuance vs withdrawal: issuance first", len(set(leaving) & certified))
    evidence.add("issuance vs withdrawal: withdrawal first", len(set(leaving) - certified))
    race_passed("12 issuances racing 6 withdrawals")


_insert_ignoring = bulk.insert_ignoring


@pytest.mark.parametrize("run", REPEATS)
def test_ten_simultaneous_bulk_issuances_issue_each_enrolment_once(app, admin_token, run):
    course = make_course(token_client(app, admin_token), [TWO_HOUR_THEORY])
    course_id, module_id = course["id"], course["modules"][0]["id"]
    enrollment_ids = [enrol_eligible(app, admin_token, course_id, module_id) for _ in range(20)]

    results = issue_together(app, admin_token, course_id, None, threads=10)

    assert Counter(status for status, _ in results) == {200: 10}
    issued = [c for _, body in results for c in body["issued"]]
    assert sorted(c["enrollment_id"] for c in issued) == sorted(enrollment_ids)
    for _, body in results:  # every request accounts for every enrolment
        seen = [c["enrollment_id"] for c in body["issued"]] + [
            s["enrollment_id"] for s in body["skipped"]
        ]
        assert sorted(seen) == sorted(enrollment_ids)
        assert {s["reason"] for s in body["skipped"]} <= {"already_issued"}
    with app.app_context():
        serials = db.session.scalars(
            select(Certificate.serial).where(Certificate.course_id == course_id)
        ).all()
    assert len(serials) == len(set(serials)) == 20
    race_passed("10 bulk issuances over 20 enrolments")


@pytest.mark.parametrize("run", REPEATS)
def test_first_pdf_downloads_racing_each_other_and_issuance_all_succeed(app, admin_token, run):
    """A first download stores the PDF: a GET that writes. 20 of them at once (each its
    own certificate), with a bulk issuance of 10 more enrolments: none fails (on SQLite
    every transaction takes the write lock at BEGIN, so they queue instead of failing with
    a stale snapshot), and each PDF is stored once, with how it was rendered."""
    course = make_course(token_client(app, admin_token), [TWO_HOUR_THEORY])
    course_id, module_id = course["id"], course["modules"][0]["id"]
    for _ in range(20):
        enrol_eligible(app, admin_token, course_id, module_id)
    url = f"/api/v1/courses/{course_id}/certificates"
    issued = token_client(app, admin_token).post(url, json={"all_eligible": True}).get_json()
    serials = [c["serial"] for c in issued["issued"]]
    assert len(serials) == 20
    for _ in range(10):
        enrol_eligible(app, admin_token, course_id, module_id)
    clients = [token_client(app, admin_token) for _ in range(21)]

    results = fire_together(
        [
            lambda c=c, s=s: c.get(f"/api/v1/certificates/{s}/pdf")
            for c, s in zip(clients, serials, strict=False)
        ]
        + [lambda: clients[-1].post(url, json={"all_eligible": True})]
    )

    no_server_errors(results)
    assert [status for status, _ in results] == [200] * 21
    assert len(results[-1][1]["issued"]) == 10
    with app.app_context():
        stored = db.session.execute(
            select(Certificate.pdf_key, Certificate.pdf_rendered_at).where(
                Certificate.serial.in_(serials)
            )
        ).all()
    assert len({key for key, _ in stored if key}) == 20
    assert all(rendered_at is not None for _, rendered_at in stored)
    race_passed("20 first PDF downloads racing a bulk issuance")


def _naive_insert(model, **kwargs):
    """What issuance would be without ON CONFLICT: a plain INSERT of certificates."""
    if model is Certificate:
        return insert(model.__table__)
    return _insert_ignoring(model, **kwargs)


@races.POSTGRES_ONLY
def test_control_plain_insert_with_the_index_fails_requests_but_never_duplicates(
    app, admin_token, monkeypatch
):
    course_id, enrollment_id = eligible_enrollment(app, admin_token)
    monkeypatch.setattr(bulk, "insert_ignoring", _naive_insert)
    monkeypatch.setattr(issuance, "_issued_while_waiting", lambda ids: {})

    results = issue_together(app, admin_token, course_id, enrollment_id)

    statuses = Counter(status for status, _ in results)
    assert statuses[200] >= 1
    assert any(status >= 500 for status in statuses), statuses  # unhandled conflicts
    assert certificates_of(app, enrollment_id) == {"valid": 1}  # the index held
    control_caught("issuance by plain INSERT", [f"answers {dict(statuses)}"])


def _one_valid_index():
    (index,) = [i for i in Certificate.__table__.indexes if i.name == ONE_VALID_INDEX]
    return index


@races.POSTGRES_ONLY
def test_control_without_the_partial_unique_index_duplicates_appear(app, admin_token, monkeypatch):
    course_id, enrollment_id = eligible_enrollment(app, admin_token)
    # A naive check-then-insert: no ON CONFLICT, no second look after the row locks.
    monkeypatch.setattr(bulk, "insert_ignoring", _naive_insert)
    monkeypatch.setattr(issuance, "_issued_while_waiting", lambda ids: {})
    index = _one_valid_index()
    with app.app_context():
        with db.engine.begin() as conn:
            index.drop(conn)
    try:
        results = issue_together(app, admin_token, course_id, enrollment_id)
        valid = certificates_of(app, enrollment_id)["valid"]
    finally:
        with app.app_context():
            with db.engine.begin() as conn:
                conn.execute(Certificate.__table__.delete())
                index.create(conn)

    assert Counter(status for status, _ in results) == {200: THREADS}
    assert valid > 1, "without the index, concurrent requests issue duplicates"
    control_caught("issuance without the unique index", [f"{valid} valid certificates"])

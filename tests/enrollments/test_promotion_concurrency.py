"""Withdraw-and-promote races (PostgreSQL only, marker ``real_db``).

A course with a known queue (teachers enrolled one after the other) is hit at one moment by
self-withdrawals, admin removals of active and of waitlisted teachers, an admin raising the
capacity (which promotes) and new enrolments. Whatever the interleaving, the outcome is
fixed: the freed seats go to the waitlisted teachers in queue order, nobody is promoted
twice, a removed teacher stays removed, and ``seats_taken`` equals the active enrolments.

What guarantees it (lms/enrollments/services.py): every promoter first locks the course row
(``_free_seat`` or the capacity UPDATE), so promotions are serialised and each reads the
queue after the previous one committed; the candidate row is taken ``FOR UPDATE SKIP
LOCKED``, so a teacher being removed at that moment is passed over instead of deadlocking.

The negative controls replace the promotion with unlocked read-then-write versions; the
same checks (``promotion_anomalies``) must catch them.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import select, update

from lms.audit import services as audit
from lms.audit.models import AuditEvent
from lms.catalog.models import Course
from lms.core.db import utcnow
from lms.enrollments import services as enrollment_services
from lms.enrollments.models import Enrollment
from lms.extensions import db
from tests import races
from tests.builders import create_users
from tests.enrollments.test_concurrency import course_state
from tests.http import client_for, make_course
from tests.races import (
    control_caught,
    fire_together,
    race_passed,
)

pytestmark = races.PYTESTMARK

REPEATS = races.REPEATS
ACTIVE, WAITLISTED, WITHDRAWN = "active", "waitlisted", "withdrawn"


@pytest.fixture
def admins(app):
    """Five logged-in clients of one admin (a test client is not shared between threads)."""
    (email,) = create_users(app, 1, role="admin")
    return [client_for(app, email, own_address=True) for _ in range(5)]


class Queue:
    """A committed course whose first ``capacity`` teachers are active and the next
    ``waitlisted`` wait, enrolled one after the other (a known queue order)."""

    def __init__(self, app, admin, *, capacity: int, waitlisted: int):
        self.capacity = capacity
        self.course_id = make_course(
            admin, capacity=capacity, waitlist_enabled=True, self_enrollment=True
        )["id"]
        self.clients = [
            client_for(app, e, own_address=True) for e in create_users(app, capacity + waitlisted)
        ]
        url = f"/api/v1/courses/{self.course_id}/enrollments"
        self.ids = []
        for c in self.clients:
            response = c.post(url, json={})
            assert response.status_code == 201, response.get_json()
            self.ids.append(response.get_json()["id"])
        statuses = [s for s, _ in self.stored(app)]
        assert statuses == [ACTIVE] * capacity + [WAITLISTED] * waitlisted

    @property
    def active(self) -> list[int]:
        return self.ids[: self.capacity]

    @property
    def waiting(self) -> list[int]:
        return self.ids[self.capacity :]

    def withdraw(self, client, enrollment_id: int):
        return lambda: client.post(f"/api/v1/enrollments/{enrollment_id}/withdraw")

    def self_withdraw(self, enrollment_id: int):
        return self.withdraw(self.clients[self.ids.index(enrollment_id)], enrollment_id)

    def stored(self, app) -> list[tuple[str, int]]:
        """(status, id) of every enrolment of the course, in queue order."""
        with app.app_context():
            return [
                (e.status, e.id)
                for e in db.session.scalars(
                    select(Enrollment)
                    .where(Enrollment.course_id == self.course_id)
                    .order_by(Enrollment.queued_at, Enrollment.id)
                )
            ]


def promoted_events(app, course_id: int) -> list[int]:
    """The enrolments promoted in this course, in the order the promotions happened."""
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "enrollment.promoted")
            .order_by(AuditEvent.id)
        ).all()
        return [int(e.entity_id) for e in events if e.data.get("course_id") == course_id]


def promotion_anomalies(
    app, queue: Queue, results, *, removed: set[int], capacity: int, promotions: int
) -> list[str]:
    """Everything wrong after the burst; [] when exact. ``removed``: waitlisted teachers an
    admin removed; ``promotions``: how many seats were freed or added."""
    found = []
    statuses = Counter(status for status, _ in results)
    if set(statuses) - {200, 201}:
        found.append(f"answers {dict(statuses)}")
    seats, counts = course_state(app, queue.course_id)
    if counts[ACTIVE] > capacity:
        found.append(f"over capacity: {counts[ACTIVE]} active for {capacity} seats")
    if seats != counts[ACTIVE]:
        found.append(f"seats_taken {seats} but {counts[ACTIVE]} active")
    stored = dict((i, s) for s, i in queue.stored(app))
    expected = [i for i in queue.waiting if i not in removed][:promotions]
    still_active = [i for i in queue.active if stored[i] == ACTIVE]
    if sorted(i for i, s in stored.items() if s == ACTIVE) != sorted(still_active + expected):
        found.append("the active teachers are not the first of the queue")
    if any(stored[i] != WITHDRAWN for i in removed):
        found.append("a removed teacher is back in the course")
    events = promoted_events(app, queue.course_id)
    twice = [i for i, n in Counter(events).items() if n > 1]
    if twice:
        found.append(f"double promotion of {twice}")
    places = [queue.ids.index(i) for i in events]
    if places != sorted(places):
        found.append(f"promoted out of queue order: places {places}")
    if not set(expected) <= set(events) <= set(expected) | removed:
        found.append(f"promoted {sorted(set(events))}, expected {expected}")
    with app.app_context():
        _, chain_break = audit.verify_chain()
    if chain_break is not None:
        found.append(f"audit chain broken: {chain_break}")
    return found


def waitlist_places(queue: Queue, admin, ids) -> list[int]:
    return [admin.get(f"/api/v1/enrollments/{i}").get_json()["waitlist_position"] for i in ids]


# --- races ---------------------------------------------------------------------------------


@pytest.mark.parametrize("run", REPEATS)
def test_withdrawals_removals_a_capacity_raise_and_new_enrolments_at_once(app, admins, run):
    """10 seats, 10 active, 15 waiting. At one moment: 4 teachers withdraw, an admin removes
    2 active and 2 waitlisted teachers, another raises the capacity to 12, and 8 new
    teachers enrol. 8 seats come free or are added: the first 8 of the queue who were not
    removed take them; the newcomers queue behind everyone."""
    queue = Queue(app, admins[0], capacity=10, waitlisted=15)
    leaving = [queue.active[i] for i in (0, 2, 4, 6)]
    removed_active = [queue.active[i] for i in (1, 3)]
    removed_waiting = {queue.waiting[1], queue.waiting[4]}
    newcomers = [client_for(app, e, own_address=True) for e in create_users(app, 8)]
    url = f"/api/v1/courses/{queue.course_id}/enrollments"

    results = fire_together(
        [queue.self_withdraw(i) for i in leaving]
        + [
            queue.withdraw(admin, i)
            for admin, i in zip(admins[:4], removed_active + sorted(removed_waiting), strict=True)
        ]
        + [lambda: admins[4].patch(f"/api/v1/courses/{queue.course_id}", json={"capacity": 12})]
        + [lambda c=c: c.post(url, json={}) for c in newcomers]
    )

    assert (
        promotion_anomalies(app, queue, results, removed=removed_waiting, capacity=12, promotions=8)
        == []
    )
    withdrawals, patch, enrolments = results[:8], results[8], results[9:]
    assert [(s, b["status"]) for s, b in withdrawals] == [(200, WITHDRAWN)] * 8
    assert patch[0] == 200 and patch[1]["capacity"] == 12
    assert [(s, b["status"]) for s, b in enrolments] == [(201, WAITLISTED)] * 8
    seats, counts = course_state(app, queue.course_id)
    assert seats == 12 and counts == {ACTIVE: 12, WAITLISTED: 13, WITHDRAWN: 8}
    # The queue: the 5 who were waiting already, in their order, then the 8 newcomers.
    waiting = [i for s, i in queue.stored(app) if s == WAITLISTED]
    assert waiting[:5] == [i for i in queue.waiting if i not in removed_waiting][8:]
    assert waitlist_places(queue, admins[0], waiting) == list(range(1, 14))
    race_passed("withdrawals + removals + capacity raise + enrolments")


@pytest.mark.parametrize("run", REPEATS)
def test_every_active_teacher_withdraws_while_the_head_of_the_queue_is_removed(app, admins, run):
    """10 seats, 10 active, 20 waiting. All 10 active teachers withdraw at once while an
    admin removes the first 3 waitlisted: places 4 to 13 of the queue take the seats."""
    queue = Queue(app, admins[0], capacity=10, waitlisted=20)
    removed = set(queue.waiting[:3])

    results = fire_together(
        [queue.self_withdraw(i) for i in queue.active]
        + [queue.withdraw(admins[n], i) for n, i in enumerate(sorted(removed))]
    )

    assert (
        promotion_anomalies(app, queue, results, removed=removed, capacity=10, promotions=10) == []
    )
    assert [(s, b["status"]) for s, b in results] == [(200, WITHDRAWN)] * 13
    seats, counts = course_state(app, queue.course_id)
    assert seats == 10 and counts == {ACTIVE: 10, WAITLISTED: 7, WITHDRAWN: 13}
    assert {i for s, i in queue.stored(app) if s == ACTIVE} == set(queue.waiting[3:13])
    race_passed("10 withdrawals while the queue head is removed")


# --- negative controls ---------------------------------------------------------------------


def _withdraw_handing_the_seat_to_an_unlocked_head(enrollment, *, actor):
    """Withdrawal whose promotion step reads the head of the queue without a lock, before
    anything is locked, and hands the freed seat straight to it (read, then write)."""
    head = db.session.scalar(
        select(Enrollment)
        .where(Enrollment.course_id == enrollment.course_id, Enrollment.status == WAITLISTED)
        .order_by(Enrollment.queued_at, Enrollment.id)
        .limit(1)
    )
    time.sleep(0.02)  # widen the window between the read and the write
    held_seat = enrollment.status == ACTIVE
    enrollment.status, enrollment.withdrawn_at = WITHDRAWN, utcnow()
    if held_seat and head is not None:
        head.status, head.activated_at = ACTIVE, utcnow()
    db.session.flush()
    data = {"course_id": enrollment.course_id, "user_id": enrollment.user_id}
    audit.record("enrollment.withdrawn", "enrollment", enrollment.id, actor=actor, data=data)
    if held_seat and head is not None:
        data = {"course_id": head.course_id, "user_id": head.user_id}
        audit.record("enrollment.promoted", "enrollment", head.id, actor=actor, data=data)
    return enrollment


def _unlocked_promote_waitlist(course_id: int, *, actor):
    """Promotion as a plain read-then-write: free seats and the queue read without locks
    (no FOR UPDATE SKIP LOCKED), then written back."""
    seats, capacity = db.session.execute(
        select(Course.seats_taken, Course.capacity).where(Course.id == course_id)
    ).one()
    free = (capacity or seats + 1) - seats
    heads = db.session.scalars(
        select(Enrollment)
        .where(Enrollment.course_id == course_id, Enrollment.status == WAITLISTED)
        .order_by(Enrollment.queued_at, Enrollment.id)
        .limit(free)
    ).all()
    time.sleep(0.02)  # widen the window between the read and the write
    for head in heads:
        head.status, head.activated_at = ACTIVE, utcnow()
        data = {"course_id": course_id, "user_id": head.user_id}
        audit.record("enrollment.promoted", "enrollment", head.id, actor=actor, data=data)
    db.session.execute(
        update(Course)
        .where(Course.id == course_id)
        .values(seats_taken=seats + len(heads))
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return heads


CONTROLS = {
    "seat handed to an unlocked head of the queue": (
        "withdraw",
        _withdraw_handing_the_seat_to_an_unlocked_head,
    ),
    "promotion without row locks": ("promote_waitlist", _unlocked_promote_waitlist),
}


@pytest.mark.parametrize("name", list(CONTROLS))
def test_negative_control_an_unlocked_promotion_is_caught(app, admins, monkeypatch, name):
    attribute, replacement = CONTROLS[name]
    monkeypatch.setattr(enrollment_services, attribute, replacement)
    found = []
    for _ in range(5):
        queue = Queue(app, admins[0], capacity=10, waitlisted=20)
        removed = set(queue.waiting[:3])
        results = fire_together(
            [queue.self_withdraw(i) for i in queue.active]
            + [queue.withdraw(admins[n], i) for n, i in enumerate(sorted(removed))]
        )
        found = promotion_anomalies(
            app, queue, results, removed=removed, capacity=10, promotions=10
        )
        if found:
            break
    assert found, f"{name} went unnoticed in 5 tries"
    control_caught(name, found)

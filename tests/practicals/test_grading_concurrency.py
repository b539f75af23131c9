"""Regrades under real concurrency, on PostgreSQL and on SQLite (the control: PostgreSQL).

Several graders (each an assigned instructor with their own client) read the same grade
version and regrade at the same moment with that ETag as If-Match. The optimistic lock is
the ``UPDATE ... WHERE version = :expected`` itself (lms/practicals/grading.py): exactly one
wins, the others get 412, and the history (``grade_revisions``) is a gap-free chain of
versions whose last entry is the current grade.

The negative control replaces that UPDATE with an unlocked read-check-write: every grader
is told they won, and all but one silently lose their update. The same checks
(``regrade_anomalies``) that pass for the real code must catch it.
"""

from __future__ import annotations

import time
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from lms.audit.models import AuditEvent
from lms.core.errors import PreconditionFailed
from lms.extensions import db
from lms.practicals import grading
from lms.practicals.models import Grade, GradeRevision
from tests import races
from tests.builders import (
    UserFactory,
    add_course,
    add_enrolment,
    add_instructor,
    add_practical,
    add_submission,
)
from tests.http import client_for
from tests.races import (
    control_caught,
    fire_together,
    no_server_errors,
    race_passed,
)

pytestmark = races.BOTH_DATABASES

REPEATS = races.REPEATS
GRADERS = 8


def graders_and_submission(app, graders: int = GRADERS) -> dict:
    """Committed: a published course with a practical (rubric 40/40/20), ``graders``
    assigned instructors with their own logged-in clients, one submitted attempt."""
    with app.app_context():
        factory = UserFactory()
        course = add_course()
        module = add_practical(course, max_attempts=None)
        instructors = [factory.create(role="instructor") for _ in range(graders)]
        for instructor in instructors:
            add_instructor(course, instructor)
        submission = add_submission(add_enrolment(course, factory.create()), module)
        return {
            "clients": [client_for(app, i.email, own_address=True) for i in instructors],
            "grader_ids": [i.id for i in instructors],
            "criteria": [c.id for c in sorted(module.criteria, key=lambda c: c.position)],
            "url": f"/api/v1/submissions/{submission.id}/grade",
        }


def scores_of(setup: dict, n: int, points=None) -> list[dict]:
    """Grader ``n``'s own scores: a distinct total (35 + n) per grader."""
    points = points or (10 + n, 20, 5)
    return [
        {"criterion_id": c, "points": p} for c, p in zip(setup["criteria"], points, strict=True)
    ]


def first_grade(setup: dict) -> str:
    response = setup["clients"][0].post(
        setup["url"], json={"scores": scores_of(setup, 0, (1, 1, 1)), "feedback": "初评"}
    )
    assert response.status_code == 200, response.get_json()
    return response.headers["ETag"]


def stored(app, setup: dict) -> dict:
    """The grade row, its revisions and its grade.updated events, read from the database."""
    submission_id = int(setup["url"].split("/")[-2])
    with app.app_context():
        grade = db.session.scalar(select(Grade).where(Grade.submission_id == submission_id))
        revisions = db.session.scalars(
            select(GradeRevision)
            .where(GradeRevision.grade_id == grade.id)
            .order_by(GradeRevision.version, GradeRevision.id)
        ).all()
        updates = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "grade.updated", AuditEvent.entity_id == str(grade.id)
            )
        ).all()
        return {
            "grade": (grade.version, grade.total_points, grade.feedback, grade.grader_id),
            "revisions": [(r.version, r.total_points, r.feedback, r.grader_id) for r in revisions],
            "updated_events": [(e.data["version"], e.data["total_points"]) for e in updates],
        }


def regrade_together(setup: dict, tag: str):
    """Every grader regrades at once with the same If-Match, each with their own scores."""
    return fire_together(
        [
            lambda n=n, c=c: c.post(
                setup["url"],
                json={"scores": scores_of(setup, n), "feedback": f"评审{n}"},
                headers={"If-Match": tag},
            )
            for n, c in enumerate(setup["clients"])
        ]
    )


def regrade_anomalies(app, setup: dict, results) -> list[str]:
    """What is wrong after the graders all regraded version 1 at once; [] when exactly one
    won, the others got 412, and grade, history and audit agree on the winner."""
    found = []
    statuses = Counter(status for status, _ in results)
    winners = [n for n, (status, _) in enumerate(results) if status == 200]
    state = stored(app, setup)
    if len(winners) > 1:
        lost = [f"评审{w}" for w in winners if f"评审{w}" != state["grade"][2]]
        found.append(f"lost updates: {lost} were acknowledged and then overwritten")
    if statuses != {200: 1, 412: len(results) - 1}:
        found.append(f"answers {dict(statuses)}: {statuses[200]} graders told their regrade won")
    for status, body in results:
        if status == 412 and body.get("status") != 412:
            found.append(f"a 412 that is not problem+json: {body}")
    if not winners:
        return found + ["nobody won"]
    n = winners[-1]
    expected = (2, Decimal(35 + n), f"评审{n}", setup["grader_ids"][n])
    if state["grade"] != expected:
        found.append(f"grade is {state['grade']}, the winner wrote {expected}")
    if [r[0] for r in state["revisions"]] != [1, 2]:
        found.append(f"history versions {[r[0] for r in state['revisions']]}, expected [1, 2]")
    elif state["revisions"][-1] != state["grade"]:
        found.append("the last revision is not the current grade")
    if state["updated_events"] != [(2, f"{35 + n}.00")]:
        found.append(f"grade.updated events {state['updated_events']}")
    return found


# --- races ---------------------------------------------------------------------------------


@pytest.mark.parametrize("run", REPEATS)
def test_eight_graders_regrading_one_version_at_once_one_wins_and_seven_get_412(app, run):
    setup = graders_and_submission(app)
    tag = first_grade(setup)

    results = regrade_together(setup, tag)

    no_server_errors(results)
    assert regrade_anomalies(app, setup, results) == []
    (winner,) = [body for status, body in results if status == 200]
    assert winner["version"] == 2 and winner["etag"] != tag
    current = setup["clients"][1].get(setup["url"])
    assert current.headers["ETag"] == winner["etag"]
    history = setup["clients"][2].get(f"{setup['url']}/history").get_json()
    assert [h["version"] for h in history] == [1, 2]
    assert history[-1]["feedback"] == winner["feedback"]
    race_passed(f"{GRADERS} regrades of one version")


def _regrade_until_accepted(client, setup: dict, n: int, tries: list):
    """What a grader's browser does on 412: re-read the grade, regrade with the new ETag."""
    while True:
        tag = client.get(setup["url"]).headers["ETag"]
        response = client.post(
            setup["url"],
            json={"scores": scores_of(setup, n), "feedback": f"评审{n}"},
            headers={"If-Match": tag},
        )
        tries.append(response.status_code)
        if response.status_code != 412 or len(tries) > 50 * GRADERS:
            return response


@pytest.mark.parametrize("run", REPEATS)
def test_graders_retrying_on_412_lose_no_update(app, run):
    """Each grader keeps retrying with the ETag they re-read: every acknowledged regrade is
    in the history exactly once, the versions form a chain 1..9 without gaps, and the
    current grade is the last of them."""
    setup = graders_and_submission(app)
    first_grade(setup)
    tries: list[int] = []

    results = fire_together(
        [
            lambda n=n, c=c: _regrade_until_accepted(c, setup, n, tries)
            for n, c in enumerate(setup["clients"])
        ]
    )

    no_server_errors(results)
    assert [status for status, _ in results] == [200] * GRADERS, results
    assert set(tries) <= {200, 412}, Counter(tries)
    state = stored(app, setup)
    assert [r[0] for r in state["revisions"]] == list(range(1, GRADERS + 2))
    assert sorted(r[2] for r in state["revisions"][1:]) == sorted(
        f"评审{n}" for n in range(GRADERS)
    )
    for _, total, feedback, grader_id in state["revisions"][1:]:  # each version is one write
        n = int(feedback.removeprefix("评审"))
        assert (total, grader_id) == (Decimal(35 + n), setup["grader_ids"][n])
    assert state["revisions"][-1] == state["grade"] and state["grade"][0] == GRADERS + 1
    assert sorted(v for v, _ in state["updated_events"]) == list(range(2, GRADERS + 2))
    # The versions each grader was acknowledged with are the history's versions.
    assert sorted(body["version"] for _, body in results) == list(range(2, GRADERS + 2))
    race_passed(f"{GRADERS} graders retrying on 412")


@pytest.mark.parametrize("run", REPEATS)
def test_eight_first_grades_at_once_make_one_grade_and_no_server_error(app, run):
    setup = graders_and_submission(app)

    results = fire_together(
        [
            lambda n=n, c=c: c.post(setup["url"], json={"scores": scores_of(setup, n)})
            for n, c in enumerate(setup["clients"])
        ]
    )

    no_server_errors(results)
    statuses = Counter(status for status, _ in results)
    assert statuses[200] == 1, statuses
    # The losers raced the insert (409 grade-exists) or read the winner's grade and sent no
    # If-Match (428): both tell them to reload.
    assert set(statuses) <= {200, 409, 428}, statuses
    assert {body["code"] for status, body in results if status == 409} <= {"grade-exists"}
    state = stored(app, setup)
    assert state["grade"][0] == 1 and [r[0] for r in state["revisions"]] == [1]
    race_passed(f"{GRADERS} simultaneous first grades")


# --- negative control ----------------------------------------------------------------------


def _unlocked_update_grade(grade: Grade, expected: int, values: dict) -> Grade:
    """The bug the conditional UPDATE prevents: check the version, then write blindly."""
    current = db.session.scalar(select(Grade.version).where(Grade.id == grade.id))
    if current != expected:
        raise PreconditionFailed()
    time.sleep(0.02)  # widen the window between the check and the write
    db.session.execute(
        update(Grade)
        .where(Grade.id == grade.id)
        .values(**values, version=Grade.version + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(grade)
    return grade


@races.POSTGRES_ONLY
def test_negative_control_an_unlocked_version_check_loses_updates(app, monkeypatch):
    monkeypatch.setattr(grading, "_update_grade", _unlocked_update_grade)
    found = []
    for _ in range(5):
        setup = graders_and_submission(app)
        tag = first_grade(setup)
        results = regrade_together(setup, tag)
        found = regrade_anomalies(app, setup, results)
        if found:
            break
    assert any("lost updates" in f for f in found), found
    control_caught("unlocked grade version check", found)

"""Theory completion, quizzes and progress. Shared builders for the tests of this package."""

from __future__ import annotations

import itertools
from decimal import Decimal

from lms.extensions import db
from lms.practicals.models import Grade, Submission
from tests.catalog.helpers import COURSE, QUIZ, add_module
from tests.factories import client_for  # noqa: F401 - re-exported to this package's tests

_codes = itertools.count(1)

NO_QUIZ = {"kind": "theory", "title": "5G与工业互联网", "hours": 2}
WITH_QUIZ = {"kind": "theory", "title": "工业大数据与人工智能", "hours": 4, "quiz": QUIZ}
# QUIZ: question 0 (2 points) single choice [0]; question 1 (3 points) multiple [0, 1, 2].
ALL_RIGHT = [[0], [0, 1, 2]]
ONLY_FIRST_RIGHT = [[0], [0, 1]]  # 2 of 5 points: 40 %, below the 60 % pass mark


def make_course(admin_client, modules, *, instructor=None, publish=True, **overrides):
    """A course with ``modules`` (payloads, in order), published and with ``instructor``
    assigned; returns (course, [module bodies])."""
    response = admin_client.post(
        "/api/v1/courses", json={**COURSE, "code": f"GZ-LRN-{next(_codes)}", **overrides}
    )
    assert response.status_code == 201, response.get_json()
    course = response.get_json()
    bodies = [add_module(admin_client, course["id"], payload) for payload in modules]
    if publish:
        response = admin_client.post(f"/api/v1/courses/{course['id']}/publish")
        assert response.status_code == 200, response.get_json()
    if instructor is not None:
        response = admin_client.put(f"/api/v1/courses/{course['id']}/instructors/{instructor.id}")
        assert response.status_code == 200, response.get_json()
    return course, bodies


def enrol(client, course_id) -> dict:
    response = client.post(f"/api/v1/courses/{course_id}/enrollments", json={})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def complete(client, module_id):
    return client.post(f"/api/v1/modules/{module_id}/completion")


def attempt(client, module_id, answers):
    return client.post(f"/api/v1/modules/{module_id}/quiz-attempts", json={"answers": answers})


def progress(client, enrollment_id):
    return client.get(f"/api/v1/enrollments/{enrollment_id}/progress")


def progress_ok(client, enrollment_id) -> dict:
    response = progress(client, enrollment_id)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_module(progress_body: dict) -> dict[int, dict]:
    return {m["module_id"]: m for m in progress_body["modules"]}


def add_submission(
    enrollment_id: int, module: dict, attempt_no: int, status: str, passed: bool | None = None
) -> int:
    """A submission (and its grade when ``passed`` is given), committed to the test's
    transaction; returns its id."""
    submission = Submission(
        enrollment_id=enrollment_id,
        module_id=module["id"],
        course_id=module["course_id"],
        attempt_no=attempt_no,
        status=status,
        text="实训报告",
    )
    db.session.add(submission)
    db.session.flush()
    if passed is not None:
        db.session.add(
            Grade(
                submission_id=submission.id,
                scores=[],
                passed=passed,
                total_points=Decimal(80 if passed else 30),
                returned_for_revision=status == "returned",
            )
        )
    db.session.commit()
    return submission.id

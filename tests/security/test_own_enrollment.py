"""Course staff who are enrolled in the same course do not grade, complete or extend their
own enrolment (issue 12): a teacher promoted to instructor of the course, or to admin,
gets 403 ``own-enrollment``; the other teachers' work they still grade and mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.builders import add_enrolment, add_submission, add_theory
from tests.http import assert_problem, client_for, graded_setup, scores_for


@pytest.fixture(params=["instructor", "admin"])
def promoted(request, app, users, admin_client):
    """A graded set-up whose teacher (enrolled, one submission) became course staff:
    instructor of the same course, or admin. Returns (setup, theory module, client)."""
    g = graded_setup(app, users)
    theory = add_theory(g.course)
    response = admin_client.patch(f"/api/v1/users/{g.owner.id}", json={"role": request.param})
    assert response.status_code == 200, response.get_json()
    if request.param == "instructor":
        response = admin_client.put(f"/api/v1/courses/{g.course.id}/instructors/{g.owner.id}")
        assert response.status_code in (200, 201), response.get_json()
    return g, theory, client_for(app, g.owner)


def test_staff_cannot_grade_their_own_submission(promoted):
    g, _theory, own = promoted
    body = assert_problem(g.grade(client=own), 403, "own-enrollment")
    assert "own" in body["detail"]
    assert_problem(own.get(f"/api/v1/submissions/{g.submission.id}/grade"), 403, "own-enrollment")
    # The course's instructor still grades it.
    assert g.grade().status_code == 200


def test_staff_cannot_mark_their_own_module_complete(promoted):
    g, theory, own = promoted
    url = f"/api/v1/enrollments/{g.enrollment.id}/modules/{theory.id}/completion"
    assert_problem(own.post(url), 403, "own-enrollment")
    assert g.instructor_client.post(url).status_code == 201


def test_staff_cannot_extend_their_own_deadline(promoted):
    g, _theory, own = promoted
    body = {
        "user_id": g.owner.id,
        "due_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "reason": "自己给自己延期",
    }
    assert_problem(
        own.post(f"/api/v1/modules/{g.module.id}/extensions", json=body), 403, "own-enrollment"
    )


def test_promoted_staff_still_grade_and_mark_other_teachers(app, users, promoted):
    g, theory, own = promoted
    other = users.create(role="teacher")
    enrollment = add_enrolment(g.course, other)
    submission = add_submission(enrollment, g.module, files=1, minutes=0)
    response = own.post(
        f"/api/v1/submissions/{submission.id}/grade", json={"scores": scores_for(g.module)}
    )
    assert response.status_code == 200, response.get_json()
    url = f"/api/v1/enrollments/{enrollment.id}/modules/{theory.id}/completion"
    assert own.post(url).status_code == 201

"""Progress of an enrolment over HTTP: module statuses, credited hours, grade release, who
may read it, and a query count that does not grow with the course.

Practical submissions and grades are written straight to the database: these tests are
about how progress reads them, not about how they are made.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lms.catalog.models import Course
from lms.completion.progress import course_modules, progress_for_enrollments
from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.practicals.models import GradeRelease
from tests.builders import add_submission
from tests.http import (
    assert_problem,
    attempt,
    by_module,
    client_for,
    complete,
    enrolled,
    make_course,
    progress,
    progress_ok,
)
from tests.payloads import ALL_RIGHT, FULL_COURSE, NO_QUIZ, ONLY_FIRST_RIGHT, PRACTICAL, WITH_QUIZ

OPTIONAL = {**NO_QUIZ, "title": "选修：数字孪生", "hours": 1, "required": False}


@pytest.fixture
def course(admin_client, instructor):
    course = make_course(
        admin_client,
        [NO_QUIZ, WITH_QUIZ, OPTIONAL, PRACTICAL],
        instructor=instructor,
        base=FULL_COURSE,
    )
    return course


@pytest.fixture
def practical(course):
    return course["modules"][3]


@pytest.fixture
def enrollment(teacher_client, course):
    return enrolled(teacher_client, course["id"])


# --- module statuses -----------------------------------------------------------------------


def test_a_fresh_enrolment_has_started_nothing(teacher_client, teacher, course, enrollment):
    body = progress_ok(teacher_client, enrollment["id"])
    assert {k: body[k] for k in ("enrollment_id", "course_id", "user_id", "status", "view")} == {
        "enrollment_id": enrollment["id"],
        "course_id": course["id"],
        "user_id": teacher.id,
        "status": "active",
        "view": "teacher",
    }
    assert (body["theory_hours"], body["practical_hours"], body["total_hours"]) == (0, 0, 0)
    no_quiz, quiz, optional, practical = body["modules"]
    assert [m["module_id"] for m in body["modules"]] == [m["id"] for m in course["modules"]]
    assert no_quiz == {
        "module_id": course["modules"][0]["id"],
        "kind": "theory",
        "title": NO_QUIZ["title"],
        "required": True,
        "hours": 2.0,
        "has_quiz": False,
        "status": "not_started",
        "hours_credited": 0,
    }
    assert (quiz["has_quiz"], quiz["attempts"], quiz["best_percent"]) == (True, 0, None)
    assert optional["required"] is False and optional["hours"] == 1.0
    assert practical == {
        "module_id": course["modules"][3]["id"],
        "kind": "practical",
        "title": PRACTICAL["title"],
        "required": True,
        "hours": 8.0,
        "status": "not_started",
        "hours_credited": 0,
        "latest_submission_id": None,
    }


def test_a_failed_quiz_shows_failed_with_the_best_percent(teacher_client, course, enrollment):
    quiz_module = course["modules"][1]
    attempt(teacher_client, quiz_module["id"], [[1], [3]])
    attempt(teacher_client, quiz_module["id"], ONLY_FIRST_RIGHT)
    module = by_module(progress_ok(teacher_client, enrollment["id"]))[quiz_module["id"]]
    assert (
        module["status"],
        module["attempts"],
        module["best_percent"],
        module["hours_credited"],
    ) == ("failed", 2, 40.0, 0)


def test_completed_theory_counts_its_hours_required_or_not(teacher_client, course, enrollment):
    no_quiz, quiz_module, optional, _ = course["modules"]
    for module in (no_quiz, optional):
        assert complete(teacher_client, module["id"]).status_code == 201
    assert attempt(teacher_client, quiz_module["id"], ALL_RIGHT).status_code == 201
    body = progress_ok(teacher_client, enrollment["id"])
    assert [m["status"] for m in body["modules"]] == ["completed"] * 3 + ["not_started"]
    assert (body["theory_hours"], body["practical_hours"], body["total_hours"]) == (7, 0, 7)


# (status, passed) of each attempt, oldest first -> (shown status, hours credited)
PRACTICAL_CASES = [
    ([("submitted", None)], "submitted", 0),
    ([("returned", False)], "returned", 0),
    ([("graded", True)], "passed", 8),
    ([("graded", False)], "failed", 0),
    ([("graded", False), ("submitted", None)], "submitted", 0),
    ([("returned", False), ("graded", True)], "passed", 8),
    ([("graded", False), ("graded", True)], "passed", 8),
    ([("graded", True), ("graded", False)], "failed", 0),  # e.g. the pass was regraded away
    # the credit follows the latest *graded* attempt, whatever is pending after it
    ([("graded", True), ("submitted", None)], "submitted", 8),
]


@pytest.mark.parametrize(("attempts", "shown", "credited"), PRACTICAL_CASES)
def test_a_practical_shows_its_latest_submission_and_credits_its_latest_grade(
    teacher_client, instructor_client, enrollment, practical, attempts, shown, credited
):
    ids = [
        add_submission(enrollment["id"], practical, attempt_no=n, status=status, passed=passed).id
        for n, (status, passed) in enumerate(attempts, start=1)
    ]
    for client, view in ((teacher_client, "teacher"), (instructor_client, "staff")):
        body = progress_ok(client, enrollment["id"])
        module = by_module(body)[practical["id"]]
        assert body["view"] == view
        assert (module["status"], module["hours_credited"]) == (shown, credited)
        assert module["latest_submission_id"] == ids[-1]
        assert body["practical_hours"] == credited and body["total_hours"] == credited


def test_unreleased_grades_are_hidden_from_the_teacher_but_not_from_staff(
    admin_client, teacher_client, instructor, instructor_client
):
    course = make_course(
        admin_client,
        [
            PRACTICAL,
            {**PRACTICAL, "title": "数据采集实训", "hours": 4},
            {**PRACTICAL, "title": "平台应用开发实训", "hours": 2},
        ],
        instructor=instructor,
        grade_release="manual",
        base=FULL_COURSE,
    )
    (passed_module, failed_module, returned_module) = course["modules"]
    enrollment = enrolled(teacher_client, course["id"])
    add_submission(enrollment["id"], passed_module, attempt_no=1, status="graded", passed=True)
    add_submission(enrollment["id"], failed_module, attempt_no=1, status="graded", passed=False)
    add_submission(enrollment["id"], returned_module, attempt_no=1, status="returned", passed=False)

    def statuses(client):
        body = progress_ok(client, enrollment["id"])
        return body["view"], [(m["status"], m["hours_credited"]) for m in body["modules"]]

    assert statuses(teacher_client) == (
        "teacher",
        [("submitted", 0), ("submitted", 0), ("returned", 0)],
    )
    assert statuses(instructor_client) == ("staff", [("passed", 8), ("failed", 0), ("returned", 0)])
    assert statuses(admin_client)[0] == "staff"

    db.session.add(GradeRelease(module_id=passed_module["id"]))
    db.session.commit()
    assert statuses(teacher_client) == (
        "teacher",
        [("passed", 8), ("submitted", 0), ("returned", 0)],
    )


# --- who may read it -----------------------------------------------------------------------


def test_progress_is_read_by_its_teacher_and_the_course_staff_only(
    app, users, client, admin_client, teacher_client, instructor_client, course, enrollment
):
    assert progress_ok(teacher_client, enrollment["id"])["view"] == "teacher"
    assert progress_ok(instructor_client, enrollment["id"])["view"] == "staff"
    assert progress_ok(admin_client, enrollment["id"])["view"] == "staff"

    other_teacher = client_for(app, users.create(role="teacher"))
    enrolled(other_teacher, course["id"])  # even a classmate
    other_instructor = client_for(app, users.create(role="instructor"))
    for outsider in (other_teacher, other_instructor):
        assert_problem(progress(outsider, enrollment["id"]), 404)
    assert_problem(progress(client, enrollment["id"]), 401)
    assert_problem(progress(admin_client, 999_999), 404)


def test_a_withdrawn_teacher_still_reads_their_progress(teacher_client, course, enrollment):
    assert complete(teacher_client, course["modules"][0]["id"]).status_code == 201
    response = teacher_client.post(f"/api/v1/enrollments/{enrollment['id']}/withdraw")
    assert response.status_code == 200
    body = progress_ok(teacher_client, enrollment["id"])
    assert body["status"] == "withdrawn" and body["theory_hours"] == 2


# --- queries -------------------------------------------------------------------------------


def _course_with_activity(admin_client, teacher_client, repeats: int) -> int:
    """A course of ``4 * repeats`` modules, each with learner activity; the enrolment id."""
    course = make_course(
        admin_client, [NO_QUIZ, WITH_QUIZ, PRACTICAL, PRACTICAL] * repeats, base=FULL_COURSE
    )
    modules = course["modules"]
    enrollment = enrolled(teacher_client, course["id"])
    for position, module in enumerate(modules):
        if module["kind"] == "practical":
            add_submission(
                enrollment["id"], module, attempt_no=1, status="graded", passed=position % 8 == 2
            )
            if position % 8 == 3:
                add_submission(enrollment["id"], module, attempt_no=2, status="submitted")
        elif module.get("quiz"):
            attempt(teacher_client, module["id"], ONLY_FIRST_RIGHT)
        else:
            complete(teacher_client, module["id"])
    return enrollment["id"]


def test_progress_query_count_does_not_grow_with_the_modules(
    admin_client, teacher_client, count_queries
):
    small = _course_with_activity(admin_client, teacher_client, 1)
    large = _course_with_activity(admin_client, teacher_client, 5)
    with count_queries() as few:
        assert len(progress_ok(teacher_client, small)["modules"]) == 4
    with count_queries() as many:
        body = progress_ok(teacher_client, large)
    assert len(body["modules"]) == 20
    assert {m["status"] for m in body["modules"]} == {"completed", "failed", "passed", "submitted"}
    assert len(few) == len(many), many


def test_many_enrolments_are_evaluated_with_the_same_queries_as_one(
    users, admin_client, teacher, teacher_client, count_queries, course, enrollment
):
    no_quiz, _, _, practical = course["modules"]
    complete(teacher_client, no_quiz["id"])
    others = []
    for _ in range(6):
        body = admin_client.post(
            f"/api/v1/courses/{course['id']}/enrollments", json={"user_id": users.create().id}
        ).get_json()
        others.append(body["id"])
    add_submission(others[0], practical, attempt_no=1, status="graded", passed=True)
    ids = [enrollment["id"], *others]
    rows = {e.id: e for e in db.session.scalars(select(Enrollment).where(Enrollment.id.in_(ids)))}
    course_row = db.session.get(Course, course["id"])

    with count_queries() as one:
        progress_for_enrollments(course_row, [rows[ids[0]]], viewer_is_staff=True)
    with count_queries() as seven:
        result = progress_for_enrollments(course_row, [rows[i] for i in ids], viewer_is_staff=True)
    assert len(one) == len(seven) == 4
    assert sorted(result) == sorted(ids)
    assert result[ids[0]].theory_hours == 2 and result[ids[0]].practical_hours == 0
    assert result[others[0]].practical_hours == 8 and result[others[0]].theory_hours == 0
    assert all(result[i].total_hours == 0 for i in others[1:])
    assert all(result[i].user_id == rows[i].user_id for i in ids)

    # a caller paging through a course reads the modules once and passes them on
    modules = course_modules(course_row)
    with count_queries() as page:
        again = progress_for_enrollments(
            course_row, [rows[i] for i in ids], viewer_is_staff=True, modules=modules
        )
    assert len(page) == 3 and again == result

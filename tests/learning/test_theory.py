"""Theory modules over HTTP: completing without a quiz, quiz attempts scored on the server,
attempt limits, staff-marked completions, and who may do what."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from lms.enrollments.models import Enrollment
from lms.extensions import db
from lms.learning import services
from lms.learning.models import ModuleCompletion, QuizAttempt
from tests.builders import UserFactory
from tests.http import (
    assert_problem,
    attempt,
    by_module,
    client_for,
    complete,
    enrolled,
    make_course,
    progress_ok,
)
from tests.payloads import (
    ALL_RIGHT,
    FULL_COURSE,
    NO_QUIZ,
    ONLY_FIRST_RIGHT,
    PRACTICAL,
    QUIZ,
    WITH_QUIZ,
)

# --- personas and course -------------------------------------------------------------------


@pytest.fixture
def other_instructor_client(app, users):
    return client_for(app, users.create(role="instructor", full_name="周导师"))


@pytest.fixture
def other_teacher_client(app, users):
    return client_for(app, users.create(role="teacher", full_name="王芳"))


@pytest.fixture
def course(admin_client, instructor):
    """Published: two theory modules without quiz, one with the quiz, one practical."""
    course = make_course(
        admin_client,
        [NO_QUIZ, {**NO_QUIZ, "title": "边缘计算", "hours": 1.5}, WITH_QUIZ, PRACTICAL],
        instructor=instructor,
        base=FULL_COURSE,
    )
    modules = course["modules"]
    course["modules"] = modules
    return course


@pytest.fixture
def plain(course):
    return course["modules"][0]


@pytest.fixture
def quiz_module(course):
    return course["modules"][2]


@pytest.fixture
def practical(course):
    return course["modules"][3]


@pytest.fixture
def enrollment(teacher_client, course):
    return enrolled(teacher_client, course["id"])


def set_enrollment_status(enrollment_id: int, status: str) -> None:
    db.session.get(Enrollment, enrollment_id).status = status
    db.session.commit()


# --- the "done when" path ------------------------------------------------------------------


def test_teacher_completes_theory_and_passes_the_quiz_on_the_second_attempt(
    teacher_client, course, enrollment, quiz_module
):
    for module in course["modules"][:2]:
        response = complete(teacher_client, module["id"])
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        assert body["module_id"] == module["id"] and body["enrollment_id"] == enrollment["id"]
        assert body["how"] == "manual" and body["marked_by_id"] is None
        assert body["hours_credited"] == module["hours"] and body["completed_at"]

    first = attempt(teacher_client, quiz_module["id"], ONLY_FIRST_RIGHT)
    assert first.status_code == 201, first.get_json()
    assert first.get_json() | {"submitted_at": None} == {
        "attempt_no": 1,
        "score": 2.0,
        "max_score": 5.0,
        "percent": 40.0,
        "passed": False,
        "attempts_left": 2,
        "best_percent": 40.0,
        "completed": False,
        "submitted_at": None,
    }
    middle = by_module(progress_ok(teacher_client, enrollment["id"]))[quiz_module["id"]]
    assert (middle["status"], middle["hours_credited"], middle["attempts"]) == ("failed", 0, 1)

    second = attempt(teacher_client, quiz_module["id"], ALL_RIGHT).get_json()
    assert (second["attempt_no"], second["score"], second["percent"]) == (2, 5.0, 100.0)
    assert second["passed"] and second["completed"] and second["attempts_left"] == 1
    assert second["best_percent"] == 100.0

    body = progress_ok(teacher_client, enrollment["id"])
    modules = by_module(body)
    assert [modules[m["id"]]["status"] for m in course["modules"]] == [
        "completed",
        "completed",
        "completed",
        "not_started",
    ]
    assert modules[quiz_module["id"]] | {"title": None} == {
        "module_id": quiz_module["id"],
        "kind": "theory",
        "title": None,
        "required": True,
        "hours": 4.0,
        "has_quiz": True,
        "status": "completed",
        "hours_credited": 4.0,
        "attempts": 2,
        "best_percent": 100.0,
    }
    assert (body["theory_hours"], body["practical_hours"], body["total_hours"]) == (7.5, 0, 7.5)
    assert body["view"] == "teacher" and body["status"] == "active"


# --- manual completion ---------------------------------------------------------------------


def test_completing_twice_returns_the_existing_completion_with_200(
    teacher_client, enrollment, plain
):
    first = complete(teacher_client, plain["id"])
    assert first.status_code == 201
    again = complete(teacher_client, plain["id"])
    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()


def test_a_module_with_a_quiz_cannot_be_marked_complete(teacher_client, enrollment, quiz_module):
    assert_problem(complete(teacher_client, quiz_module["id"]), 409, "quiz-required")


def test_a_practical_module_is_not_completed_nor_quizzed(teacher_client, enrollment, practical):
    assert_problem(complete(teacher_client, practical["id"]), 409, "not-a-theory-module")
    assert_problem(attempt(teacher_client, practical["id"], [[0]]), 409, "not-a-theory-module")


def test_a_module_without_a_quiz_takes_no_attempts(teacher_client, enrollment, plain):
    assert_problem(attempt(teacher_client, plain["id"], [[0]]), 409, "no-quiz")


def test_an_unknown_module_is_404(teacher_client, enrollment):
    assert_problem(complete(teacher_client, 999_999), 404)
    assert_problem(attempt(teacher_client, 999_999, [[0]]), 404)


# --- who may work on a module --------------------------------------------------------------


def test_a_teacher_not_enrolled_gets_404(other_teacher_client, course, plain, quiz_module):
    assert_problem(complete(other_teacher_client, plain["id"]), 404)
    assert_problem(attempt(other_teacher_client, quiz_module["id"], ALL_RIGHT), 404)
    assert_problem(
        other_teacher_client.get(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts"), 404
    )


def test_a_waitlisted_teacher_gets_404(app, users, admin_client, teacher_client):
    course = make_course(
        admin_client, [NO_QUIZ, WITH_QUIZ], capacity=1, waitlist_enabled=True, base=FULL_COURSE
    )
    (module, quiz_module) = course["modules"]
    enrolled(client_for(app, users.create()), course["id"])
    assert enrolled(teacher_client, course["id"])["status"] == "waitlisted"
    assert_problem(complete(teacher_client, module["id"]), 404)
    assert_problem(attempt(teacher_client, quiz_module["id"], ALL_RIGHT), 404)


def test_a_withdrawn_teacher_gets_404(teacher_client, enrollment, plain, quiz_module):
    response = teacher_client.post(f"/api/v1/enrollments/{enrollment['id']}/withdraw")
    assert response.status_code == 200, response.get_json()
    assert_problem(complete(teacher_client, plain["id"]), 404)
    assert_problem(attempt(teacher_client, quiz_module["id"], ALL_RIGHT), 404)


def test_a_completed_enrolment_gets_409_but_still_reads_its_attempts(
    teacher_client, enrollment, plain, quiz_module
):
    assert attempt(teacher_client, quiz_module["id"], ONLY_FIRST_RIGHT).status_code == 201
    set_enrollment_status(enrollment["id"], "completed")
    assert_problem(complete(teacher_client, plain["id"]), 409, "enrollment-not-active")
    assert_problem(
        attempt(teacher_client, quiz_module["id"], ALL_RIGHT), 409, "enrollment-not-active"
    )
    listed = teacher_client.get(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts")
    assert listed.status_code == 200 and len(listed.get_json()) == 1


def test_a_closed_course_takes_no_more_work(
    admin_client, teacher_client, course, enrollment, plain
):
    assert admin_client.post(f"/api/v1/courses/{course['id']}/close").status_code == 200
    assert_problem(complete(teacher_client, plain["id"]), 409, "course-not-open")


def test_course_staff_do_not_take_modules(
    admin_client, instructor_client, course, plain, quiz_module
):
    for client in (admin_client, instructor_client):
        assert_problem(complete(client, plain["id"]), 403)
        assert_problem(attempt(client, quiz_module["id"], ALL_RIGHT), 403)
        assert_problem(client.get(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts"), 404)


def test_anonymous_callers_get_401(client, course, plain, quiz_module):
    client.fetch_csrf()
    assert_problem(complete(client, plain["id"]), 401)
    assert_problem(attempt(client, quiz_module["id"], ALL_RIGHT), 401)
    assert_problem(client.get(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts"), 401)


# --- scoring -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "score"),
    [
        ([[0], [0, 1, 2]], 5.0),  # both right
        ([[0], [2, 0, 1]], 5.0),  # order does not matter
        ([[0, 0], [1, 1, 0, 2]], 5.0),  # duplicates count once
        ([[0], [0, 1]], 2.0),  # a subset of the correct set scores nothing
        ([[0], [0, 1, 2, 3]], 2.0),  # nor does a superset
        ([[0, 1], [0, 1, 2]], 3.0),  # a second choice on a single-choice question is wrong
        ([[], []], 0.0),  # unanswered
        ([[2], [3]], 0.0),
    ],
)
def test_a_question_scores_only_when_the_chosen_set_equals_the_correct_set(
    teacher_client, enrollment, quiz_module, answers, score
):
    body = attempt(teacher_client, quiz_module["id"], answers).get_json()
    assert body["score"] == score and body["max_score"] == 5.0
    assert body["passed"] is (score / 5 >= 0.6)


def test_the_percent_is_rounded_down_and_passes_exactly_at_the_pass_percent(
    admin_client, teacher_client
):
    quiz = {
        "pass_percent": 66.67,
        "questions": [
            {"prompt": f"第{i}题", "choices": ["对", "错"], "correct": [0]} for i in range(3)
        ],
    }
    course = make_course(admin_client, [{**NO_QUIZ, "quiz": quiz}], base=FULL_COURSE)
    (module,) = course["modules"]
    enrolled(teacher_client, course["id"])
    two_of_three = attempt(teacher_client, module["id"], [[0], [0], [1]]).get_json()
    assert two_of_three["percent"] == 66.66 and two_of_three["passed"] is False
    assert two_of_three["attempts_left"] is None  # unlimited
    all_three = attempt(teacher_client, module["id"], [[0], [0], [0]]).get_json()
    assert all_three["percent"] == 100.0 and all_three["passed"] is True


# --- attempts ------------------------------------------------------------------------------


def test_attempts_stop_at_the_limit(teacher_client, enrollment, quiz_module):
    lefts = [
        attempt(teacher_client, quiz_module["id"], ONLY_FIRST_RIGHT).get_json()["attempts_left"]
        for _ in range(3)
    ]
    assert lefts == [2, 1, 0]
    assert_problem(attempt(teacher_client, quiz_module["id"], ALL_RIGHT), 409, "no-attempts-left")
    listed = teacher_client.get(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts").get_json()
    assert [a["attempt_no"] for a in listed] == [1, 2, 3]
    assert not any(a["passed"] for a in listed)


def test_attempting_after_passing_is_allowed_and_the_best_attempt_counts(
    teacher_client, enrollment, quiz_module
):
    assert attempt(teacher_client, quiz_module["id"], ALL_RIGHT).get_json()["passed"]
    worse = attempt(teacher_client, quiz_module["id"], [[], []])
    assert worse.status_code == 201
    assert worse.get_json() | {"submitted_at": None} == {
        "attempt_no": 2,
        "score": 0.0,
        "max_score": 5.0,
        "percent": 0.0,
        "passed": False,
        "attempts_left": 1,
        "best_percent": 100.0,
        "completed": True,
        "submitted_at": None,
    }
    module = by_module(progress_ok(teacher_client, enrollment["id"]))[quiz_module["id"]]
    assert (module["status"], module["hours_credited"], module["best_percent"]) == (
        "completed",
        4.0,
        100.0,
    )


def test_each_teacher_lists_only_their_own_attempts(
    app, users, teacher_client, course, enrollment, quiz_module
):
    other = client_for(app, users.create())
    enrolled(other, course["id"])
    attempt(teacher_client, quiz_module["id"], ONLY_FIRST_RIGHT)
    attempt(teacher_client, quiz_module["id"], ALL_RIGHT)
    attempt(other, quiz_module["id"], [[1], [3]])
    mine = teacher_client.get(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts")
    assert mine.status_code == 200 and json.loads(mine.headers["X-Pagination"])["total"] == 2
    assert [a["answers"] for a in mine.get_json()] == [ONLY_FIRST_RIGHT, ALL_RIGHT]
    theirs = other.get(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts").get_json()
    assert [(a["attempt_no"], a["answers"], a["score"]) for a in theirs] == [(1, [[1], [3]], 0)]


def test_a_teacher_never_receives_the_correct_answers(teacher_client, enrollment, quiz_module):
    posted = attempt(teacher_client, quiz_module["id"], ONLY_FIRST_RIGHT)
    listed = teacher_client.get(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts")
    for response in (posted, listed):
        assert response.status_code in (200, 201)
        assert "correct" not in response.get_data(as_text=True)
    assert set(posted.get_json()) == {
        "attempt_no",
        "score",
        "max_score",
        "percent",
        "passed",
        "attempts_left",
        "best_percent",
        "completed",
        "submitted_at",
    }
    # what was sent is echoed back, never what was expected
    assert listed.get_json()[0]["answers"] == ONLY_FIRST_RIGHT


def test_a_concurrent_attempt_taking_the_number_is_retried_once(
    monkeypatch, teacher_client, enrollment, quiz_module
):
    """The unique (enrolment, module, attempt_no) decides; the loser retries once."""
    assert attempt(teacher_client, quiz_module["id"], ONLY_FIRST_RIGHT).status_code == 201
    real_count, reads = services._attempt_count, []

    def count(enrollment, module):
        # The first read misses attempt 1, as it would while a concurrent request inserts it.
        reads.append(module.id)
        return 0 if len(reads) == 1 else real_count(enrollment, module)

    monkeypatch.setattr(services, "_attempt_count", count)
    body = attempt(teacher_client, quiz_module["id"], ALL_RIGHT).get_json()
    assert body["attempt_no"] == 2 and body["passed"] and len(reads) == 2


def test_a_concurrent_attempt_that_keeps_colliding_answers_409(
    monkeypatch, teacher_client, enrollment, quiz_module
):
    assert attempt(teacher_client, quiz_module["id"], ONLY_FIRST_RIGHT).status_code == 201
    monkeypatch.setattr(services, "_attempt_count", lambda enrollment, module: 0)
    assert_problem(attempt(teacher_client, quiz_module["id"], ALL_RIGHT), 409, "attempt-conflict")
    listed = teacher_client.get(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts").get_json()
    assert len(listed) == 1


# --- answer validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answers": [[0]]}, "answers"),  # too few answers
        ({"answers": [[0], [0], [1]]}, "answers"),  # too many
        ({"answers": [[3], [0]]}, "answers"),  # index beyond the choices
        ({"answers": [[0], [-1]]}, "answers"),  # negative index
        ({"answers": [[0], ["1"]]}, "answers"),  # a string
        ({"answers": [[0], [True]]}, "answers"),  # a boolean
        ({"answers": [[0], [1.5]]}, "answers"),  # a float
        ({"answers": [0, [1]]}, "answers"),  # not a list of lists
        ({"answers": "0,1"}, "answers"),
        ({"answers": []}, "answers"),
        ({}, "answers"),  # missing
        ({"answers": ALL_RIGHT, "score": 5}, "score"),  # unknown field
    ],
)
def test_invalid_answers_are_refused_with_422_and_nothing_is_written(
    teacher_client, enrollment, quiz_module, body, field
):
    response = teacher_client.post(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts", json=body)
    problem = assert_problem(response, 422)
    assert field in problem["errors"], problem
    listed = teacher_client.get(f"/api/v1/modules/{quiz_module['id']}/quiz-attempts").get_json()
    assert listed == []
    assert attempt(teacher_client, quiz_module["id"], ALL_RIGHT).get_json()["attempt_no"] == 1


def test_out_of_range_indexes_are_reported_per_question(teacher_client, enrollment, quiz_module):
    problem = assert_problem(attempt(teacher_client, quiz_module["id"], [[5], [0, 4]]), 422)
    assert set(problem["errors"]["answers"]) == {"0", "1"}
    assert "0 to 2" in problem["errors"]["answers"]["0"][0]


# --- staff-marked completion ---------------------------------------------------------------


def mark(client, enrollment_id, module_id):
    return client.post(f"/api/v1/enrollments/{enrollment_id}/modules/{module_id}/completion")


def test_the_assigned_instructor_marks_a_module_complete_and_it_is_audited(
    admin_client, teacher_client, instructor, instructor_client, enrollment, quiz_module
):
    response = mark(instructor_client, enrollment["id"], quiz_module["id"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["how"] == "instructor" and body["marked_by_id"] == instructor.id
    assert body["hours_credited"] == 4.0
    again = mark(instructor_client, enrollment["id"], quiz_module["id"])
    assert again.status_code == 200 and again.get_json() == body

    events = admin_client.get("/api/v1/audit-events?action=module.completed_by_staff").get_json()
    assert [
        (e["entity_type"], e["entity_id"], e["actor_id"], e["data"]["module_id"]) for e in events
    ] == [("enrollment", str(enrollment["id"]), instructor.id, quiz_module["id"])]

    module = by_module(progress_ok(teacher_client, enrollment["id"]))[quiz_module["id"]]
    assert (module["status"], module["hours_credited"]) == ("completed", 4.0)
    # the quiz can still be taken; a failed attempt does not undo the staff completion
    assert attempt(teacher_client, quiz_module["id"], [[], []]).get_json()["completed"] is True


def test_an_admin_marks_a_module_complete(admin_client, admin, enrollment, plain):
    body = mark(admin_client, enrollment["id"], plain["id"]).get_json()
    assert body["how"] == "instructor" and body["marked_by_id"] == admin.id


def test_a_teacher_already_done_is_not_marked_again(
    teacher_client, instructor_client, enrollment, plain
):
    assert complete(teacher_client, plain["id"]).status_code == 201
    response = mark(instructor_client, enrollment["id"], plain["id"])
    assert response.status_code == 200 and response.get_json()["how"] == "manual"


def test_staff_marking_is_refused_to_everyone_else(
    client,
    teacher_client,
    other_teacher_client,
    other_instructor_client,
    course,
    enrollment,
    plain,
):
    assert_problem(mark(teacher_client, enrollment["id"], plain["id"]), 403)
    assert_problem(mark(other_teacher_client, enrollment["id"], plain["id"]), 404)
    assert_problem(mark(other_instructor_client, enrollment["id"], plain["id"]), 404)
    client.fetch_csrf()
    assert_problem(mark(client, enrollment["id"], plain["id"]), 401)


def test_staff_marking_checks_the_module_and_the_enrolment(
    admin_client, instructor_client, course, enrollment, practical
):
    (elsewhere,) = make_course(admin_client, [NO_QUIZ], base=FULL_COURSE)["modules"]
    assert_problem(mark(instructor_client, enrollment["id"], elsewhere["id"]), 404)
    assert_problem(mark(instructor_client, enrollment["id"], 999_999), 404)
    assert_problem(mark(instructor_client, 999_999, elsewhere["id"]), 404)
    assert_problem(
        mark(instructor_client, enrollment["id"], practical["id"]), 409, "not-a-theory-module"
    )
    set_enrollment_status(enrollment["id"], "withdrawn")
    assert_problem(
        mark(instructor_client, enrollment["id"], course["modules"][0]["id"]),
        409,
        "enrollment-not-active",
    )
    events = admin_client.get("/api/v1/audit-events?action=module.completed_by_staff").get_json()
    assert events == []


# --- modules in use ------------------------------------------------------------------------


def test_a_module_with_completions_cannot_be_deleted(
    admin_client, teacher_client, course, enrollment, plain
):
    assert complete(teacher_client, plain["id"]).status_code == 201
    assert_problem(admin_client.delete(f"/api/v1/modules/{plain['id']}"), 409, "module-in-use")
    untouched = course["modules"][1]
    assert admin_client.delete(f"/api/v1/modules/{untouched['id']}").status_code == 204


def test_a_quiz_with_attempts_cannot_be_replaced_or_deleted(
    admin_client, teacher_client, enrollment, quiz_module
):
    assert attempt(teacher_client, quiz_module["id"], ONLY_FIRST_RIGHT).status_code == 201
    replaced = admin_client.patch(
        f"/api/v1/modules/{quiz_module['id']}", json={"quiz": {**QUIZ, "pass_percent": 10}}
    )
    assert_problem(replaced, 409, "module-in-use")
    assert_problem(
        admin_client.delete(f"/api/v1/modules/{quiz_module['id']}"), 409, "module-in-use"
    )
    # other fields may still change
    renamed = admin_client.patch(f"/api/v1/modules/{quiz_module['id']}", json={"title": "新标题"})
    assert renamed.status_code == 200, renamed.get_json()


# --- real concurrency (PostgreSQL) ---------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.real_db
@pytest.mark.slow
def test_concurrent_attempts_never_exceed_the_limit_nor_complete_twice(app):
    """Six sessions of one teacher submit a passing attempt at once (limit 3): attempt
    numbers stay unique and contiguous, the limit holds, the module is completed once."""
    factory = UserFactory()
    with app.app_context():
        admin, teacher = factory.create(role="admin"), factory.create(role="teacher")
        admin_email, teacher_email = admin.email, teacher.email
    admin_client = client_for(app, admin_email, own_address=True)
    course = make_course(admin_client, [WITH_QUIZ], base=FULL_COURSE)
    (module,) = course["modules"]
    enrollment = enrolled(client_for(app, teacher_email, own_address=True), course["id"])
    clients = [client_for(app, teacher_email, own_address=True) for _ in range(6)]
    barrier = threading.Barrier(len(clients), timeout=60)

    def submit(client):
        barrier.wait()
        response = attempt(client, module["id"], ALL_RIGHT)
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        results = list(pool.map(submit, clients, timeout=120))

    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {201, 409} and 1 <= statuses[201] <= 3, results
    assert {body["code"] for status, body in results if status == 409} <= {
        "no-attempts-left",
        "attempt-conflict",
    }
    with app.app_context():
        numbers = db.session.scalars(
            select(QuizAttempt.attempt_no)
            .where(QuizAttempt.enrollment_id == enrollment["id"])
            .order_by(QuizAttempt.attempt_no)
        ).all()
        completions = db.session.scalar(
            select(func.count())
            .select_from(ModuleCompletion)
            .where(ModuleCompletion.enrollment_id == enrollment["id"])
        )
    assert numbers == list(range(1, statuses[201] + 1))
    assert completions == 1

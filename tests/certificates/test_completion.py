"""Completion over HTTP: the course completion list (reasons, filters, summary, who may read
it, a query count that does not grow with the enrolments or the modules) and the verdict in
an enrolment's progress (as the viewer sees it).

Completions, submissions and grades are written straight to the database where the test is
about how completion reads them, not how they are made.
"""

from __future__ import annotations

import json

import pytest

from lms.extensions import db
from lms.practicals.models import GradeRelease
from tests.builders import add_completion, add_enrolment, add_submission
from tests.http import (
    assert_problem,
    attempt,
    client_for,
    complete,
    enrolled,
    make_course,
    progress_ok,
)
from tests.payloads import ALL_RIGHT, FULL_COURSE, NO_QUIZ, ONLY_FIRST_RIGHT, PRACTICAL, WITH_QUIZ

OPTIONAL_THEORY = {**NO_QUIZ, "title": "选修：数字孪生", "hours": 2, "required": False}
OPTIONAL_PRACTICAL = {**PRACTICAL, "title": "选修：边缘计算实训", "hours": 4, "required": False}
# Required theory is 2 + 4 hours: the 8 theory hours need the optional theory module too.
MODULES = [NO_QUIZ, WITH_QUIZ, OPTIONAL_THEORY, PRACTICAL, OPTIONAL_PRACTICAL]
MIN_HOURS = {"min_theory_hours": 8, "min_practical_hours": 8}


@pytest.fixture
def course(admin_client, instructor):
    course = make_course(
        admin_client, MODULES, instructor=instructor, **MIN_HOURS, base=FULL_COURSE
    )
    modules = course["modules"]
    names = ("theory", "quiz", "optional", "practical", "elective")
    course["modules"] = dict(zip(names, modules, strict=True))
    return course


# --- builders --------------------------------------------------------------------------------


def everything_required(enrollment_id: int, course: dict) -> None:
    modules = course["modules"]
    add_completion(enrollment_id, modules["theory"], modules["quiz"])
    add_submission(enrollment_id, modules["practical"], status="graded", passed=True)


def completion(client, course_id: int, query: str = ""):
    return client.get(f"/api/v1/courses/{course_id}/completion?page_size=100{query}")


def completion_ok(client, course_id: int, query: str = "") -> tuple[list[dict], dict]:
    """The entries and the summary header."""
    response = completion(client, course_id, query)
    assert response.status_code == 200, response.get_json()
    return response.get_json(), json.loads(response.headers["X-Completion-Summary"])


def by_enrolment(entries: list[dict]) -> dict[int, dict]:
    return {e["enrollment_id"]: e for e in entries}


def module_reason(module: dict, reason: str, **more) -> dict:
    return {"module_id": module["id"], "title": module["title"], "reason": reason, **more}


def hours_reason(reason: str, missing, required, credited) -> dict:
    return {
        "reason": reason,
        "hours_missing": missing,
        "hours_required": required,
        "hours_credited": credited,
    }


# --- reasons ---------------------------------------------------------------------------------


def test_each_enrolment_gets_its_exact_reasons(users, admin_client, course):
    modules = course["modules"]
    nothing = add_enrolment(course, users.create(full_name="赵一")).id
    practical_failed = add_enrolment(course, users.create(full_name="钱二")).id
    add_completion(practical_failed, modules["theory"], modules["quiz"], modules["optional"])
    add_submission(practical_failed, modules["practical"], status="graded", passed=False)
    hours_short = add_enrolment(course, users.create(full_name="孙三")).id
    everything_required(hours_short, course)
    all_done = add_enrolment(course, users.create(full_name="李四", full_name_en="Li Si")).id
    everything_required(all_done, course)
    add_completion(all_done, modules["optional"])  # the optional practical stays undone: no matter

    entries, summary = completion_ok(admin_client, course["id"])
    rows = by_enrolment(entries)
    assert [e["enrollment_id"] for e in entries] == [
        nothing,
        practical_failed,
        hours_short,
        all_done,
    ]
    assert summary == {"eligible": 1, "not_eligible": 3}

    assert rows[nothing]["eligible"] is False
    assert rows[nothing]["missing"] == [
        module_reason(modules["theory"], "module_not_completed"),
        module_reason(modules["quiz"], "module_not_completed"),
        module_reason(modules["practical"], "module_not_passed", status="not_started"),
        hours_reason("theory_hours_missing", 8, 8, 0),
        hours_reason("practical_hours_missing", 8, 8, 0),
    ]
    assert rows[practical_failed]["missing"] == [
        module_reason(modules["practical"], "module_not_passed", status="failed"),
        hours_reason("practical_hours_missing", 8, 8, 0),
    ]
    assert rows[practical_failed]["theory_hours"] == 8
    # every required module is done, but 6 theory hours < 8: the optional module counts
    assert rows[hours_short]["missing"] == [hours_reason("theory_hours_missing", 2, 8, 6)]
    assert (rows[hours_short]["theory_hours"], rows[hours_short]["practical_hours"]) == (6, 8)
    assert rows[all_done]["eligible"] is True and rows[all_done]["missing"] == []


def test_an_entry_says_who_and_gives_hours_as_json_numbers(users, admin_client, course):
    user = users.create(full_name="李四", full_name_en="Li Si", institution="广东轻工职业技术学院")
    enrollment_id = add_enrolment(course, user).id
    everything_required(enrollment_id, course)
    (entry,), _ = completion_ok(admin_client, course["id"])
    assert {k: entry[k] for k in ("enrollment_id", "user_id", "full_name", "status")} == {
        "enrollment_id": enrollment_id,
        "user_id": user.id,
        "full_name": "李四",
        "status": "active",
    }
    assert (entry["full_name_en"], entry["institution"]) == ("Li Si", "广东轻工职业技术学院")
    assert (entry["theory_hours"], entry["practical_hours"], entry["total_hours"]) == (6, 8, 14)
    (reason,) = entry["missing"]
    numbers = [entry[k] for k in ("theory_hours", "practical_hours", "total_hours")]
    numbers += [reason[k] for k in ("hours_missing", "hours_required", "hours_credited")]
    numbers += [m["hours_credited"] for m in entry["modules"]]
    assert all(type(n) in (int, float) for n in numbers), numbers
    modules = course["modules"]
    assert entry["modules"] == [
        {
            "module_id": modules["theory"]["id"],
            "kind": "theory",
            "status": "completed",
            "hours_credited": 2,
        },
        {
            "module_id": modules["quiz"]["id"],
            "kind": "theory",
            "status": "completed",
            "hours_credited": 4,
        },
        {
            "module_id": modules["optional"]["id"],
            "kind": "theory",
            "status": "not_started",
            "hours_credited": 0,
        },
        {
            "module_id": modules["practical"]["id"],
            "kind": "practical",
            "status": "passed",
            "hours_credited": 8,
        },
        {
            "module_id": modules["elective"]["id"],
            "kind": "practical",
            "status": "not_started",
            "hours_credited": 0,
        },
    ]


def test_optional_modules_do_not_block_without_minimum_hours(users, admin_client, instructor):
    course = make_course(
        admin_client,
        MODULES,
        instructor=instructor,
        min_theory_hours=0,
        min_practical_hours=0,
        base=FULL_COURSE,
    )
    modules = course["modules"]
    enrollment_id = add_enrolment({"id": course["id"]}, users.create()).id
    add_completion(enrollment_id, modules[0], modules[1])
    add_submission(enrollment_id, modules[3], status="graded", passed=True)
    add_submission(
        enrollment_id, modules[4], status="graded", passed=False
    )  # a failed optional practical does not matter
    (entry,), summary = completion_ok(admin_client, course["id"])
    assert (entry["eligible"], entry["missing"], summary) == (
        True,
        [],
        {"eligible": 1, "not_eligible": 0},
    )


def test_a_quiz_module_needs_its_quiz_passed_or_a_staff_mark(
    app, users, admin_client, instructor_client, course
):
    modules = course["modules"]
    teacher = users.create()
    teacher_client = client_for(app, teacher)
    enrollment_id = enrolled(teacher_client, course["id"])["id"]
    add_completion(enrollment_id, modules["theory"], modules["optional"])
    add_submission(enrollment_id, modules["practical"], status="graded", passed=True)
    assert attempt(teacher_client, modules["quiz"]["id"], ONLY_FIRST_RIGHT).status_code == 201

    (entry,), _ = completion_ok(admin_client, course["id"])
    assert entry["missing"] == [
        module_reason(modules["quiz"], "module_not_completed"),
        hours_reason("theory_hours_missing", 4, 8, 4),
    ]
    # a manual completion is refused on a quiz module: the quiz must be passed
    assert_problem(complete(teacher_client, modules["quiz"]["id"]), 409, "quiz-required")

    # course staff may mark it complete (work done elsewhere): that counts
    response = instructor_client.post(
        f"/api/v1/enrollments/{enrollment_id}/modules/{modules['quiz']['id']}/completion"
    )
    assert response.status_code == 201, response.get_json()
    (entry,), _ = completion_ok(admin_client, course["id"])
    assert (entry["eligible"], entry["missing"]) == (True, [])


def test_passing_the_quiz_completes_the_module(app, users, admin_client, course):
    modules = course["modules"]
    teacher_client = client_for(app, users.create())
    enrollment_id = enrolled(teacher_client, course["id"])["id"]
    add_completion(enrollment_id, modules["theory"], modules["optional"])
    add_submission(enrollment_id, modules["practical"], status="graded", passed=True)
    assert attempt(teacher_client, modules["quiz"]["id"], ALL_RIGHT).get_json()["passed"] is True
    (entry,), _ = completion_ok(admin_client, course["id"])
    assert (entry["eligible"], entry["theory_hours"]) == (True, 8)


def test_waitlisted_and_withdrawn_are_listed_only_on_request_and_never_eligible(
    users, admin_client, course
):
    active = add_enrolment(course, users.create()).id
    finished = add_enrolment(course, users.create(), "completed").id
    waitlisted = add_enrolment(course, users.create(), "waitlisted").id
    withdrawn = add_enrolment(course, users.create(), "withdrawn").id
    for enrollment_id in (active, finished, waitlisted, withdrawn):
        everything_required(enrollment_id, course)
        add_completion(enrollment_id, course["modules"]["optional"])

    entries, summary = completion_ok(admin_client, course["id"])
    assert [e["enrollment_id"] for e in entries] == [active, finished]
    assert summary == {"eligible": 2, "not_eligible": 0}

    entries, summary = completion_ok(
        admin_client, course["id"], "&status=waitlisted&status=withdrawn"
    )
    rows = by_enrolment(entries)
    assert sorted(rows) == [waitlisted, withdrawn]
    assert rows[waitlisted]["missing"] == [
        {"reason": "enrollment_not_active", "status": "waitlisted"}
    ]
    assert rows[withdrawn]["missing"] == [
        {"reason": "enrollment_not_active", "status": "withdrawn"}
    ]
    assert not any(e["eligible"] for e in entries)
    assert summary == {"eligible": 0, "not_eligible": 2}


# --- filters, pages, summary -----------------------------------------------------------------


@pytest.fixture
def mixed(users, course):
    """Five enrolments: the 2nd and 5th eligible; ids in order."""
    ids = []
    for n in range(5):
        enrollment_id = add_enrolment(
            course, users.create(full_name=f"学员{n}", email=f"mixed{n}@school{n % 2}.edu.cn")
        ).id
        if n in (1, 4):
            everything_required(enrollment_id, course)
            add_completion(enrollment_id, course["modules"]["optional"])
        ids.append(enrollment_id)
    return ids


def test_the_eligible_filter_pages_through_the_evaluated_set(admin_client, course, mixed):
    entries, summary = completion_ok(admin_client, course["id"], "&eligible=true")
    assert [e["enrollment_id"] for e in entries] == [mixed[1], mixed[4]]
    assert all(e["eligible"] for e in entries)
    assert summary == {"eligible": 2, "not_eligible": 3}  # whatever the eligible filter

    entries, _ = completion_ok(admin_client, course["id"], "&eligible=false")
    assert [e["enrollment_id"] for e in entries] == [mixed[0], mixed[2], mixed[3]]

    url = f"/api/v1/courses/{course['id']}/completion?eligible=false&page_size=2"
    first, second = admin_client.get(url), admin_client.get(url + "&page=2")
    assert [e["enrollment_id"] for e in first.get_json()] == [mixed[0], mixed[2]]
    assert [e["enrollment_id"] for e in second.get_json()] == [mixed[3]]
    pagination = json.loads(second.headers["X-Pagination"])
    assert (pagination["total"], pagination["total_pages"], pagination["page"]) == (3, 2, 2)
    assert json.loads(second.headers["X-Completion-Summary"]) == summary
    assert admin_client.get(url + "&page=3").get_json() == []


def test_q_searches_names_and_emails_and_narrows_the_summary(admin_client, course, mixed):
    entries, summary = completion_ok(admin_client, course["id"], "&q=SCHOOL1")
    assert [e["enrollment_id"] for e in entries] == [mixed[1], mixed[3]]
    assert summary == {"eligible": 1, "not_eligible": 1}
    entries, _ = completion_ok(admin_client, course["id"], "&q=学员4")
    assert [e["enrollment_id"] for e in entries] == [mixed[4]]
    entries, summary = completion_ok(admin_client, course["id"], "&q=%25")  # a literal %
    assert (entries, summary) == ([], {"eligible": 0, "not_eligible": 0})


@pytest.mark.parametrize(
    "query", ["status=graduated", "eligible=maybe", "q=", "page_size=101", "page=0"]
)
def test_invalid_filters_are_refused(admin_client, course, query):
    assert_problem(admin_client.get(f"/api/v1/courses/{course['id']}/completion?{query}"), 422)


def test_an_empty_course_has_an_empty_list(admin_client, course):
    entries, summary = completion_ok(admin_client, course["id"])
    assert (entries, summary) == ([], {"eligible": 0, "not_eligible": 0})


# --- who may read it -------------------------------------------------------------------------


def test_completion_is_read_by_admins_and_the_course_instructors_only(
    app, users, client, admin_client, instructor_client, teacher_client, course
):
    enrolled(teacher_client, course["id"])
    assert completion(admin_client, course["id"]).status_code == 200
    assert completion(instructor_client, course["id"]).status_code == 200

    other_instructor = client_for(app, users.create(role="instructor"))
    assert_problem(completion(other_instructor, course["id"]), 404)
    # an enrolled teacher sees the published course, but is not its staff
    assert_problem(completion(teacher_client, course["id"]), 403)
    assert_problem(completion(client, course["id"]), 401)
    assert_problem(completion(admin_client, 999_999), 404)
    # 404/403 come before the validation of the query
    assert_problem(other_instructor.get(f"/api/v1/courses/{course['id']}/completion?status=x"), 404)


def test_a_teacher_gets_404_for_a_draft_course(admin_client, teacher_client, instructor):
    draft = make_course(
        admin_client, [NO_QUIZ], instructor=instructor, publish=False, base=FULL_COURSE
    )
    assert_problem(completion(teacher_client, draft["id"]), 404)
    assert completion(admin_client, draft["id"]).status_code == 200


# --- the verdict in an enrolment's progress --------------------------------------------------


def test_progress_gives_the_verdict_with_its_reasons(teacher_client, instructor_client, course):
    enrollment_id = enrolled(teacher_client, course["id"])["id"]
    assert complete(teacher_client, course["modules"]["theory"]["id"]).status_code == 201
    body = progress_ok(teacher_client, enrollment_id)
    modules = course["modules"]
    assert body["eligible"] is False
    assert body["missing"] == [
        module_reason(modules["quiz"], "module_not_completed"),
        module_reason(modules["practical"], "module_not_passed", status="not_started"),
        hours_reason("theory_hours_missing", 6, 8, 2),
        hours_reason("practical_hours_missing", 8, 8, 0),
    ]
    assert progress_ok(instructor_client, enrollment_id)["missing"] == body["missing"]


def test_an_unreleased_pass_counts_for_staff_but_not_yet_for_the_teacher(
    admin_client, teacher_client, instructor, instructor_client
):
    course = make_course(
        admin_client,
        MODULES,
        instructor=instructor,
        grade_release="manual",
        **MIN_HOURS,
        base=FULL_COURSE,
    )
    modules = course["modules"]
    theory, quiz, optional, practical, _ = modules
    enrollment_id = enrolled(teacher_client, course["id"])["id"]
    add_completion(enrollment_id, theory, quiz, optional)
    add_submission(enrollment_id, practical, status="graded", passed=True)

    teacher_view = progress_ok(teacher_client, enrollment_id)
    assert (teacher_view["view"], teacher_view["eligible"]) == ("teacher", False)
    assert teacher_view["missing"] == [
        module_reason(practical, "module_not_passed", status="submitted"),
        hours_reason("practical_hours_missing", 8, 8, 0),
    ]
    staff_view = progress_ok(instructor_client, enrollment_id)
    assert (staff_view["view"], staff_view["eligible"], staff_view["missing"]) == (
        "staff",
        True,
        [],
    )
    (entry,), _ = completion_ok(instructor_client, course["id"])
    assert entry["eligible"] is True  # the course list is a staff view

    db.session.add(GradeRelease(module_id=practical["id"]))
    db.session.commit()
    released = progress_ok(teacher_client, enrollment_id)
    assert (released["eligible"], released["missing"]) == (True, [])


# --- queries ---------------------------------------------------------------------------------


def _course_with_enrolments(users, admin_client, instructor, enrolments: int, repeats: int = 1):
    """A course with ``MODULES * repeats`` and ``enrolments`` teachers in various states."""
    course = make_course(
        admin_client, MODULES * repeats, instructor=instructor, **MIN_HOURS, base=FULL_COURSE
    )
    modules = course["modules"]
    for n in range(enrolments):
        enrollment_id = add_enrolment({"id": course["id"]}, users.create(password=None)).id
        if n % 2:
            add_completion(enrollment_id, *(m for m in modules if m["kind"] == "theory"))
        if n % 3:
            for m in modules:
                if m["kind"] == "practical":
                    add_submission(enrollment_id, m, status="graded", passed=n % 3 == 1)
    return course["id"]


@pytest.mark.slow
def test_the_query_count_does_not_grow_with_enrolments_or_modules(
    users, admin_client, instructor, instructor_client, count_queries
):
    small = _course_with_enrolments(users, admin_client, instructor, 5)
    large = _course_with_enrolments(users, admin_client, instructor, 40)
    wide = _course_with_enrolments(users, admin_client, instructor, 40, repeats=3)
    counts = {}
    for name, course_id in (("small", small), ("large", large), ("wide", wide)):
        completion_ok(instructor_client, course_id)  # warm up the session
        with count_queries() as statements:
            entries, summary = completion_ok(instructor_client, course_id, "&eligible=false")
        counts[name] = len(statements)
        assert sum(summary.values()) == (5 if name == "small" else 40)
        assert len(entries) == summary["not_eligible"]
    # the session and its user, the course, the instructor check, the modules, then the
    # enrolments' ids and the streams of the enrolments with their users and of progress's
    # three kinds of facts
    assert counts == {"small": 9, "large": 9, "wide": 9}, statements
    assert len(entries[0]["modules"]) == 15


def test_batches_follow_each_other_without_losing_or_repeating_anyone(
    monkeypatch, admin_client, course, mixed, count_queries
):
    import lms.completion.eligibility as service

    completion_ok(admin_client, course["id"])
    with count_queries() as one_batch:
        everyone, summary = completion_ok(admin_client, course["id"])
    monkeypatch.setattr(service, "BATCH", 2)
    with count_queries() as three_batches:
        assert completion_ok(admin_client, course["id"]) == (everyone, summary)
    assert len(three_batches) == len(one_batch)  # streamed: batches add no statements
    url = f"/api/v1/courses/{course['id']}/completion?eligible=false&page_size=1&page=3"
    assert [e["enrollment_id"] for e in admin_client.get(url).get_json()] == [mixed[3]]

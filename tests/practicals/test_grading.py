"""Grading over HTTP: rubric scores, feedback sanitising, return for revision, regrades
with ETag / If-Match, history, manual release, the grading queue, and who may do what."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from lms.audit.models import AuditEvent
from lms.extensions import db
from lms.practicals import grading, rules
from lms.practicals.models import Grade, GradeRelease, GradeRevision
from tests.builders import (
    UserFactory,
    add_course,
    add_enrolment,
    add_grade,
    add_instructor,
    add_practical,
    add_submission,
    add_theory,
)
from tests.http import (
    assert_problem,
    client_for,
    graded_setup,
    instructor_of,
    practical_setup,
    scores_for,
    submitted,
)


@pytest.fixture
def g(app, users):
    return graded_setup(app, users)


def _fresh(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


def _events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def _grade_count() -> int:
    return db.session.scalar(select(func.count(Grade.id)))


# --- grading ---------------------------------------------------------------------------------


def test_instructor_grades_a_submission_within_the_rubric(g):
    response = g.grade(30, 35.5, 15, feedback="设备接入完成。")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["submission_id"] == g.submission.id
    assert body["status"] == "graded"
    assert body["total_points"] == 80.5
    assert body["passed"] is True
    assert body["version"] == 1
    assert body["grader_id"] == g.instructor.id
    assert body["graded_at"].endswith("+00:00")
    assert [s["points"] for s in body["scores"]] == [30, 35.5, 15]
    assert response.headers["ETag"] == f'"{body["id"]}-1"' == body["etag"]
    assert _fresh(g.submission).status == "graded"
    revisions = db.session.scalars(select(GradeRevision)).all()
    assert [(r.version, float(r.total_points)) for r in revisions] == [(1, 80.5)]


def test_grades_of_an_archived_course_cannot_change(g):
    g.course.status = "archived"
    db.session.commit()
    assert_problem(g.grade(30, 30, 15), 409, "course-archived")
    assert _grade_count() == 0


def test_a_total_below_pass_points_fails_and_leaves_the_submission_graded(g):
    body = g.grade(20, 20, 10).get_json()
    assert (body["total_points"], body["passed"], body["status"]) == (50, False, "graded")


def test_a_total_equal_to_pass_points_passes(g):
    body = g.grade(20, 30, 10).get_json()
    assert (body["total_points"], body["passed"]) == (60, True)


def test_until_pass_failed_grade_stays_graded_with_passed_false(app, users):
    s = graded_setup(app, users, reopen="until_pass")
    body = s.grade(10, 10, 10).get_json()
    assert (body["status"], body["passed"]) == ("graded", False)
    assert _fresh(s.submission).status == "graded"


def _other_module_criterion(g) -> int:
    other = add_practical(g.course, title="另一个实训")
    return other.criteria[0].id


@pytest.mark.parametrize(
    "case",
    [
        "above_max",
        "negative",
        "three_decimals",
        "missing",
        "duplicate",
        "foreign",
        "empty",
        "string_points",
        "string_id",
    ],
)
def test_invalid_scores_are_refused_with_field_messages_and_nothing_is_written(g, case):
    scores = scores_for(g.module)
    first = scores[0]["criterion_id"]
    if case == "above_max":
        scores[0]["points"] = 40.01
    elif case == "negative":
        scores[1]["points"] = -1
    elif case == "three_decimals":
        scores[2]["points"] = 10.125
    elif case == "missing":
        scores = scores[:2]
    elif case == "duplicate":
        scores.append({"criterion_id": first, "points": 1})
    elif case == "foreign":
        scores[2]["criterion_id"] = _other_module_criterion(g)
    elif case == "empty":
        scores = []
    elif case == "string_points":
        scores[0]["points"] = "many"
    elif case == "string_id":
        scores[0]["criterion_id"] = "abc"
    response = g.instructor_client.post(
        f"/api/v1/submissions/{g.submission.id}/grade", json={"scores": scores}
    )
    body = assert_problem(response, 422, "validation-failed")
    errors = body["errors"]["scores"]
    expected = {
        "above_max": lambda: "Must be at most 40" in errors["0"]["points"][0],
        "negative": lambda: "points" in errors["1"],
        "three_decimals": lambda: "decimal" in errors["2"]["points"][0],
        "missing": lambda: "实训报告" in errors["_schema"][0],
        "duplicate": lambda: "more than once" in errors["3"]["criterion_id"][0],
        "foreign": lambda: "criterion_id" in errors["2"] and "实训报告" in errors["_schema"][0],
        "empty": lambda: errors,
        "string_points": lambda: "points" in errors["0"],
        "string_id": lambda: "criterion_id" in errors["0"],
    }[case]
    assert expected(), errors
    assert _grade_count() == 0
    assert _fresh(g.submission).status == "submitted"
    assert _events("grade.created") == []


def test_feedback_markdown_is_rendered_and_scripts_handlers_and_iframes_are_stripped(g):
    feedback = (
        "**做得好**\n\n- 接入稳定\n- 数据完整\n\n"
        "<script>alert('x')</script>"
        '<img src="x" onerror="alert(1)">'
        '<a href="javascript:alert(2)" onclick="steal()">点我</a>'
        '<iframe src="https://evil.example/"></iframe>'
        "\n\n[正常链接](https://example.org/guide) 与 <em>行内</em>"
    )
    body = g.grade(feedback=feedback).get_json()
    html = body["feedback_html"]
    assert body["feedback"] == feedback  # stored as sent
    assert "<strong>做得好</strong>" in html
    assert "<li>接入稳定</li>" in html and "<ul>" in html
    assert 'href="https://example.org/guide"' in html
    for forbidden in ("<script", "alert", "onerror", "onclick", "javascript:", "<iframe", "<img"):
        assert forbidden not in html, forbidden
    assert "点我" in html  # the link text stays, without its href


def test_plain_text_feedback_keeps_its_line_breaks(g):
    html = g.grade(feedback="第一行\n第二行 <3").get_json()["feedback_html"]
    assert html == "<p>第一行<br>\n第二行 &lt;3</p>\n"


def test_feedback_is_limited_to_20000_characters(g):
    assert_problem(g.grade(feedback="好" * 20_001), 422)
    assert g.grade(feedback="好" * 20_000).status_code == 200


def test_no_feedback_gives_null_html(g):
    body = g.grade().get_json()
    assert body["feedback"] is None and body["feedback_html"] is None


# --- return for revision -------------------------------------------------------------------


def test_return_for_revision_marks_the_submission_returned(g):
    response = g.grade(20, 20, 5, feedback="请补充数据上报部分。", return_for_revision=True)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "returned"
    assert body["returned_for_revision"] is True
    assert _fresh(g.submission).status == "returned"
    [event] = _events("submission.returned")
    assert event.entity_id == str(g.submission.id)
    assert event.data["attempt_no"] == 1


def test_returning_the_last_allowed_attempt_is_refused_as_final(app, users):
    s = graded_setup(app, users, max_attempts=2)
    s.submission.attempt_no = 2  # the first attempt was returned earlier
    db.session.commit()
    response = s.grade(10, 10, 10, return_for_revision=True)
    assert_problem(response, 409, "no-attempts-left")
    assert _grade_count() == 0
    assert _fresh(s.submission).status == "submitted"
    assert s.grade(10, 10, 10).status_code == 200  # grading it without returning is fine


def test_only_the_latest_attempt_can_be_returned(g):
    add_submission(g.enrollment, g.module, attempt_no=2)
    assert_problem(g.grade(return_for_revision=True), 409, "not-latest-attempt")
    assert g.grade().status_code == 200


# --- regrades, ETag and If-Match -----------------------------------------------------------


def test_regrade_requires_if_match_and_keeps_history(g):
    first = g.grade(30, 30, 10)
    tag = first.headers["ETag"]
    assert_problem(g.grade(40, 40, 20), 428, "if-match-required")
    assert_problem(g.grade(40, 40, 20, headers={"If-Match": "*"}), 428)
    stale = tag.replace('-1"', '-0"')
    assert_problem(g.grade(40, 40, 20, headers={"If-Match": stale}), 412, "stale-version")
    assert_problem(g.grade(40, 40, 20, headers={"If-Match": "not-an-etag"}), 412)
    assert_problem(g.grade(40, 40, 20, headers={"If-Match": "W/" + tag}), 412)
    assert_problem(g.grade(40, 40, 20, headers={"If-Match": '"999999-1"'}), 412)

    second = g.grade(40, 40, 20, feedback="复评：满分。", headers={"If-Match": tag})
    body = second.get_json()
    assert second.status_code == 200, body
    assert (body["version"], body["total_points"]) == (2, 100)
    assert second.headers["ETag"] == tag.replace('-1"', '-2"')
    assert_problem(g.grade(0, 0, 0, headers={"If-Match": tag}), 412)  # v1 is stale now

    history = g.instructor_client.get(f"/api/v1/submissions/{g.submission.id}/grade/history")
    assert history.status_code == 200
    versions = [(h["version"], h["total_points"], h["feedback"]) for h in history.get_json()]
    assert versions == [(1, 70, None), (2, 100, "复评：满分。")]
    assert json.loads(history.headers["X-Pagination"])["total"] == 2
    [updated] = _events("grade.updated")
    assert updated.data["old_total_points"] == "70.00"
    assert updated.data["total_points"] == "100.00"
    assert updated.data["version"] == 2


def test_if_match_on_a_first_grade_is_refused(g):
    assert_problem(g.grade(headers={"If-Match": '"1-1"'}), 412)
    assert _grade_count() == 0


def test_a_list_of_etags_in_if_match_matches_the_current_one(g):
    tag = g.grade().headers["ETag"]
    response = g.grade(1, 1, 1, headers={"If-Match": f'"0-9", {tag}'})
    assert response.status_code == 200, response.get_json()


def test_two_instructors_regrading_from_the_same_version_first_wins_second_gets_412(app, users, g):
    other = users.create(role="instructor", full_name="赵导师")
    add_instructor(g.course, other)
    other_client = client_for(app, other)
    g.grade(30, 30, 10)
    tag_a = g.instructor_client.get(f"/api/v1/submissions/{g.submission.id}/grade").headers["ETag"]
    tag_b = other_client.get(f"/api/v1/submissions/{g.submission.id}/grade").headers["ETag"]
    assert tag_a == tag_b

    first = g.grade(35, 35, 15, headers={"If-Match": tag_a})
    second = g.grade(10, 10, 10, client=other_client, headers={"If-Match": tag_b})
    assert first.status_code == 200, first.get_json()
    assert_problem(second, 412, "stale-version")
    grade = db.session.scalar(select(Grade).execution_options(populate_existing=True))
    assert (grade.version, float(grade.total_points), grade.grader_id) == (2, 85, g.instructor.id)
    assert db.session.scalar(select(func.count(GradeRevision.id))) == 2


def test_a_concurrent_first_grade_that_loses_the_insert_gets_409_not_500(g, monkeypatch):
    assert g.grade().status_code == 200
    # The second grader read "no grade" before the first one committed.
    monkeypatch.setattr(grading, "current_grade", lambda submission: None)
    assert_problem(g.grade(1, 1, 1), 409, "grade-exists")
    assert _grade_count() == 1


def test_get_grade_returns_the_grade_with_its_etag(g):
    url = f"/api/v1/submissions/{g.submission.id}/grade"
    assert_problem(g.instructor_client.get(url), 404, "not-graded")
    assert_problem(g.instructor_client.get(url + "/history"), 404, "not-graded")
    posted = g.grade(feedback="好")
    response = g.instructor_client.get(url)
    assert response.status_code == 200
    assert response.headers["ETag"] == posted.headers["ETag"]
    assert response.get_json()["feedback_html"] == "<p>好</p>\n"


def test_audit_events_for_grades(g):
    tag = g.grade(30, 30, 10).headers["ETag"]
    g.grade(10, 10, 5, headers={"If-Match": tag}, return_for_revision=True)
    [created] = _events("grade.created")
    assert created.actor_id == g.instructor.id
    assert created.data["submission_id"] == g.submission.id
    assert created.data["total_points"] == "70.00"
    [updated] = _events("grade.updated")
    assert (updated.data["old_total_points"], updated.data["total_points"]) == ("70.00", "25.00")
    assert (updated.data["old_passed"], updated.data["passed"]) == (True, False)
    assert len(_events("submission.returned")) == 1


# --- who may grade ---------------------------------------------------------------------------


def test_admin_grades_any_course(admin_client, g):
    body = g.grade(client=admin_client).get_json()
    assert body["total_points"] == 100


def test_who_may_grade_matrix(app, users, g, anon):
    outsider = client_for(app, users.create(role="instructor"))
    classmate = users.create(role="teacher")
    add_enrolment(g.course, classmate)
    classmate_client = client_for(app, classmate)
    stranger = client_for(app, users.create(role="teacher"))
    sid = g.submission.id
    # Another course's instructor: the submission does not exist for them, even with a
    # body that would not validate (permission is checked first).
    assert_problem(g.grade(client=outsider), 404)
    assert_problem(outsider.post(f"/api/v1/submissions/{sid}/grade", json={"x": 1}), 404)
    assert_problem(outsider.get(f"/api/v1/submissions/{sid}/grade"), 404)
    assert_problem(outsider.get(f"/api/v1/submissions/{sid}/grade/history"), 404)
    # The owner sees their submission but cannot grade it.
    assert_problem(g.grade(client=g.owner_client), 403)
    assert_problem(g.owner_client.get(f"/api/v1/submissions/{sid}/grade"), 403)
    # Other teachers, enrolled or not, never learn that it exists.
    assert_problem(g.grade(client=classmate_client), 404)
    assert_problem(g.grade(client=stranger), 404)
    anon.fetch_csrf()
    assert_problem(anon.post(f"/api/v1/submissions/{sid}/grade", json={}), 401)
    assert_problem(
        g.instructor_client.post("/api/v1/submissions/999999/grade", json={"scores": []}), 404
    )
    assert _grade_count() == 0


# --- manual release --------------------------------------------------------------------------


def test_manual_release_hides_grades_until_released_and_is_idempotent(app, users):
    s = graded_setup(app, users, grade_release="manual")
    assert s.grade().status_code == 200
    module = _fresh(s.module)
    assert rules.grades_visible(module) is False

    url = f"/api/v1/modules/{s.module.id}/release-grades"
    first = s.instructor_client.post(url)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert (body["module_id"], body["grades"], body["released_by_id"]) == (
        s.module.id,
        1,
        s.instructor.id,
    )
    db.session.expire_all()
    assert rules.grades_visible(db.session.get(type(module), module.id)) is True

    again = s.instructor_client.post(url)
    assert again.status_code == 200
    assert again.get_json()["released_at"] == body["released_at"]
    assert db.session.scalar(select(func.count()).select_from(GradeRelease)) == 1
    [event] = _events("grades.released")
    assert event.entity_id == str(s.module.id) and event.data["grades"] == 1


def test_release_is_refused_for_immediate_courses_and_theory_modules(app, users, g):
    url = f"/api/v1/modules/{g.module.id}/release-grades"
    assert_problem(g.instructor_client.post(url), 409, "release-not-needed")
    manual = add_course(grade_release="manual")
    theory = add_theory(manual)
    add_instructor(manual, g.instructor)
    assert_problem(
        g.instructor_client.post(f"/api/v1/modules/{theory.id}/release-grades"),
        409,
        "not-a-practical-module",
    )


def test_who_may_release(app, users, anon):
    s = graded_setup(app, users, grade_release="manual")
    url = f"/api/v1/modules/{s.module.id}/release-grades"
    outsider = client_for(app, users.create(role="instructor"))
    assert_problem(outsider.post(url), 404)
    assert_problem(s.owner_client.post(url), 403)
    anon.fetch_csrf()
    assert_problem(anon.post(url), 401)
    assert_problem(s.instructor_client.post("/api/v1/modules/999999/release-grades"), 404)
    assert db.session.scalar(select(func.count()).select_from(GradeRelease)) == 0


# --- grading queue ---------------------------------------------------------------------------


@pytest.fixture
def queue(app, users, g):
    """Four more submissions besides g's: late, another module, graded, returned."""
    other = add_practical(g.course, title="数据可视化实训")
    second = users.create(role="teacher", full_name="王芳", institution="深圳职业技术学院")
    second_enrolment = add_enrolment(g.course, second)
    late = add_submission(second_enrolment, g.module, late=True, minutes=-60, files=2)
    on_other = add_submission(g.enrollment, other, minutes=500)
    graded = add_submission(second_enrolment, other, minutes=400, status="graded")
    returned = add_submission(
        second_enrolment, g.module, minutes=300, attempt_no=2, status="returned"
    )
    return {
        "g": g,
        "other": other,
        "second": second,
        "late": late,
        "on_other": on_other,
        "graded": graded,
        "returned": returned,
    }


def _queue(client, course_id, query=""):
    response = client.get(f"/api/v1/courses/{course_id}/submissions{query}")
    assert response.status_code == 200, response.get_json()
    return response


def test_queue_lists_submissions_oldest_first_with_who_what_and_when(queue):
    g = queue["g"]
    response = _queue(g.instructor_client, g.course.id)
    items = response.get_json()
    ids = [i["id"] for i in items]
    assert ids == [
        queue["late"].id,
        g.submission.id,
        queue["returned"].id,
        queue["graded"].id,
        queue["on_other"].id,
    ]
    first = items[0]
    assert first["user"] == {
        "id": queue["second"].id,
        "full_name": "王芳",
        "institution": "深圳职业技术学院",
    }
    assert first["module"] == {"id": g.module.id, "title": g.module.title}
    assert (first["attempt_no"], first["late"], first["status"], first["file_count"]) == (
        1,
        True,
        "submitted",
        2,
    )
    assert first["submitted_at"].endswith("+00:00")
    assert first["grade"] is None
    assert json.loads(response.headers["X-Pagination"])["total"] == 5


def test_queue_shows_the_grade_summary(queue):
    g = queue["g"]
    g.grade(30, 30, 10)
    item = next(
        i for i in _queue(g.instructor_client, g.course.id).get_json() if i["id"] == g.submission.id
    )
    assert item["status"] == "graded"
    assert {k: item["grade"][k] for k in ("total_points", "passed", "version", "grader_id")} == {
        "total_points": 70,
        "passed": True,
        "version": 1,
        "grader_id": g.instructor.id,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=submitted", ["late", "sub", "on_other"]),
        ("?status=returned", ["returned"]),
        ("?status=graded", ["graded"]),
        ("?late=true", ["late"]),
        ("?late=false", ["sub", "returned", "graded", "on_other"]),
        ("?module_id={other}", ["graded", "on_other"]),
        ("?user_id={owner}", ["sub", "on_other"]),
        ("?status=submitted&module_id={module}", ["late", "sub"]),
    ],
)
def test_queue_filters(queue, query, expected):
    g = queue["g"]
    names = {
        "sub": g.submission,
        **{k: queue[k] for k in ("late", "on_other", "graded", "returned")},
    }
    query = query.format(other=queue["other"].id, owner=g.owner.id, module=g.module.id)
    items = _queue(g.instructor_client, g.course.id, query).get_json()
    assert [i["id"] for i in items] == [names[n].id for n in expected]


def test_queue_ties_on_submitted_at_are_ordered_by_id(app, users):
    s = graded_setup(app, users)
    same = [
        add_submission(add_enrolment(s.course, users.create()), s.module, minutes=0)
        for _ in range(3)
    ]
    s.submission.submitted_at = same[0].submitted_at
    db.session.commit()
    items = _queue(s.instructor_client, s.course.id).get_json()
    assert [i["id"] for i in items] == sorted([s.submission.id] + [x.id for x in same])


def test_queue_is_paginated(queue):
    g = queue["g"]
    response = _queue(g.instructor_client, g.course.id, "?page=2&page_size=2")
    assert [i["id"] for i in response.get_json()] == [queue["returned"].id, queue["graded"].id]
    pagination = json.loads(response.headers["X-Pagination"])
    assert (pagination["total"], pagination["total_pages"], pagination["page"]) == (5, 3, 2)
    assert_problem(
        g.instructor_client.get(f"/api/v1/courses/{g.course.id}/submissions?page_size=101"), 422
    )


@pytest.mark.parametrize("query", ["?status=lost", "?late=maybe", "?module_id=x"])
def test_queue_refuses_invalid_filters(g, query):
    assert_problem(
        g.instructor_client.get(f"/api/v1/courses/{g.course.id}/submissions{query}"), 422
    )


def test_queue_issues_a_constant_number_of_queries(app, users, admin_client, count_queries):
    counts = []
    for size in (5, 40):
        course = add_course()
        module = add_practical(course)
        for i in range(size):
            enrolment = add_enrolment(course, users.create())
            sub = add_submission(enrolment, module, files=i % 3)
            if i % 2:
                add_grade(sub, total=70)
        with count_queries() as statements:
            response = admin_client.get(f"/api/v1/courses/{course.id}/submissions?page_size=100")
        assert len(response.get_json()) == size
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_who_may_read_the_queue(app, users, g, anon, admin_client):
    url = f"/api/v1/courses/{g.course.id}/submissions"
    outsider = client_for(app, users.create(role="instructor"))
    assert_problem(outsider.get(url), 404)
    assert_problem(outsider.get(url + "?status=bogus"), 404)  # permission before validation
    assert_problem(g.owner_client.get(url), 403)  # a teacher who can see the course
    draft = add_course(status="draft")
    assert_problem(g.owner_client.get(f"/api/v1/courses/{draft.id}/submissions"), 404)
    assert_problem(anon.get(url), 401)
    assert_problem(g.instructor_client.get("/api/v1/courses/999999/submissions"), 404)
    assert _queue(admin_client, g.course.id).get_json()[0]["id"] == g.submission.id


# --- real concurrency (PostgreSQL) -----------------------------------------------------------

ROUNDS = 5


def _committed_submissions(app, rounds: int) -> dict:
    """Committed: a course, two assigned instructors, ``rounds`` attempts of one teacher."""
    with app.app_context():
        factory = UserFactory()
        course = add_course()
        module = add_practical(course, max_attempts=None)
        graders = [factory.create(role="instructor") for _ in range(2)]
        for grader in graders:
            add_instructor(course, grader)
        enrolment = add_enrolment(course, factory.create())
        ids = [add_submission(enrolment, module, attempt_no=n).id for n in range(1, rounds + 1)]
        return {
            "graders": graders,
            "submissions": ids,
            "scores": scores_for(module),
            "low": scores_for(module, 1, 1, 1),
        }


def _fire_together(requests) -> list[int]:
    """Run the callables in threads released by one barrier; their status codes in order."""
    barrier = threading.Barrier(len(requests), timeout=60)

    def run(request):
        barrier.wait()
        return request().status_code

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(run, requests, timeout=120))


@pytest.mark.postgres
@pytest.mark.real_db
@pytest.mark.slow
def test_concurrent_regrades_from_one_version_give_one_200_and_one_412(app):
    data = _committed_submissions(app, ROUNDS)
    a, b = (client_for(app, grader) for grader in data["graders"])
    for sid in data["submissions"]:
        url = f"/api/v1/submissions/{sid}/grade"
        tag = a.post(url, json={"scores": data["low"]}).headers["ETag"]
        statuses = _fire_together(
            [
                lambda c=c, url=url, tag=tag: c.post(
                    url, json={"scores": data["scores"]}, headers={"If-Match": tag}
                )
                for c in (a, b)
            ]
        )
        assert sorted(statuses) == [200, 412], statuses
    with app.app_context():
        versions = db.session.execute(select(Grade.version, func.count()).group_by(Grade.version))
        assert dict(versions.all()) == {2: ROUNDS}
        assert db.session.scalar(select(func.count(GradeRevision.id))) == 2 * ROUNDS


@pytest.mark.postgres
@pytest.mark.real_db
@pytest.mark.slow
def test_concurrent_first_grades_never_give_a_server_error(app):
    data = _committed_submissions(app, ROUNDS)
    a, b = (client_for(app, grader) for grader in data["graders"])
    for sid in data["submissions"]:
        url = f"/api/v1/submissions/{sid}/grade"
        statuses = _fire_together(
            [lambda c=c, url=url: c.post(url, json={"scores": data["scores"]}) for c in (a, b)]
        )
        # The loser either raced the insert (409 grade-exists) or read the winner's grade
        # and sent no If-Match (428).
        assert sorted(statuses) in ([200, 409], [200, 428]), statuses
    with app.app_context():
        assert db.session.scalar(select(func.count(Grade.id))) == ROUNDS
        assert db.session.scalar(select(func.count(GradeRevision.id))) == ROUNDS


# --- end to end through HTTP (with the submission endpoint) ----------------------------------


def test_submit_return_resubmit_pass_and_release_through_http(
    app, users, admin_client, teacher_client
):
    setup = practical_setup(admin_client, teacher_client, course={"grade_release": "manual"})
    course, module = setup["course"], setup["module"]
    instructor = instructor_of(app, users, admin_client, course["id"])
    rubric = [c["id"] for c in module["rubric"]]

    first = submitted(teacher_client, module["id"])
    [queued] = _queue(instructor, course["id"], "?status=submitted").get_json()
    assert (queued["id"], queued["file_count"], queued["user"]["full_name"]) == (
        first["id"],
        1,
        "李明",
    )

    url = f"/api/v1/submissions/{first['id']}/grade"
    scores = [{"criterion_id": c, "points": p} for c, p in zip(rubric, (20, 20, 5), strict=True)]
    response = instructor.post(
        url,
        json={"scores": scores, "feedback": "请补充**数据上报**。", "return_for_revision": True},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "returned"
    mine = teacher_client.get(f"/api/v1/submissions/{first['id']}").get_json()
    assert mine["status"] == "returned"
    # Before release the teacher reads the feedback needed to revise, but not the points.
    assert "<strong>数据上报</strong>" in mine["grade"]["feedback_html"]
    assert mine["grade"]["total_points"] is None and mine["grade"]["scores"] is None

    second = submitted(teacher_client, module["id"])
    assert second["attempt_no"] == 2
    url = f"/api/v1/submissions/{second['id']}/grade"
    scores = [{"criterion_id": c, "points": p} for c, p in zip(rubric, (35, 30, 15), strict=True)]
    response = instructor.post(url, json={"scores": scores, "feedback": "很好"})
    assert (response.get_json()["total_points"], response.get_json()["passed"]) == (80, True)

    # Manual release: the owner sees neither the grade nor that it was graded.
    before = teacher_client.get(f"/api/v1/submissions/{second['id']}").get_json()
    assert before["status"] == "submitted" and before["grade"] is None
    assert instructor.post(f"/api/v1/modules/{module['id']}/release-grades").status_code == 200
    after = teacher_client.get(f"/api/v1/submissions/{second['id']}").get_json()
    assert after["status"] == "graded"
    assert (after["grade"]["total_points"], after["grade"]["passed"]) == (80, True)
    assert after["grade"]["feedback_html"] == "<p>很好</p>\n"

    rows = json.loads(
        instructor.get(
            f"/api/v1/courses/{course['id']}/gradebook?format=json", buffered=True
        ).get_data()
    )
    [row] = rows
    assert row["modules"][-1]["status"] == "passed" and row["practical_hours"] == 8

"""Programmes, courses, status workflow, visibility, instructors and modules."""

import json

import pytest

from lms.catalog.signals import module_activity
from tests.http import add_module, assert_problem, make_course
from tests.payloads import COURSE, PRACTICAL, QUIZ, THEORY

# --- programmes ----------------------------------------------------------------------------


def test_admin_creates_lists_and_updates_programmes(admin_client, teacher_client):
    response = admin_client.post(
        "/api/v1/programs",
        json={
            "code": "IIOT-TOUR",
            "title": "工业互联网产教融合教师研修·中国行",
            "organizers": ["中国职业技术教育学会", "中国工业互联网研究院"],
        },
    )
    assert response.status_code == 201
    program = response.get_json()
    assert teacher_client.get("/api/v1/programs").get_json()[0]["code"] == "IIOT-TOUR"
    updated = admin_client.patch(
        f"/api/v1/programs/{program['id']}", json={"description": "全国巡回研修"}
    ).get_json()
    assert updated["description"] == "全国巡回研修"
    assert_problem(
        admin_client.post("/api/v1/programs", json={"code": "IIOT-TOUR", "title": "x"}),
        409,
        "code-taken",
    )
    assert_problem(teacher_client.post("/api/v1/programs", json={"code": "X", "title": "x"}), 403)
    assert_problem(admin_client.get("/api/v1/programs/99999"), 404)


# --- courses -------------------------------------------------------------------------------


def test_admin_creates_a_draft_course_with_all_fields(admin_client):
    program = admin_client.post("/api/v1/programs", json={"code": "P1", "title": "中国行"})
    course = make_course(
        admin_client,
        base=COURSE,
        publish=False,
        program_id=program.get_json()["id"],
        certificate_validity_months=36,
        grade_release="manual",
    )
    assert course["status"] == "draft"
    assert course["program"]["code"] == "P1"
    assert course["min_theory_hours"] == 12 and isinstance(course["min_theory_hours"], int | float)
    assert course["organizers"] == COURSE["organizers"]
    assert course["seats_taken"] == 0


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"ends_on": "2020-12-01"}, "ends_on"),
        ({"capacity": 0}, "capacity"),
        ({"min_theory_hours": 1.3}, "min_theory_hours"),
        ({"min_theory_hours": -1}, "min_theory_hours"),
        ({"code": "has space"}, "code"),
        ({"code": ""}, "code"),
        ({"title": "  "}, "title"),
        ({"starts_on": "2020-02-30"}, "starts_on"),
        ({"program_id": 999999}, "program_id"),
        ({"grade_release": "never"}, "grade_release"),
        (
            {
                "enroll_opens_at": "2020-11-20T00:00:00+08:00",
                "enroll_closes_at": "2020-11-01T00:00:00+08:00",
            },
            "enroll_closes_at",
        ),
        ({"status": "published"}, "status"),
        ({"seats_taken": 5}, "seats_taken"),
        ({"certificate_validity_months": 0}, "certificate_validity_months"),
    ],
)
def test_invalid_course_fields_are_422_and_nothing_is_written(admin_client, overrides, field):
    response = admin_client.post("/api/v1/courses", json={**COURSE, **overrides})
    assert field in assert_problem(response, 422)["errors"]
    assert admin_client.get("/api/v1/courses").get_json() == []


def test_duplicate_course_code_is_409(admin_client):
    make_course(admin_client, base=COURSE, publish=False)
    assert_problem(admin_client.post("/api/v1/courses", json=COURSE), 409, "code-taken")


def test_patch_checks_merged_dates(admin_client):
    course = make_course(admin_client, base=COURSE, publish=False)
    response = admin_client.patch(
        f"/api/v1/courses/{course['id']}", json={"starts_on": "2100-01-01"}
    )
    assert "ends_on" in assert_problem(response, 422)["errors"]


def test_completion_rule_change_is_audited(admin_client):
    course = make_course(admin_client, base=COURSE, publish=False)
    admin_client.patch(f"/api/v1/courses/{course['id']}", json={"min_theory_hours": 10})
    events = admin_client.get(
        f"/api/v1/audit-events?entity_type=course&entity_id={course['id']}"
    ).get_json()
    assert events[0]["action"] == "course.updated"
    assert events[0]["data"]["min_theory_hours"] == ["12.0", "10"]


def test_status_workflow(admin_client):
    course = make_course(admin_client, base=COURSE, publish=False)
    cid = course["id"]
    body = assert_problem(
        admin_client.post(f"/api/v1/courses/{cid}/publish"), 409, "invalid-status-transition"
    )
    assert "module" in body["detail"]
    add_module(admin_client, cid, THEORY)
    assert_problem(admin_client.post(f"/api/v1/courses/{cid}/close"), 409)
    assert admin_client.post(f"/api/v1/courses/{cid}/publish").get_json()["status"] == "published"
    assert_problem(admin_client.post(f"/api/v1/courses/{cid}/archive"), 409)
    assert admin_client.post(f"/api/v1/courses/{cid}/close").get_json()["status"] == "closed"
    assert admin_client.post(f"/api/v1/courses/{cid}/publish").get_json()["status"] == "published"
    admin_client.post(f"/api/v1/courses/{cid}/close")
    archived = admin_client.post(f"/api/v1/courses/{cid}/archive").get_json()
    assert archived["status"] == "archived"
    assert_problem(admin_client.patch(f"/api/v1/courses/{cid}", json={"title": "新"}), 409)
    actions = [
        e["action"]
        for e in admin_client.get(
            f"/api/v1/audit-events?entity_type=course&entity_id={cid}"
        ).get_json()
    ]
    assert actions[:3] == ["course.archived", "course.closed", "course.published"]


def test_only_admins_change_course_status(teacher_client, admin_client):
    course = make_course(admin_client, base=COURSE, publish=False)
    assert_problem(teacher_client.post(f"/api/v1/courses/{course['id']}/publish"), 403)


def test_teachers_see_published_courses_only_unless_enrolled(admin_client, teacher_client, teacher):
    draft = make_course(admin_client, base=COURSE, publish=False, code="DRAFT-1")
    published = make_course(admin_client, [THEORY], base=COURSE, code="PUB-1")
    closed = make_course(admin_client, [THEORY], base=COURSE, code="CLOSED-1")
    admin_client.post(f"/api/v1/courses/{closed['id']}/close")
    mine = make_course(admin_client, [THEORY], base=COURSE, code="MINE-1")
    teacher_client.post(f"/api/v1/courses/{mine['id']}/enrollments", json={})
    admin_client.post(f"/api/v1/courses/{mine['id']}/close")

    codes = {c["code"] for c in teacher_client.get("/api/v1/courses").get_json()}
    assert codes == {"PUB-1", "MINE-1"}
    assert_problem(teacher_client.get(f"/api/v1/courses/{draft['id']}"), 404)
    assert_problem(teacher_client.get(f"/api/v1/courses/{closed['id']}"), 404)
    assert teacher_client.get(f"/api/v1/courses/{published['id']}").status_code == 200
    assert teacher_client.get(f"/api/v1/courses/{mine['id']}").status_code == 200


def test_instructors_see_assigned_courses_only(admin_client, instructor, instructor_client):
    mine = make_course(admin_client, base=COURSE, publish=False, code="MINE")
    make_course(admin_client, base=COURSE, publish=False, code="OTHER")
    response = admin_client.put(f"/api/v1/courses/{mine['id']}/instructors/{instructor.id}")
    assert response.status_code == 200
    assert response.get_json()["full_name"] == "陈建国"
    assert [c["code"] for c in instructor_client.get("/api/v1/courses").get_json()] == ["MINE"]
    listed = admin_client.get(f"/api/v1/courses/{mine['id']}/instructors").get_json()
    assert [i["user_id"] for i in listed] == [instructor.id]
    # Idempotent, and removable.
    assert (
        admin_client.put(f"/api/v1/courses/{mine['id']}/instructors/{instructor.id}").status_code
        == 200
    )
    assert (
        admin_client.delete(f"/api/v1/courses/{mine['id']}/instructors/{instructor.id}").status_code
        == 204
    )
    assert instructor_client.get("/api/v1/courses").get_json() == []
    assert_problem(
        admin_client.delete(f"/api/v1/courses/{mine['id']}/instructors/{instructor.id}"), 404
    )


def test_only_instructor_accounts_can_be_assigned(admin_client, teacher):
    course = make_course(admin_client, base=COURSE, publish=False)
    response = admin_client.put(f"/api/v1/courses/{course['id']}/instructors/{teacher.id}")
    assert "user_id" in assert_problem(response, 422)["errors"]
    assert_problem(admin_client.put(f"/api/v1/courses/{course['id']}/instructors/99999"), 404)


def test_instructor_assignment_is_audited(admin_client, instructor):
    course = make_course(admin_client, base=COURSE, publish=False)
    admin_client.put(f"/api/v1/courses/{course['id']}/instructors/{instructor.id}")
    events = admin_client.get("/api/v1/audit-events?action=course.instructor_assigned")
    assert events.get_json()[0]["data"] == {"user_id": instructor.id}


def test_course_list_filters_and_pagination(admin_client):
    for n in range(7):
        make_course(
            admin_client,
            base=COURSE,
            publish=False,
            code=f"C{n}",
            title=f"研修班{n}",
            location="深圳" if n % 2 else "广州",
        )
    response = admin_client.get("/api/v1/courses?q=深圳&page_size=2")
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert len(response.get_json()) == 2
    assert_problem(admin_client.get("/api/v1/courses?status=deleted"), 422)


def test_course_list_query_count_does_not_grow(admin_client, count_queries):
    program = admin_client.post("/api/v1/programs", json={"code": "P", "title": "项"}).get_json()
    for n in range(10):
        make_course(
            admin_client, base=COURSE, publish=False, code=f"A{n}", program_id=program["id"]
        )
    with count_queries() as small:
        admin_client.get("/api/v1/courses?page_size=100")
    for n in range(40):
        make_course(
            admin_client, base=COURSE, publish=False, code=f"B{n}", program_id=program["id"]
        )
    with count_queries() as large:
        admin_client.get("/api/v1/courses?page_size=100")
    assert len(small) == len(large)


# --- modules -------------------------------------------------------------------------------


def test_theory_module_with_quiz_and_practical_with_rubric(admin_client):
    course = make_course(admin_client, base=COURSE, publish=False)
    theory = add_module(admin_client, course["id"], {**THEORY, "quiz": QUIZ})
    assert theory["quiz"]["max_score"] == 5
    assert [q["correct"] for q in theory["quiz"]["questions"]] == [[0], [0, 1, 2]]
    assert all(q["id"] for q in theory["quiz"]["questions"])
    assert "rubric" not in theory
    practical = add_module(admin_client, course["id"], PRACTICAL)
    assert [c["max_points"] for c in practical["rubric"]] == [40, 40, 20]
    assert all(c["id"] for c in practical["rubric"])
    assert practical["max_points"] == 100 and practical["pass_points"] == 60
    assert practical["position"] == theory["position"] + 1
    assert "quiz" not in practical


@pytest.mark.parametrize(
    "payload,field",
    [
        ({**THEORY, "hours": 0}, "hours"),
        ({**THEORY, "hours": 2.25}, "hours"),
        ({**THEORY, "kind": "lab"}, "kind"),
        ({**THEORY, "resources": [{"title": "x", "url": "javascript:alert(1)"}]}, "resources"),
        ({**THEORY, "quiz": {**QUIZ, "questions": []}}, "quiz"),
        (
            {
                **THEORY,
                "quiz": {
                    **QUIZ,
                    "questions": [{"prompt": "?", "choices": ["only"], "correct": [0]}],
                },
            },
            "quiz",
        ),
        (
            {
                **THEORY,
                "quiz": {
                    **QUIZ,
                    "questions": [{"prompt": "?", "choices": ["a", "b"], "correct": []}],
                },
            },
            "quiz",
        ),
        (
            {
                **THEORY,
                "quiz": {
                    **QUIZ,
                    "questions": [{"prompt": "?", "choices": ["a", "b"], "correct": [2]}],
                },
            },
            "quiz",
        ),
        (
            {
                **THEORY,
                "quiz": {
                    **QUIZ,
                    "questions": [{"prompt": "?", "choices": ["a", "b"], "correct": [0, 0]}],
                },
            },
            "quiz",
        ),
        ({**THEORY, "quiz": {**QUIZ, "pass_percent": 120}}, "quiz"),
        ({**THEORY, "rubric": PRACTICAL["rubric"]}, "rubric"),
        ({**PRACTICAL, "quiz": QUIZ}, "quiz"),
        ({**PRACTICAL, "rubric": []}, "rubric"),
        ({k: v for k, v in PRACTICAL.items() if k != "rubric"}, "rubric"),
        ({**PRACTICAL, "pass_points": 101}, "pass_points"),
        ({**PRACTICAL, "rubric": [{"title": "x", "max_points": 0}]}, "rubric"),
        ({**PRACTICAL, "closes_at": "2020-12-01T00:00:00+08:00"}, "closes_at"),
        ({**PRACTICAL, "allowed_extensions": ["pdf"]}, "allowed_extensions"),
        ({**PRACTICAL, "reopen": "always"}, "reopen"),
        ({**PRACTICAL, "max_file_mb": 10000}, "max_file_mb"),
    ],
)
def test_invalid_modules_are_422_with_the_field(admin_client, payload, field):
    course = make_course(admin_client, base=COURSE, publish=False)
    response = admin_client.post(f"/api/v1/courses/{course['id']}/modules", json=payload)
    assert field in assert_problem(response, 422)["errors"]
    assert admin_client.get(f"/api/v1/courses/{course['id']}/modules").get_json() == []


def test_teachers_never_receive_correct_answers(admin_client, teacher_client):
    course = make_course(admin_client, base=COURSE, publish=False)
    module = add_module(admin_client, course["id"], {**THEORY, "quiz": QUIZ})
    admin_client.post(f"/api/v1/courses/{course['id']}/publish")
    teacher_client.post(f"/api/v1/courses/{course['id']}/enrollments", json={})
    for url in (f"/api/v1/courses/{course['id']}/modules", f"/api/v1/modules/{module['id']}"):
        response = teacher_client.get(url)
        assert response.status_code == 200
        assert '"correct"' not in response.get_data(as_text=True)
    listed = teacher_client.get(f"/api/v1/courses/{course['id']}/modules").get_json()
    assert listed[0]["quiz"]["questions"][1]["multiple"] is True
    staff_view = admin_client.get(f"/api/v1/modules/{module['id']}").get_json()
    assert staff_view["quiz"]["questions"][0]["correct"] == [0]


def test_modules_are_hidden_from_teachers_not_enrolled(admin_client, teacher_client):
    course = make_course(admin_client, [THEORY], base=COURSE)
    assert_problem(teacher_client.get(f"/api/v1/courses/{course['id']}/modules"), 404)


def test_assigned_instructor_reads_modules_with_answers(
    admin_client, instructor, instructor_client
):
    course = make_course(admin_client, base=COURSE, publish=False)
    module = add_module(admin_client, course["id"], {**THEORY, "quiz": QUIZ})
    assert_problem(instructor_client.get(f"/api/v1/modules/{module['id']}"), 404)
    admin_client.put(f"/api/v1/courses/{course['id']}/instructors/{instructor.id}")
    body = instructor_client.get(f"/api/v1/modules/{module['id']}").get_json()
    assert body["quiz"]["questions"][0]["correct"] == [0]
    assert_problem(
        instructor_client.patch(f"/api/v1/modules/{module['id']}", json={"title": "x"}), 403
    )


def test_modules_can_be_reordered(admin_client):
    course = make_course(admin_client, base=COURSE, publish=False)
    ids = [
        add_module(admin_client, course["id"], {**THEORY, "title": f"M{n}"})["id"] for n in range(3)
    ]
    url = f"/api/v1/courses/{course['id']}/modules/order"
    response = admin_client.put(url, json={"module_ids": ids[::-1]})
    assert [m["id"] for m in response.get_json()] == ids[::-1]
    listed = admin_client.get(f"/api/v1/courses/{course['id']}/modules").get_json()
    assert [m["title"] for m in listed] == ["M2", "M1", "M0"]
    assert_problem(admin_client.put(url, json={"module_ids": ids[:2]}), 422)
    assert_problem(admin_client.put(url, json={"module_ids": [*ids, ids[0]]}), 422)


def test_module_update_and_delete(admin_client):
    course = make_course(admin_client, base=COURSE, publish=False)
    module = add_module(admin_client, course["id"], PRACTICAL)
    response = admin_client.patch(
        f"/api/v1/modules/{module['id']}",
        json={"rubric": [{"title": "整体", "max_points": 50}], "pass_points": 30},
    )
    assert [c["title"] for c in response.get_json()["rubric"]] == ["整体"]
    response = admin_client.patch(f"/api/v1/modules/{module['id']}", json={"pass_points": 80})
    assert "pass_points" in assert_problem(response, 422)["errors"]
    response = admin_client.patch(f"/api/v1/modules/{module['id']}", json={"quiz": QUIZ})
    assert "quiz" in assert_problem(response, 422)["errors"]
    assert admin_client.delete(f"/api/v1/modules/{module['id']}").status_code == 204
    assert_problem(admin_client.get(f"/api/v1/modules/{module['id']}"), 404)


def test_module_with_learner_activity_cannot_be_deleted_or_restructured(admin_client):
    course = make_course(admin_client, base=COURSE, publish=False)
    module = add_module(admin_client, course["id"], {**THEORY, "quiz": QUIZ})
    url = f"/api/v1/modules/{module['id']}"

    def in_use(m):
        return m.id == module["id"]

    with module_activity.connected_to(in_use):
        assert_problem(admin_client.delete(url), 409, "module-in-use")
        assert_problem(admin_client.patch(url, json={"quiz": QUIZ}), 409, "module-in-use")
        # Wording and hours can still be corrected.
        assert admin_client.patch(url, json={"title": "新标题"}).status_code == 200


def test_module_list_query_count_does_not_grow(admin_client, count_queries):
    course = make_course(admin_client, base=COURSE, publish=False)
    for _ in range(3):
        add_module(admin_client, course["id"], {**THEORY, "quiz": QUIZ})
        add_module(admin_client, course["id"], PRACTICAL)
    with count_queries() as small:
        admin_client.get(f"/api/v1/courses/{course['id']}/modules?page_size=100")
    for _ in range(12):
        add_module(admin_client, course["id"], {**THEORY, "quiz": QUIZ})
        add_module(admin_client, course["id"], PRACTICAL)
    with count_queries() as large:
        admin_client.get(f"/api/v1/courses/{course['id']}/modules?page_size=100")
    assert len(small) == len(large)

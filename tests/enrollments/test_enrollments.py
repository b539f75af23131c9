"""Enrolment over HTTP: self and admin enrolment, capacity and waitlist, withdrawal,
re-enrolment, rosters, my enrolments, and who may see what."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.http import assert_problem, client_for, enrol, enrolled, make_course
from tests.payloads import SHORT_THEORY

_codes = itertools.count(1)


# --- builders ------------------------------------------------------------------------------


def seats_taken(admin_client, course_id) -> int:
    return admin_client.get(f"/api/v1/courses/{course_id}").get_json()["seats_taken"]


def enrolment(admin_client, enrollment_id) -> dict:
    response = admin_client.get(f"/api/v1/enrollments/{enrollment_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def audit_actions(admin_client, **filters) -> list[tuple[str, str]]:
    """(action, entity_id) of the enrolment audit events, oldest first."""
    query = "&".join(f"{k}={v}" for k, v in {"entity_type": "enrollment", **filters}.items())
    response = admin_client.get(f"/api/v1/audit-events?{query}&page_size=100")
    assert response.status_code == 200, response.get_json()
    return [(e["action"], e["entity_id"]) for e in reversed(response.get_json())]


def now_plus(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


# --- personas ------------------------------------------------------------------------------


@pytest.fixture
def other_instructor_client(app, users):
    return client_for(app, users.create(role="instructor", full_name="周导师"))


@pytest.fixture
def other_teacher(users):
    return users.create(role="teacher", full_name="王芳", institution="深圳职业技术学院")


@pytest.fixture
def other_teacher_client(app, other_teacher):
    return client_for(app, other_teacher)


@pytest.fixture
def course(admin_client, instructor):
    """A published course with capacity 3 and a waitlist; ``instructor`` assigned."""
    course = make_course(admin_client, capacity=3, waitlist_enabled=True)
    response = admin_client.put(f"/api/v1/courses/{course['id']}/instructors/{instructor.id}")
    assert response.status_code == 200, response.get_json()
    return course


# --- self-enrolment ------------------------------------------------------------------------


def test_teacher_self_enrols_and_takes_a_seat(admin_client, teacher_client, teacher, course):
    body = enrolled(teacher_client, course["id"])
    assert body["course_id"] == course["id"] and body["user_id"] == teacher.id
    assert body["status"] == "active" and body["source"] == "self"
    assert body["waitlist_position"] is None
    assert body["activated_at"] is not None and body["withdrawn_at"] is None
    assert seats_taken(admin_client, course["id"]) == 1
    assert audit_actions(admin_client) == [("enrollment.created", str(body["id"]))]


def test_full_course_waitlists_in_order_and_a_withdrawal_promotes_the_first(
    app, users, admin_client, course
):
    clients = [client_for(app, users.create()) for _ in range(5)]
    bodies = [enrolled(c, course["id"]) for c in clients]
    assert [b["status"] for b in bodies] == ["active"] * 3 + ["waitlisted"] * 2
    assert [b["waitlist_position"] for b in bodies] == [None, None, None, 1, 2]
    assert seats_taken(admin_client, course["id"]) == 3

    response = clients[1].post(f"/api/v1/enrollments/{bodies[1]['id']}/withdraw")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "withdrawn"

    fourth = clients[3].get(f"/api/v1/enrollments/{bodies[3]['id']}").get_json()
    assert fourth["status"] == "active" and fourth["waitlist_position"] is None
    assert fourth["activated_at"] is not None
    fifth = clients[4].get(f"/api/v1/enrollments/{bodies[4]['id']}").get_json()
    assert fifth["status"] == "waitlisted" and fifth["waitlist_position"] == 1
    assert seats_taken(admin_client, course["id"]) == 3
    assert audit_actions(admin_client) == [
        *[("enrollment.created", str(b["id"])) for b in bodies],
        ("enrollment.withdrawn", str(bodies[1]["id"])),
        ("enrollment.promoted", str(bodies[3]["id"])),
    ]


def test_full_course_without_waitlist_is_409_and_writes_nothing(
    admin_client, teacher_client, other_teacher_client
):
    course = make_course(admin_client, capacity=1, waitlist_enabled=False)
    first = enrolled(teacher_client, course["id"])
    events_before = audit_actions(admin_client)

    assert_problem(enrol(other_teacher_client, course["id"]), 409, "course-full")

    assert seats_taken(admin_client, course["id"]) == 1
    assert (
        audit_actions(admin_client) == events_before == [("enrollment.created", str(first["id"]))]
    )
    assert other_teacher_client.get("/api/v1/me/enrollments").get_json() == []
    roster = admin_client.get(f"/api/v1/courses/{course['id']}/enrollments")
    assert [e["id"] for e in roster.get_json()] == [first["id"]]


def test_enrolling_twice_is_409_already_enrolled_active_or_waitlisted(
    admin_client, teacher_client, other_teacher_client
):
    course = make_course(admin_client, capacity=1, waitlist_enabled=True)
    enrolled(teacher_client, course["id"])
    assert enrolled(other_teacher_client, course["id"])["status"] == "waitlisted"

    assert_problem(enrol(teacher_client, course["id"]), 409, "already-enrolled")
    assert_problem(enrol(other_teacher_client, course["id"]), 409, "already-enrolled")
    assert seats_taken(admin_client, course["id"]) == 1
    counts = json.loads(
        admin_client.get(f"/api/v1/courses/{course['id']}/enrollments").headers["X-Roster-Counts"]
    )
    assert counts["active"] == 1 and counts["waitlisted"] == 1


def test_unlimited_course_never_waitlists(app, users, admin_client):
    course = make_course(admin_client, capacity=None)
    statuses = {enrolled(client_for(app, users.create()), course["id"])["status"] for _ in range(4)}
    assert statuses == {"active"}
    assert seats_taken(admin_client, course["id"]) == 4


def test_teacher_cannot_see_or_enrol_in_a_draft_course(admin_client, teacher_client):
    course = make_course(admin_client, publish=False)
    assert_problem(enrol(teacher_client, course["id"]), 404)
    assert_problem(teacher_client.get(f"/api/v1/courses/{course['id']}"), 404)


def test_enrolling_in_an_unknown_course_is_404(admin_client, teacher_client, teacher):
    assert_problem(enrol(teacher_client, 999999), 404)
    assert_problem(enrol(admin_client, 999999, user_id=teacher.id), 404)


def test_closed_course_takes_no_enrolments(
    admin_client, teacher_client, other_teacher, other_teacher_client, teacher
):
    course = make_course(admin_client, capacity=5)
    enrolled(teacher_client, course["id"])
    assert admin_client.post(f"/api/v1/courses/{course['id']}/close").status_code == 200

    # Not enrolled: a closed course is invisible to the teacher.
    assert_problem(enrol(other_teacher_client, course["id"]), 404)
    # Enrolled: the course stays visible, enrolling again is refused as closed.
    assert teacher_client.get(f"/api/v1/courses/{course['id']}").status_code == 200
    assert_problem(enrol(teacher_client, course["id"]), 409, "enrollment-closed")
    assert_problem(
        enrol(admin_client, course["id"], user_id=other_teacher.id), 409, "enrollment-closed"
    )
    assert seats_taken(admin_client, course["id"]) == 1


def test_course_without_self_enrolment_refuses_teachers_but_not_admins(
    admin_client, teacher_client, teacher
):
    course = make_course(admin_client, self_enrollment=False)
    assert_problem(enrol(teacher_client, course["id"]), 409, "enrollment-closed")
    assert enrolled(admin_client, course["id"], user_id=teacher.id)["status"] == "active"


@pytest.mark.parametrize(
    "window,expected",
    [
        ({"enroll_opens_at": now_plus(days=1)}, 409),
        ({"enroll_opens_at": now_plus(days=1), "enroll_closes_at": now_plus(days=2)}, 409),
        ({"enroll_closes_at": now_plus(days=-1)}, 409),
        ({"enroll_opens_at": now_plus(days=-3), "enroll_closes_at": now_plus(days=-1)}, 409),
        ({"enroll_opens_at": now_plus(days=-1), "enroll_closes_at": now_plus(days=1)}, 201),
    ],
    ids=["not-yet-open", "window-in-future", "closed", "window-past", "open"],
)
def test_enrolment_window_is_enforced(admin_client, teacher_client, window, expected):
    course = make_course(admin_client, **window)
    response = enrol(teacher_client, course["id"])
    if expected == 409:
        assert_problem(response, 409, "enrollment-closed")
        assert seats_taken(admin_client, course["id"]) == 0
    else:
        assert response.status_code == 201, response.get_json()


def test_admin_and_instructors_cannot_self_enrol(
    admin_client, instructor_client, other_instructor_client, course
):
    assert_problem(enrol(admin_client, course["id"]), 403)
    assert_problem(enrol(instructor_client, course["id"]), 403)
    # An instructor not assigned to the course cannot see it at all.
    assert_problem(enrol(other_instructor_client, course["id"]), 404)
    assert seats_taken(admin_client, course["id"]) == 0


def test_anonymous_cannot_enrol(anon, course):
    anon.fetch_csrf()
    assert_problem(enrol(anon, course["id"]), 401)


# --- admin enrolment -----------------------------------------------------------------------


def test_admin_enrols_a_teacher_by_user_id(admin_client, admin, teacher, teacher_client, course):
    body = enrolled(admin_client, course["id"], user_id=teacher.id)
    assert body["user_id"] == teacher.id and body["source"] == "admin"
    assert body["status"] == "active"
    assert [e["id"] for e in teacher_client.get("/api/v1/me/enrollments").get_json()] == [
        body["id"]
    ]
    events = admin_client.get("/api/v1/audit-events?entity_type=enrollment").get_json()
    assert events[0]["actor_id"] == admin.id and events[0]["data"]["source"] == "admin"


def test_admin_enrols_into_a_draft_course(admin_client, teacher):
    course = make_course(admin_client, publish=False, capacity=2)
    assert enrolled(admin_client, course["id"], user_id=teacher.id)["status"] == "active"
    assert seats_taken(admin_client, course["id"]) == 1


def test_admin_enrolment_into_a_full_course_reports_the_waitlist_position(app, users, admin_client):
    course = make_course(admin_client, capacity=1, waitlist_enabled=True)
    bodies = [enrolled(admin_client, course["id"], user_id=users.create().id) for _ in range(3)]
    assert [b["status"] for b in bodies] == ["active", "waitlisted", "waitlisted"]
    assert [b.get("waitlist_position") for b in bodies] == [None, 1, 2]


def test_admin_enrolling_an_already_enrolled_teacher_is_409(
    admin_client, teacher_client, teacher, course
):
    enrolled(teacher_client, course["id"])
    assert_problem(enrol(admin_client, course["id"], user_id=teacher.id), 409, "already-enrolled")


@pytest.mark.parametrize("who", ["instructor", "admin", "inactive-teacher", "unknown"])
def test_admin_can_only_enrol_active_teachers(admin_client, admin, instructor, users, course, who):
    user_id = {
        "instructor": lambda: instructor.id,
        "admin": lambda: admin.id,
        "inactive-teacher": lambda: users.create(is_active=False).id,
        "unknown": lambda: 999999,
    }[who]()
    body = assert_problem(enrol(admin_client, course["id"], user_id=user_id), 422)
    assert "user_id" in body["errors"]
    assert seats_taken(admin_client, course["id"]) == 0


def test_teacher_cannot_enrol_someone_else_or_name_themself(
    teacher_client, teacher, other_teacher, admin_client, course
):
    assert_problem(enrol(teacher_client, course["id"], user_id=other_teacher.id), 403)
    assert_problem(enrol(teacher_client, course["id"], user_id=teacher.id), 403)
    assert seats_taken(admin_client, course["id"]) == 0


@pytest.mark.parametrize(
    "body,field",
    [
        ({"status": "active"}, "status"),
        ({"source": "import"}, "source"),
        ({"course_id": 1}, "course_id"),
        ({"user_id": "abc"}, "user_id"),
        ({"user_id": 0}, "user_id"),
        ({"user_id": None}, "user_id"),
    ],
)
def test_invalid_or_unknown_fields_are_422_and_write_nothing(
    admin_client, teacher_client, course, body, field
):
    client = admin_client if "user_id" in body else teacher_client
    problem = assert_problem(enrol(client, course["id"], **body), 422)
    assert field in problem["errors"], problem
    assert seats_taken(admin_client, course["id"]) == 0
    assert audit_actions(admin_client) == []


def test_enrol_body_must_be_a_json_object(teacher_client, course):
    assert_problem(teacher_client.post(f"/api/v1/courses/{course['id']}/enrollments", json=[]), 422)


# --- withdrawal and re-enrolment ------------------------------------------------------------


def test_withdrawing_a_waitlisted_enrolment_promotes_nobody(app, users, admin_client):
    course = make_course(admin_client, capacity=1, waitlist_enabled=True)
    clients = [client_for(app, users.create()) for _ in range(3)]
    bodies = [enrolled(c, course["id"]) for c in clients]

    response = clients[1].post(f"/api/v1/enrollments/{bodies[1]['id']}/withdraw")
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"
    assert response.get_json()["withdrawn_at"] is not None

    assert enrolment(admin_client, bodies[0]["id"])["status"] == "active"
    third = enrolment(admin_client, bodies[2]["id"])
    assert third["status"] == "waitlisted" and third["waitlist_position"] == 1
    assert seats_taken(admin_client, course["id"]) == 1
    assert "enrollment.promoted" not in {a for a, _ in audit_actions(admin_client)}


def test_withdrawing_the_last_active_without_waitlist_frees_the_seat(
    admin_client, teacher_client, other_teacher_client
):
    course = make_course(admin_client, capacity=1)
    body = enrolled(teacher_client, course["id"])
    assert teacher_client.post(f"/api/v1/enrollments/{body['id']}/withdraw").status_code == 200
    assert seats_taken(admin_client, course["id"]) == 0
    assert enrolled(other_teacher_client, course["id"])["status"] == "active"


def test_withdrawing_twice_is_409_not_withdrawable(admin_client, teacher_client, course):
    body = enrolled(teacher_client, course["id"])
    url = f"/api/v1/enrollments/{body['id']}/withdraw"
    assert teacher_client.post(url).status_code == 200
    assert_problem(teacher_client.post(url), 409, "not-withdrawable")
    assert_problem(admin_client.post(url), 409, "not-withdrawable")
    assert seats_taken(admin_client, course["id"]) == 0


def test_admin_withdraws_a_teacher_and_is_the_recorded_actor(app, users, admin, admin_client):
    course = make_course(admin_client, capacity=1, waitlist_enabled=True)
    first, second = (enrolled(client_for(app, users.create()), course["id"]) for _ in range(2))
    response = admin_client.post(f"/api/v1/enrollments/{first['id']}/withdraw")
    assert response.status_code == 200
    assert enrolment(admin_client, second["id"])["status"] == "active"
    events = admin_client.get("/api/v1/audit-events?entity_type=enrollment").get_json()
    assert [(e["action"], e["actor_id"]) for e in events[:2]] == [
        ("enrollment.promoted", admin.id),
        ("enrollment.withdrawn", admin.id),
    ]


@pytest.mark.parametrize(
    "persona,status",
    [
        ("owner", 200),
        ("admin", 200),
        ("assigned-instructor", 403),
        ("other-instructor", 404),
        ("other-teacher", 404),
        ("anonymous", 401),
    ],
)
def test_who_may_withdraw(
    admin_client,
    teacher_client,
    instructor_client,
    other_instructor_client,
    other_teacher_client,
    anon,
    course,
    persona,
    status,
):
    body = enrolled(teacher_client, course["id"])
    anon.fetch_csrf()
    client = {
        "owner": teacher_client,
        "admin": admin_client,
        "assigned-instructor": instructor_client,
        "other-instructor": other_instructor_client,
        "other-teacher": other_teacher_client,
        "anonymous": anon,
    }[persona]
    response = client.post(f"/api/v1/enrollments/{body['id']}/withdraw")
    if status == 200:
        assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"
    else:
        assert_problem(response, status)
        assert enrolment(admin_client, body["id"])["status"] == "active"


def test_withdrawing_an_unknown_enrolment_is_404(teacher_client):
    assert_problem(teacher_client.post("/api/v1/enrollments/999999/withdraw"), 404)


def test_reenrolment_after_withdrawal_reuses_the_row(admin_client, teacher_client, course):
    first = enrolled(teacher_client, course["id"])
    teacher_client.post(f"/api/v1/enrollments/{first['id']}/withdraw")

    again = enrolled(teacher_client, course["id"])
    assert again["id"] == first["id"]
    assert again["status"] == "active" and again["withdrawn_at"] is None
    assert again["queued_at"] > first["queued_at"]
    assert seats_taken(admin_client, course["id"]) == 1
    assert [a for a, _ in audit_actions(admin_client)] == [
        "enrollment.created",
        "enrollment.withdrawn",
        "enrollment.created",
    ]


def test_reenrolment_into_a_full_course_joins_the_back_of_the_waitlist(app, users, admin_client):
    course = make_course(admin_client, capacity=1, waitlist_enabled=True)
    clients = [client_for(app, users.create()) for _ in range(3)]
    first, second, third = (enrolled(c, course["id"]) for c in clients)
    clients[1].post(f"/api/v1/enrollments/{second['id']}/withdraw")

    again = enrolled(clients[1], course["id"])
    assert again["id"] == second["id"]
    assert again["status"] == "waitlisted" and again["waitlist_position"] == 2
    assert enrolment(admin_client, third["id"])["waitlist_position"] == 1

    clients[0].post(f"/api/v1/enrollments/{first['id']}/withdraw")
    assert enrolment(admin_client, third["id"])["status"] == "active"
    assert enrolment(admin_client, second["id"])["waitlist_position"] == 1


# --- capacity changes ----------------------------------------------------------------------


def test_raising_the_capacity_promotes_the_waitlist(app, users, admin_client):
    course = make_course(admin_client, capacity=1, waitlist_enabled=True)
    bodies = [enrolled(client_for(app, users.create()), course["id"]) for _ in range(4)]

    response = admin_client.patch(f"/api/v1/courses/{course['id']}", json={"capacity": 2})
    assert response.status_code == 200 and response.get_json()["seats_taken"] == 2
    assert [enrolment(admin_client, b["id"])["status"] for b in bodies] == [
        "active",
        "active",
        "waitlisted",
        "waitlisted",
    ]
    assert enrolment(admin_client, bodies[3]["id"])["waitlist_position"] == 2

    response = admin_client.patch(f"/api/v1/courses/{course['id']}", json={"capacity": None})
    assert response.status_code == 200 and response.get_json()["seats_taken"] == 4
    assert {enrolment(admin_client, b["id"])["status"] for b in bodies} == {"active"}
    promoted = [e for a, e in audit_actions(admin_client) if a == "enrollment.promoted"]
    assert promoted == [str(b["id"]) for b in bodies[1:]]


def test_editing_other_fields_promotes_nobody(app, users, admin_client):
    course = make_course(admin_client, capacity=1, waitlist_enabled=True)
    bodies = [enrolled(client_for(app, users.create()), course["id"]) for _ in range(2)]
    response = admin_client.patch(
        f"/api/v1/courses/{course['id']}", json={"location": "广州市白云区", "capacity": 1}
    )
    assert response.status_code == 200
    assert enrolment(admin_client, bodies[1]["id"])["status"] == "waitlisted"


def test_lowering_the_capacity_below_seats_taken_is_422(app, users, admin_client):
    course = make_course(admin_client, capacity=3)
    for _ in range(2):
        enrolled(client_for(app, users.create()), course["id"])
    body = assert_problem(
        admin_client.patch(f"/api/v1/courses/{course['id']}", json={"capacity": 1}), 422
    )
    assert "capacity" in body["errors"]
    assert admin_client.get(f"/api/v1/courses/{course['id']}").get_json()["capacity"] == 3
    response = admin_client.patch(f"/api/v1/courses/{course['id']}", json={"capacity": 2})
    assert response.status_code == 200 and response.get_json()["capacity"] == 2


# --- roster --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "persona,status",
    [
        ("admin", 200),
        ("assigned-instructor", 200),
        ("other-instructor", 404),
        ("enrolled-teacher", 403),
        ("other-teacher", 403),
        ("anonymous", 401),
    ],
)
def test_who_may_read_the_roster(
    admin_client,
    instructor_client,
    other_instructor_client,
    teacher_client,
    other_teacher_client,
    anon,
    course,
    persona,
    status,
):
    enrolled(teacher_client, course["id"])
    client = {
        "admin": admin_client,
        "assigned-instructor": instructor_client,
        "other-instructor": other_instructor_client,
        "enrolled-teacher": teacher_client,
        "other-teacher": other_teacher_client,
        "anonymous": anon,
    }[persona]
    response = client.get(f"/api/v1/courses/{course['id']}/enrollments")
    if status == 200:
        assert response.status_code == 200
        assert len(response.get_json()) == 1
    else:
        assert_problem(response, status)


def test_roster_of_a_draft_course_is_404_for_teachers(admin_client, teacher_client):
    course = make_course(admin_client, publish=False)
    assert_problem(teacher_client.get(f"/api/v1/courses/{course['id']}/enrollments"), 404)
    assert admin_client.get(f"/api/v1/courses/{course['id']}/enrollments").status_code == 200


@pytest.fixture
def filled_roster(app, users, admin_client, course):
    """Course of capacity 3: 3 active, 2 waitlisted, 1 withdrawn (the 6th enrolled)."""
    people = [
        users.create(full_name=name, institution=inst, email=email)
        for name, inst, email in [
            ("张伟", "广东轻工职业技术学院", "zhangwei@gdqy.edu.cn"),
            ("李娜", "深圳职业技术学院", "lina@szpt.edu.cn"),
            ("王强", "广东轻工职业技术学院", "wangqiang@gdqy.edu.cn"),
            ("刘洋", "南京工业职业技术大学", "liuyang@niit.edu.cn"),
            ("陈静", "广州番禺职业技术学院", "chenjing@gzpyp.edu.cn"),
            ("杨帆", "广东轻工职业技术学院", "yangfan@gdqy.edu.cn"),
        ]
    ]
    bodies = [enrolled(admin_client, course["id"], user_id=p.id) for p in people]
    admin_client.post(f"/api/v1/enrollments/{bodies[5]['id']}/withdraw")
    return course, bodies


def test_roster_lists_users_in_queue_order_with_counts(admin_client, filled_roster):
    course, bodies = filled_roster
    response = admin_client.get(f"/api/v1/courses/{course['id']}/enrollments")
    assert response.status_code == 200
    entries = response.get_json()
    assert [e["id"] for e in entries] == [b["id"] for b in bodies]
    assert entries[0]["user"]["full_name"] == "张伟"
    assert entries[0]["user"]["institution"] == "广东轻工职业技术学院"
    assert "password_hash" not in entries[0]["user"]
    assert json.loads(response.headers["X-Roster-Counts"]) == {
        "active": 3,
        "waitlisted": 2,
        "withdrawn": 1,
        "completed": 0,
    }
    assert json.loads(response.headers["X-Pagination"])["total"] == 6


@pytest.mark.parametrize(
    "query,names",
    [
        ("status=active", ["张伟", "李娜", "王强"]),
        ("status=waitlisted", ["刘洋", "陈静"]),
        ("status=withdrawn", ["杨帆"]),
        ("status=completed", []),
        ("q=gdqy", ["张伟", "王强", "杨帆"]),
        ("q=GDQY.EDU", ["张伟", "王强", "杨帆"]),
        ("q=李娜", ["李娜"]),
        ("q=南京", ["刘洋"]),
        ("q=广东轻工&status=active", ["张伟", "王强"]),
        ("q=nobody", []),
    ],
)
def test_roster_filters(admin_client, filled_roster, query, names):
    course, _ = filled_roster
    response = admin_client.get(f"/api/v1/courses/{course['id']}/enrollments?{query}")
    assert response.status_code == 200, response.get_json()
    assert [e["user"]["full_name"] for e in response.get_json()] == names
    # The counts describe the whole course, whatever the filter.
    assert json.loads(response.headers["X-Roster-Counts"])["active"] == 3


def test_roster_is_paginated(admin_client, filled_roster):
    course, bodies = filled_roster
    url = f"/api/v1/courses/{course['id']}/enrollments?page_size=4"
    first = admin_client.get(url)
    second = admin_client.get(url + "&page=2")
    assert [e["id"] for e in first.get_json() + second.get_json()] == [b["id"] for b in bodies]
    pagination = json.loads(first.headers["X-Pagination"])
    assert pagination["total"] == 6 and pagination["total_pages"] == 2


@pytest.mark.parametrize("query", ["status=pending", "q=", "page_size=101", "page=0"])
def test_roster_bad_query_is_422(admin_client, course, query):
    assert_problem(admin_client.get(f"/api/v1/courses/{course['id']}/enrollments?{query}"), 422)


# --- my enrolments -------------------------------------------------------------------------


def test_my_enrolments_list_my_courses_with_a_summary(
    admin_client, teacher_client, other_teacher_client
):
    program = admin_client.post(
        "/api/v1/programs", json={"code": "IIOT-TOUR", "title": "工业互联网产教融合教师研修·中国行"}
    ).get_json()
    early = make_course(
        admin_client,
        capacity=1,
        waitlist_enabled=True,
        program_id=program["id"],
        starts_on="2020-12-02",
        ends_on="2099-12-08",
    )
    late = make_course(
        admin_client, title="5G+工业互联网应用研修", starts_on="2021-03-01", ends_on="2099-03-05"
    )
    enrolled(other_teacher_client, early["id"])
    waiting = enrolled(teacher_client, early["id"])
    active = enrolled(teacher_client, late["id"])

    mine = teacher_client.get("/api/v1/me/enrollments").get_json()
    assert [e["id"] for e in mine] == [active["id"], waiting["id"]]  # newest course first
    assert mine[0]["course"]["title"] == "5G+工业互联网应用研修"
    assert mine[0]["course"]["program"] is None
    summary = mine[1]["course"]
    assert summary["code"] == early["code"] and summary["status"] == "published"
    assert summary["starts_on"] == "2020-12-02" and summary["location"] == "广州"
    assert summary["time_zone"] == "Asia/Shanghai"
    assert summary["host_institution"] == "广东轻工职业技术学院"
    assert summary["program"]["code"] == "IIOT-TOUR"
    assert "capacity" not in summary and "seats_taken" not in summary

    waitlisted = teacher_client.get("/api/v1/me/enrollments?status=waitlisted").get_json()
    assert [e["id"] for e in waitlisted] == [waiting["id"]]
    assert teacher_client.get("/api/v1/me/enrollments?status=withdrawn").get_json() == []
    assert len(other_teacher_client.get("/api/v1/me/enrollments").get_json()) == 1


def test_my_enrolments_keep_withdrawn_and_closed_ones(admin_client, teacher_client):
    course = make_course(admin_client)
    body = enrolled(teacher_client, course["id"])
    teacher_client.post(f"/api/v1/enrollments/{body['id']}/withdraw")
    mine = teacher_client.get("/api/v1/me/enrollments?status=withdrawn").get_json()
    assert [e["status"] for e in mine] == ["withdrawn"]


def test_my_enrolments_need_login_and_a_valid_status(anon, teacher_client):
    assert_problem(anon.get("/api/v1/me/enrollments"), 401)
    assert_problem(teacher_client.get("/api/v1/me/enrollments?status=bogus"), 422)


def test_admins_have_no_enrolments_of_their_own(admin_client, teacher, course):
    enrolled(admin_client, course["id"], user_id=teacher.id)
    assert admin_client.get("/api/v1/me/enrollments").get_json() == []


# --- one enrolment -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "persona,status",
    [
        ("owner", 200),
        ("admin", 200),
        ("assigned-instructor", 200),
        ("other-instructor", 404),
        ("other-teacher", 404),
        ("anonymous", 401),
    ],
)
def test_who_may_read_an_enrolment(
    admin_client,
    teacher_client,
    instructor_client,
    other_instructor_client,
    other_teacher_client,
    anon,
    course,
    persona,
    status,
):
    body = enrolled(teacher_client, course["id"])
    client = {
        "owner": teacher_client,
        "admin": admin_client,
        "assigned-instructor": instructor_client,
        "other-instructor": other_instructor_client,
        "other-teacher": other_teacher_client,
        "anonymous": anon,
    }[persona]
    response = client.get(f"/api/v1/enrollments/{body['id']}")
    if status == 200:
        assert response.status_code == 200
        assert response.get_json()["id"] == body["id"]
        assert response.get_json()["status"] == "active"
    else:
        assert_problem(response, status)


def test_unknown_enrolment_is_404(admin_client):
    assert_problem(admin_client.get("/api/v1/enrollments/999999"), 404)


# --- query counts --------------------------------------------------------------------------


def _roster_queries(admin_client, users, count_queries, n: int) -> int:
    course = make_course(admin_client, capacity=n // 2, waitlist_enabled=True)
    for _ in range(n):
        enrolled(admin_client, course["id"], user_id=users.create(password=None).id)
    url = f"/api/v1/courses/{course['id']}/enrollments?page_size=100"
    with count_queries() as statements:
        response = admin_client.get(url)
    assert len(response.get_json()) == n
    return len(statements)


def test_roster_query_count_does_not_grow_with_the_roster(admin_client, users, count_queries):
    assert _roster_queries(admin_client, users, count_queries, 10) == _roster_queries(
        admin_client, users, count_queries, 60
    )


def _my_enrolment_queries(app, admin_client, users, count_queries, n: int) -> int:
    program = admin_client.post(
        "/api/v1/programs", json={"code": f"P-{next(_codes)}", "title": "中国行"}
    ).get_json()
    teacher = users.create()
    for i in range(n):
        course = make_course(
            admin_client, publish=True, program_id=program["id"] if i % 3 else None
        )
        enrolled(admin_client, course["id"], user_id=teacher.id)
    client = client_for(app, teacher)
    with count_queries() as statements:
        response = client.get("/api/v1/me/enrollments?page_size=100")
    body = response.get_json()
    assert len(body) == n and all("code" in e["course"] for e in body)
    return len(statements)


def test_draft_courses_stay_out_of_my_enrolments(app, admin_client, users):
    teacher = users.create()
    draft = make_course(admin_client, publish=False)
    enrolled(admin_client, draft["id"], user_id=teacher.id)
    client = client_for(app, teacher)
    assert client.get("/api/v1/me/enrollments").get_json() == []
    admin_client.post(f"/api/v1/courses/{draft['id']}/modules", json=SHORT_THEORY)
    assert admin_client.post(f"/api/v1/courses/{draft['id']}/publish").status_code == 200
    assert [e["course_id"] for e in client.get("/api/v1/me/enrollments").get_json()] == [
        draft["id"]
    ]


@pytest.mark.slow
def test_my_enrolments_query_count_does_not_grow(app, admin_client, users, count_queries):
    assert _my_enrolment_queries(
        app, admin_client, users, count_queries, 10
    ) == _my_enrolment_queries(app, admin_client, users, count_queries, 60)

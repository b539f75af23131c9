"""Times over HTTP: one canonical form (UTC, ``+00:00``) in every answer, the write's echo
included; a course's time zone and the instant its dates end; the end closing
self-enrolment unless an admin keeps it open."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.http import assert_problem, enrol, enrolled, make_course
from tests.payloads import practical_defaults


def local_today(zone: str):
    return datetime.now(ZoneInfo(zone)).date()


# --- canonical times -------------------------------------------------------------------------


def test_a_patch_echoes_times_in_the_same_utc_form_as_a_later_get(admin_client):
    course = make_course(admin_client, publish=False)
    url = f"/api/v1/courses/{course['id']}"
    response = admin_client.patch(
        url,
        json={
            "enroll_opens_at": "2099-01-01T09:00:00+08:00",
            "enroll_closes_at": "2099-02-01T08:30:00-05:00",
        },
    )
    assert response.status_code == 200, response.get_json()
    echo, later = response.get_json(), admin_client.get(url).get_json()
    assert echo["enroll_opens_at"] == later["enroll_opens_at"] == "2099-01-01T01:00:00+00:00"
    assert echo["enroll_closes_at"] == later["enroll_closes_at"] == "2099-02-01T13:30:00+00:00"


def test_a_created_module_echoes_its_deadlines_in_utc(admin_client):
    course = make_course(admin_client, publish=False)
    payload = {
        **practical_defaults(),
        "due_at": "2099-03-01T18:00:00+08:00",
        "closes_at": "2099-03-02T18:00:00+08:00",
    }
    response = admin_client.post(f"/api/v1/courses/{course['id']}/modules", json=payload)
    assert response.status_code == 201, response.get_json()
    echo = response.get_json()
    later = admin_client.get(f"/api/v1/modules/{echo['id']}").get_json()
    assert echo["due_at"] == later["due_at"] == "2099-03-01T10:00:00+00:00"
    assert echo["closes_at"] == later["closes_at"] == "2099-03-02T10:00:00+00:00"


# --- the course's time zone ------------------------------------------------------------------


def test_a_course_time_zone_defaults_to_shanghai(admin_client):
    course = make_course(admin_client, publish=False, ends_on="2099-12-08")
    assert course["time_zone"] == "Asia/Shanghai"
    # the end of 8 December in Shanghai (UTC+8)
    assert course["ends_at"] == "2099-12-08T16:00:00+00:00"
    assert course["self_enrollment_closes_at"] == course["ends_at"]


def test_ends_at_is_the_end_of_ends_on_in_the_course_time_zone(admin_client):
    course = make_course(admin_client, publish=False, ends_on="2099-07-08")
    url = f"/api/v1/courses/{course['id']}"
    response = admin_client.patch(url, json={"time_zone": "America/New_York"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["time_zone"] == "America/New_York"
    assert response.get_json()["ends_at"] == "2099-07-09T04:00:00+00:00"  # EDT, UTC-4
    assert admin_client.get(url).get_json()["ends_at"] == "2099-07-09T04:00:00+00:00"


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "/usr/share/zoneinfo/UTC", "x" * 65, 8]
)
def test_an_unknown_time_zone_is_422_and_changes_nothing(admin_client, zone):
    course = make_course(admin_client, publish=False)
    url = f"/api/v1/courses/{course['id']}"
    response = admin_client.patch(url, json={"time_zone": zone})
    assert "time_zone" in assert_problem(response, 422)["errors"]
    assert admin_client.get(url).get_json()["time_zone"] == "Asia/Shanghai"
    response = admin_client.post(
        "/api/v1/courses",
        json={
            "code": "TZ-BAD",
            "title": "t",
            "starts_on": "2099-01-01",
            "ends_on": "2099-01-02",
            "time_zone": zone,
        },
    )
    assert "time_zone" in assert_problem(response, 422)["errors"]


# --- the end of the course closes self-enrolment ---------------------------------------------


def test_self_enrolment_after_the_course_ended_is_409_course_ended(admin_client, teacher_client):
    ended = local_today("Asia/Shanghai") - timedelta(days=1)
    course = make_course(admin_client, starts_on="2020-12-02", ends_on=ended.isoformat())
    assert_problem(enrol(teacher_client, course["id"]), 409, "course-ended")


def test_self_enrolment_stays_open_on_the_last_day(admin_client, teacher_client):
    today = local_today("Asia/Shanghai")
    course = make_course(admin_client, starts_on="2020-12-02", ends_on=today.isoformat())
    assert enrolled(teacher_client, course["id"])["status"] == "active"


def test_the_course_end_is_counted_in_the_course_time_zone(admin_client, teacher_client):
    # the day before today in Kiritimati (UTC+14) has ended there, and not yet in
    # Pago Pago (UTC-11), where today is at most that day
    day = (local_today("Pacific/Kiritimati") - timedelta(days=1)).isoformat()
    east = make_course(
        admin_client, starts_on="2020-12-02", ends_on=day, time_zone="Pacific/Kiritimati"
    )
    west = make_course(
        admin_client, starts_on="2020-12-02", ends_on=day, time_zone="Pacific/Pago_Pago"
    )
    assert_problem(enrol(teacher_client, east["id"]), 409, "course-ended")
    assert enrolled(teacher_client, west["id"])["status"] == "active"


def test_an_admin_keeps_self_enrolment_open_after_the_end_with_enroll_closes_at(
    admin_client, teacher_client
):
    ended = local_today("Asia/Shanghai") - timedelta(days=3)
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    course = make_course(
        admin_client, starts_on="2020-12-02", ends_on=ended.isoformat(), enroll_closes_at=later
    )
    assert course["self_enrollment_closes_at"] == course["enroll_closes_at"]
    assert enrolled(teacher_client, course["id"])["status"] == "active"


def test_an_explicit_enroll_closes_at_in_the_past_answers_enrollment_closed(
    admin_client, teacher_client
):
    ended = local_today("Asia/Shanghai") - timedelta(days=3)
    earlier = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    course = make_course(
        admin_client, starts_on="2020-12-02", ends_on=ended.isoformat(), enroll_closes_at=earlier
    )
    assert_problem(enrol(teacher_client, course["id"]), 409, "enrollment-closed")


def test_an_admin_still_enrols_a_teacher_after_the_end(admin_client, teacher, teacher_client):
    ended = local_today("Asia/Shanghai") - timedelta(days=1)
    course = make_course(admin_client, starts_on="2020-12-02", ends_on=ended.isoformat())
    response = admin_client.post(
        f"/api/v1/courses/{course['id']}/enrollments", json={"user_id": teacher.id}
    )
    assert response.status_code == 201, response.get_json()

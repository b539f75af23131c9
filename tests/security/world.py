"""The "world" the authorization matrix runs against, built inside the test transaction.

    course A (published, program P): theory module with a quiz, a practical module, and an
        optional theory module without a quiz (for the completion routes)
    instructor A assigned to course A; course B (published) with instructor B
    teacher T1 enrolled in A: a quiz attempt (progress), a submission with a PDF file,
        an extension on the practical module, a passing grade, an issued certificate,
        a personal API token; the admin's certificates ZIP job (succeeded)
    teacher T2 enrolled in course B only (never in A)
    admin

Personas are logged in with a cookie session (the ApiClient sends X-CSRFToken).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lms.accounts import services as account_services
from lms.extensions import db
from tests.builders import UserFactory, add_grade
from tests.http import ApiClient, client_for, submitted
from tests.payloads import QUIZ, practical_defaults

_codes = itertools.count(1)

PERSONAS = ("anonymous", "teacher_t2", "instructor_other", "teacher_t1", "instructor", "admin")


@dataclass
class World:
    app: object
    users: dict = field(default_factory=dict)  # persona -> User
    ids: dict = field(default_factory=dict)  # path parameter name -> value

    def client(self, persona: str) -> ApiClient:
        if persona != "anonymous":
            return client_for(self.app, self.users[persona])
        c = ApiClient(self.app.test_client())
        c.fetch_csrf()  # so a 401/403 is about the login, not the CSRF token
        return c


def _ok(response, *statuses):
    assert response.status_code in (statuses or (200, 201)), response.get_data(as_text=True)
    return response.get_json()


def build_world(app) -> World:
    n = next(_codes)
    factory = UserFactory()
    world = World(app)
    u = world.users
    u["admin"] = factory.create(role="admin", full_name="王教务")
    u["instructor"] = factory.create(role="instructor", full_name="张导师")
    u["instructor_other"] = factory.create(role="instructor", full_name="赵导师")
    u["teacher_t1"] = factory.create(role="teacher", full_name="李明", full_name_en="Li Ming")
    u["teacher_t2"] = factory.create(role="teacher", full_name="陈红")

    admin = world.client("admin")
    program = _ok(
        admin.post("/api/v1/programs", json={"code": f"AUTHZ-P{n}", "title": "工业互联网中国行"})
    )

    def course(code):
        body = _ok(
            admin.post(
                "/api/v1/courses",
                json={
                    "code": code,
                    "title": "工业互联网产教融合教师研修·广州站",
                    "program_id": program["id"],
                    "host_institution": "广东轻工职业技术学院",
                    "starts_on": "2020-12-02",
                    "ends_on": "2099-12-08",
                    "min_theory_hours": 0,
                    "min_practical_hours": 0,
                },
            )
        )
        return body

    course_a = course(f"AUTHZ-A{n}")
    course_b = course(f"AUTHZ-B{n}")
    theory = _ok(
        admin.post(
            f"/api/v1/courses/{course_a['id']}/modules",
            json={"kind": "theory", "title": "工业互联网体系架构", "hours": 4, "quiz": QUIZ},
        )
    )
    practical = _ok(
        admin.post(f"/api/v1/courses/{course_a['id']}/modules", json=practical_defaults())
    )
    plain = _ok(
        admin.post(
            f"/api/v1/courses/{course_a['id']}/modules",
            json={"kind": "theory", "title": "5G与工业互联网", "hours": 2, "required": False},
        )
    )
    _ok(
        admin.post(
            f"/api/v1/courses/{course_b['id']}/modules",
            json={"kind": "theory", "title": "工业大数据", "hours": 2},
        )
    )
    for c, instructor in ((course_a, "instructor"), (course_b, "instructor_other")):
        _ok(admin.post(f"/api/v1/courses/{c['id']}/publish"))
        _ok(admin.put(f"/api/v1/courses/{c['id']}/instructors/{u[instructor].id}"))

    t1 = world.client("teacher_t1")
    enrollment = _ok(t1.post(f"/api/v1/courses/{course_a['id']}/enrollments", json={}))
    t2 = world.client("teacher_t2")
    _ok(t2.post(f"/api/v1/courses/{course_b['id']}/enrollments", json={}))

    _ok(
        t1.post(f"/api/v1/modules/{theory['id']}/quiz-attempts", json={"answers": [[0], [0, 1, 2]]})
    )
    submission = submitted(t1, practical["id"])
    instructor = world.client("instructor")
    _ok(
        instructor.post(
            f"/api/v1/modules/{practical['id']}/extensions",
            json={
                "user_id": u["teacher_t1"].id,
                "due_at": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
                "reason": "病假",
            },
        )
    )
    add_grade(submission["id"], passed=True, feedback="做得不错", grader_id=u["instructor"].id)
    issued = _ok(
        admin.post(
            f"/api/v1/courses/{course_a['id']}/certificates",
            json={"enrollment_ids": [enrollment["id"]]},
        )
    )
    assert len(issued["issued"]) == 1, issued
    certificate = issued["issued"][0]
    job = _ok(  # the admin's ZIP export job (run inline by the test configuration)
        admin.get(
            f"/api/v1/courses/{course_a['id']}/certificates.zip",
            headers={"Prefer": "respond-async"},
        ),
        202,
    )
    token, _secret = account_services.create_api_token(u["teacher_t1"], "script", None)
    db.session.commit()

    world.ids = {
        "course_id": course_a["id"],
        "program_id": program["id"],
        "theory_module_id": theory["id"],
        "practical_module_id": practical["id"],
        "plain_module_id": plain["id"],
        "enrollment_id": enrollment["id"],
        "submission_id": submission["id"],
        "file_id": submission["files"][0]["id"],
        "serial": certificate["serial"],
        "code": certificate["verify_url"].rstrip("/").rsplit("/", 1)[-1],
        "token_id": token.id,
        "t1_id": u["teacher_t1"].id,
        "instructor_id": u["instructor"].id,
        "holder_name": certificate["holder_name"],
        "job_id": job["id"],
    }
    return world

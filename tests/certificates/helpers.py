"""Builders for certificate tests (stable: also used by the completion, PDF and credential
tests).

    course = certificate_course(admin_client, **course_overrides)
        -> course JSON with course["modules"] = [theory module JSON] (published; no minimum
           hours, one required 2-hour theory module without quiz)
    setup = eligible_enrollment(admin_client, users, course=None, **user_fields)
        -> {"course", "module", "user", "enrollment"} (the module completion is written
           straight to the database, so the enrolment is eligible)
    setup = ineligible_enrollment(admin_client, users, course=None, **user_fields)
        -> the same, without the completion
    setup = issued_certificate(admin_client, users, course=None, **user_fields)
        -> eligible_enrollment(...) plus "certificate" (the CertificateOut JSON)
    body = issue(admin_client, course_id, **payload)   # asserts 200, returns the JSON
"""

from __future__ import annotations

import itertools

from lms.extensions import db
from lms.learning.models import ModuleCompletion

_codes = itertools.count(1)

THEORY_MODULE = {"kind": "theory", "title": "工业互联网体系架构", "hours": 2}


def certificate_course(admin_client, **overrides) -> dict:
    """A published course whose only requirement is one 2-hour theory module."""
    payload = {
        "code": f"GZ-CERT-{next(_codes)}",
        "title": "工业互联网产教融合教师研修·广州站",
        "host_institution": "广东轻工职业技术学院",
        "organizers": ["中国职业技术教育学会", "中国工业互联网研究院"],
        "location": "广州",
        "starts_on": "2020-12-02",
        "ends_on": "2020-12-08",
        "min_theory_hours": 0,
        "min_practical_hours": 0,
        "certificate_issuer": "广东轻工职业技术学院",
        **overrides,
    }
    response = admin_client.post("/api/v1/courses", json=payload)
    assert response.status_code == 201, response.get_json()
    course = response.get_json()
    response = admin_client.post(f"/api/v1/courses/{course['id']}/modules", json=THEORY_MODULE)
    assert response.status_code == 201, response.get_json()
    module = response.get_json()
    response = admin_client.post(f"/api/v1/courses/{course['id']}/publish")
    assert response.status_code == 200, response.get_json()
    course = response.get_json()
    course["modules"] = [module]
    return course


def ineligible_enrollment(admin_client, users, course: dict | None = None, **user_fields) -> dict:
    """A new teacher enrolled (by the admin) in ``course`` (a new certificate course when
    None), with nothing completed."""
    course = course or certificate_course(admin_client)
    user = users.create(role="teacher", **user_fields)
    response = admin_client.post(
        f"/api/v1/courses/{course['id']}/enrollments", json={"user_id": user.id}
    )
    assert response.status_code == 201, response.get_json()
    enrollment = response.get_json()
    assert enrollment["status"] == "active", enrollment
    return {
        "course": course,
        "module": course["modules"][0],
        "user": user,
        "enrollment": enrollment,
    }


def complete_modules(enrollment_id: int, module_ids) -> None:
    """Mark theory modules completed for an enrolment, straight in the database."""
    db.session.add_all(
        ModuleCompletion(enrollment_id=enrollment_id, module_id=m, how="manual") for m in module_ids
    )
    db.session.commit()


def eligible_enrollment(admin_client, users, course: dict | None = None, **user_fields) -> dict:
    """``ineligible_enrollment`` with every module of the course completed."""
    setup = ineligible_enrollment(admin_client, users, course, **user_fields)
    complete_modules(setup["enrollment"]["id"], [m["id"] for m in setup["course"]["modules"]])
    return setup


def issue(admin_client, course_id: int, **payload) -> dict:
    """POST the issuance request; asserts 200 and returns the body."""
    response = admin_client.post(f"/api/v1/courses/{course_id}/certificates", json=payload)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def issued_certificate(admin_client, users, course: dict | None = None, **user_fields) -> dict:
    """An eligible enrolment with its certificate issued; adds "certificate" to the setup."""
    setup = eligible_enrollment(admin_client, users, course, **user_fields)
    body = issue(admin_client, setup["course"]["id"], enrollment_ids=[setup["enrollment"]["id"]])
    assert len(body["issued"]) == 1, body
    setup["certificate"] = body["issued"][0]
    return setup

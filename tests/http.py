"""HTTP helpers: a test client that speaks the API's CSRF protocol, logged-in clients, and
the API calls the tests repeat (courses, enrolments, learning, submissions, grading,
certificates). Everything here goes through the API; ORM builders are in tests.builders.

    client = client_for(app, user_or_email, own_address=False)   # logged in (cookie)
    client = token_client(app, secret); clients = token_clients(app, n, role="teacher")
    body = assert_problem(response, status, code=None)
    course = make_course(client, modules=None, base=BRIEF_COURSE, publish=True,
                         instructor=None, **fields)   # course JSON + "modules": [JSON]
    course = certificate_course(admin_client, **fields)
    setup = practical_setup(admin_client, teacher_client=None, course=None, **module_fields)
    user, client = new_teacher(app, users, course_id=None, **fields)
    client = instructor_of(app, users, admin_client, course_id, **fields)
    response = enrol(client, course_id, **body); body = enrolled(client, course_id, **body)
    complete(client, module_id), attempt(client, module_id, answers),
    progress(client, enrollment_id), progress_ok(...), by_module(progress_body)
    response = submit(client, module_id, text=..., files=[(name, bytes)], **kwargs)
    body = submitted(client, module_id, **kwargs)
    g = graded_setup(app, users, **options); g.grade(*points, **body); scores_for(module)
    setup = ineligible_enrollment / eligible_enrollment / issued_certificate(admin_client,
        users, course=None, **user_fields); body = issue(admin_client, course_id, **payload)
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from datetime import datetime

from flask.globals import _cv_app

from lms.accounts.models import User
from tests.builders import (
    PASSWORD,
    add_completion,
    add_course,
    add_enrolment,
    add_instructor,
    add_practical,
    add_submission,
)
from tests.payloads import (
    BRIEF_COURSE,
    PDF_BYTES,
    SHORT_THEORY,
    TWO_HOUR_THEORY,
    practical_defaults,
)

_codes = itertools.count(1)
_addresses = itertools.count(1)
_people = itertools.count(1)

# --- clients ---------------------------------------------------------------------------------


class ApiClient:
    """Wraps Flask's test client: JSON by default, and X-CSRFToken on unsafe requests."""

    def __init__(self, client):
        self.client = client
        self.csrf_token: str | None = None
        self.bearer: str | None = None

    def fetch_csrf(self) -> str:
        self.csrf_token = self.get("/api/v1/auth/csrf").get_json()["csrf_token"]
        return self.csrf_token

    def login(self, email: str, password: str = PASSWORD, *, expect: int = 200):
        self.fetch_csrf()
        response = self.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert response.status_code == expect, response.get_data(as_text=True)
        if response.status_code == 200:
            self.csrf_token = response.get_json()["csrf_token"]
        return response

    def _headers(self, method: str, headers):
        merged = dict(headers or {})
        if self.bearer:
            merged.setdefault("Authorization", f"Bearer {self.bearer}")
        elif method in ("POST", "PUT", "PATCH", "DELETE") and self.csrf_token:
            merged.setdefault("X-CSRFToken", self.csrf_token)
        return merged

    def open(self, method: str, url: str, *, headers=None, **kwargs):
        # Each request gets its own app context, as in production: the test's own context
        # is hidden meanwhile, otherwise ``g`` (and flask-login's cached user) would leak
        # from one request into the next.
        hidden = _cv_app.set(None)
        # Buffered: a streamed body is read while the request's context still exists.
        kwargs.setdefault("buffered", True)
        try:
            return self.client.open(
                url, method=method, headers=self._headers(method, headers), **kwargs
            )
        finally:
            _cv_app.reset(hidden)

    def get(self, url, **kw):
        return self.open("GET", url, **kw)

    def post(self, url, **kw):
        return self.open("POST", url, **kw)

    def patch(self, url, **kw):
        return self.open("PATCH", url, **kw)

    def put(self, url, **kw):
        return self.open("PUT", url, **kw)

    def delete(self, url, **kw):
        return self.open("DELETE", url, **kw)


def client_for(app, user: User | str, *, own_address: bool = False) -> ApiClient:
    """A fresh browser logged in as ``user`` (a User or an email; the factory password).
    ``own_address``: from a remote address no other client uses (the login rate limit is
    per address; for the many logins of the concurrency tests)."""
    client = ApiClient(app.test_client())
    if own_address:
        n = next(_addresses)
        client.client.environ_base["REMOTE_ADDR"] = (
            f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        )
    client.login(user if isinstance(user, str) else user.email)
    return client


def token_client(app, secret: str) -> ApiClient:
    """A client that sends the personal API token ``secret`` (bearer), no cookie session."""
    client = ApiClient(app.test_client())
    client.bearer = secret
    return client


def token_clients(app, n: int, role: str = "teacher") -> list[ApiClient]:
    """``n`` new users (committed), each sending a personal API token of their own. Made in
    the database in one transaction: no login round trips, for the bursts of hundreds."""
    from lms.accounts.services import create_api_token
    from lms.extensions import db

    with app.app_context():
        users = [
            User(email=f"race{k}@example.edu.cn", full_name=f"并发学员{k}", role=role)
            for k in (next(_people) for _ in range(n))
        ]
        db.session.add_all(users)
        db.session.flush()
        secrets = [create_api_token(user, "race", None)[1] for user in users]
        db.session.commit()
    return [token_client(app, secret) for secret in secrets]


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """Assert an RFC 9457 problem answer with ``status`` (and ``code``); return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json", response.mimetype
    body = response.get_json()
    for key in ("type", "title", "status", "detail"):
        assert key in body, body
    assert body["status"] == status
    if code is not None:
        assert body.get("code") == code, body
    return body


# --- courses ---------------------------------------------------------------------------------


def add_module(client, course_id: int, payload: dict) -> dict:
    """POST a module; asserts 201 and returns it."""
    response = client.post(f"/api/v1/courses/{course_id}/modules", json=payload)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_course(
    client,
    modules=None,
    *,
    base: dict = BRIEF_COURSE,
    publish: bool = True,
    instructor: User | None = None,
    **fields,
) -> dict:
    """A course created over HTTP from a unique code, ``base`` and ``fields`` (a code in
    either wins), with ``modules`` (payloads, in order; default: one 4-hour theory module
    when published, none otherwise), published unless ``publish=False``, and
    ``instructor`` assigned. Returns the course JSON (the publish answer when published)
    with "modules": the module JSON answers."""
    response = client.post(
        "/api/v1/courses", json={"code": f"GZ-COURSE-{next(_codes)}", **base, **fields}
    )
    assert response.status_code == 201, response.get_json()
    course = response.get_json()
    if modules is None:
        modules = [SHORT_THEORY] if publish else []
    bodies = [add_module(client, course["id"], payload) for payload in modules]
    if publish:
        response = client.post(f"/api/v1/courses/{course['id']}/publish")
        assert response.status_code == 200, response.get_json()
        course = response.get_json()
    if instructor is not None:
        response = client.put(f"/api/v1/courses/{course['id']}/instructors/{instructor.id}")
        assert response.status_code == 200, response.get_json()
    course["modules"] = bodies
    return course


CERTIFICATE_COURSE = {
    **BRIEF_COURSE,
    "organizers": ["中国职业技术教育学会", "中国工业互联网研究院"],
    "min_theory_hours": 0,
    "min_practical_hours": 0,
    "certificate_issuer": "广东轻工职业技术学院",
}


def certificate_course(admin_client, **fields) -> dict:
    """A published course whose only requirement is one 2-hour theory module
    (course["modules"] = [that module])."""
    return make_course(admin_client, [TWO_HOUR_THEORY], base=CERTIFICATE_COURSE, **fields)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def practical_setup(
    admin_client, teacher_client=None, *, course: dict | None = None, **module_overrides
) -> dict:
    """A published course with one practical module; ``teacher_client`` (if given) enrols.

    ``module_overrides`` change the module payload (datetimes may be passed as datetime
    objects, ``None`` removes a deadline); ``course`` overrides course fields.
    Returns {"course", "module", "enrollment"} (JSON bodies; enrollment None without teacher).
    """
    module_payload = {
        **practical_defaults(),
        **{k: _iso(v) if isinstance(v, datetime) else v for k, v in module_overrides.items()},
    }
    body = make_course(admin_client, [module_payload], **(course or {}))
    enrollment = enrolled(teacher_client, body["id"]) if teacher_client else None
    return {"course": body, "module": body["modules"][0], "enrollment": enrollment}


# --- people ----------------------------------------------------------------------------------


def new_teacher(app, users, course_id: int | None = None, **fields):
    """A new teacher, logged in, and enrolled in ``course_id`` when given: (user, client)."""
    user = users.create(role="teacher", **fields)
    client = client_for(app, user)
    if course_id is not None:
        enrolled(client, course_id)
    return user, client


def instructor_of(app, users, admin_client, course_id: int, **fields) -> ApiClient:
    """A new instructor assigned to the course, logged in."""
    user = users.create(role="instructor", **fields)
    response = admin_client.put(f"/api/v1/courses/{course_id}/instructors/{user.id}")
    assert response.status_code in (200, 201), response.get_json()
    return client_for(app, user)


# --- enrolments and learning -----------------------------------------------------------------


def enrol(client, course_id: int, /, **body):
    """POST an enrolment (self-enrolment without ``user_id``); the response."""
    return client.post(f"/api/v1/courses/{course_id}/enrollments", json=body)


def enrolled(client, course_id: int, /, **body) -> dict:
    """``enrol`` that asserts 201 and returns the enrolment."""
    response = enrol(client, course_id, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def complete(client, module_id: int):
    return client.post(f"/api/v1/modules/{module_id}/completion")


def attempt(client, module_id: int, answers):
    return client.post(f"/api/v1/modules/{module_id}/quiz-attempts", json={"answers": answers})


def progress(client, enrollment_id: int):
    return client.get(f"/api/v1/enrollments/{enrollment_id}/progress")


def progress_ok(client, enrollment_id: int) -> dict:
    response = progress(client, enrollment_id)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_module(progress_body: dict) -> dict[int, dict]:
    return {m["module_id"]: m for m in progress_body["modules"]}


# --- submissions and grading -----------------------------------------------------------------

DEFAULT_FILES = (("report.pdf", PDF_BYTES),)


def submit(
    client,
    module_id: int,
    text: str | None = "实训报告：设备已接入平台。",
    files=DEFAULT_FILES,
    **kwargs,
):
    """POST a multipart submission; ``files`` is a list of (filename, bytes). Returns the
    response (no assertion)."""
    data: dict = {"files": [(io.BytesIO(content), name) for name, content in files]}
    if text is not None:
        data["text"] = text
    return client.post(
        f"/api/v1/modules/{module_id}/submissions",
        data=data,
        content_type="multipart/form-data",
        **kwargs,
    )


def submitted(client, module_id: int, **kwargs) -> dict:
    """``submit`` that asserts 201 and returns the submission."""
    response = submit(client, module_id, **kwargs)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def scores_for(module, *points) -> list[dict]:
    """A score for every criterion of ``module`` (ORM), in rubric order (default: full
    marks): the "scores" of a grading request."""
    criteria = sorted(module.criteria, key=lambda c: c.position)
    values = points or [float(c.max_points) for c in criteria]
    return [{"criterion_id": c.id, "points": p} for c, p in zip(criteria, values, strict=True)]


@dataclass
class Graded:
    """A practical set-up: course, module, its instructor and one teacher's submission
    (ORM objects), and the two logged-in clients."""

    course: object
    module: object
    instructor: User
    instructor_client: ApiClient
    owner: User
    owner_client: ApiClient
    enrollment: object
    submission: object

    def grade(self, *points, client: ApiClient | None = None, headers=None, **body):
        payload = {"scores": scores_for(self.module, *points), **body}
        return (client or self.instructor_client).post(
            f"/api/v1/submissions/{self.submission.id}/grade", json=payload, headers=headers
        )


def graded_setup(app, users, **options) -> Graded:
    """A published course (``grade_release`` etc. in options) with one practical module,
    an assigned instructor, and a teacher with one submitted attempt (written with the
    ORM builders)."""
    module_options = {
        k: options.pop(k) for k in ("max_attempts", "reopen", "pass_points") if k in options
    }
    course = add_course(**options)
    module = add_practical(course, **module_options)
    instructor = users.create(role="instructor", full_name="张导师")
    add_instructor(course, instructor)
    owner = users.create(role="teacher", full_name="李明", institution="广东轻工职业技术学院")
    enrollment = add_enrolment(course, owner)
    submission = add_submission(enrollment, module, files=1, minutes=0)
    return Graded(
        course,
        module,
        instructor,
        client_for(app, instructor),
        owner,
        client_for(app, owner),
        enrollment,
        submission,
    )


# --- certificates ----------------------------------------------------------------------------


def ineligible_enrollment(admin_client, users, course: dict | None = None, **user_fields) -> dict:
    """A new teacher enrolled (by the admin) in ``course`` (a new certificate course when
    None), with nothing completed: {"course", "module", "user", "enrollment"}."""
    course = course or certificate_course(admin_client)
    user = users.create(role="teacher", **user_fields)
    enrollment = enrolled(admin_client, course["id"], user_id=user.id)
    assert enrollment["status"] == "active", enrollment
    return {
        "course": course,
        "module": course["modules"][0],
        "user": user,
        "enrollment": enrollment,
    }


def eligible_enrollment(admin_client, users, course: dict | None = None, **user_fields) -> dict:
    """``ineligible_enrollment`` with every module of the course completed (written
    straight to the database)."""
    setup = ineligible_enrollment(admin_client, users, course, **user_fields)
    add_completion(setup["enrollment"], *setup["course"]["modules"])
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

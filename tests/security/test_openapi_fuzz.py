"""schemathesis against the app's own OpenAPI document, in process, as an admin and a teacher.

Every operation of ``/api/v1/openapi.json`` is fuzzed with schemathesis' default checks (no
server error, status code / content type / headers / response schema as documented, negative
data rejected, authentication not ignored, ...): positive cases with generated path values,
positive cases whose path names real objects of the security world (tests/security/world.py:
a published course with modules, an enrolment, a graded submission with a file, a
certificate), and negative cases. Each case runs in its own SAVEPOINT, rolled back
afterwards, so a fuzzed DELETE or revoke never changes what the next case sees.

Bounded and reproducible: ``derandomize=True`` and a fixed number of examples per operation
and mode (FUZZ_EXAMPLES, default below). The number of cases is printed in the terminal
summary (tests/evidence.py).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from unittest import mock

import pytest
import schemathesis
from flask.globals import _cv_app
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

from lms.accounts import services as account_services
from lms.core.storage import get_storage
from lms.extensions import db
from tests import evidence
from tests.security.world import build_world

pytestmark = pytest.mark.slow  # a fuzzer: tens of seconds per persona

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))

# Which objects of the world may fill each path parameter (world.ids keys).
REAL_IDS = {
    "course_id": ["course_id"],
    "program_id": ["program_id"],
    "module_id": ["theory_module_id", "practical_module_id", "plain_module_id"],
    "enrollment_id": ["enrollment_id"],
    "submission_id": ["submission_id"],
    "file_id": ["file_id"],
    "serial": ["serial"],
    "code": ["code"],
    "token_id": ["token_id"],
    "user_id": ["t1_id", "instructor_id"],
}

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
    report_multiple_bugs=False,
)


# positive_data_acceptance: a request the schema allows may still break a rule no JSON schema
# states (end date before start date, wrong current password, answers that do not match the
# quiz, a criterion of another rubric): the API answers those 422 by design (DESIGN.md 4), so
# 422 joins the check's default list; If-Match preconditions (412/428) likewise. Every other
# check keeps its defaults.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", 401, 403, 404, 409, 412, 422, 428, 429]
            }
        }
    }
)


CHECKS_RUN: Counter[str] = Counter()  # check name -> responses it judged
# schemathesis' defaults that must have judged responses (the others apply only sometimes)
DEFAULT_CHECKS = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "ignored_auth",
}


@pytest.fixture(scope="module")
def fuzz_schema(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=CONFIG)

    @schema.hook
    def after_validate(context, case, response, results):
        CHECKS_RUN.update(result.name for result in results)

    return schema


def _real_path_parameters(operation, ids: dict) -> list[dict]:
    """Every combination of real objects for the operation's path parameters."""
    combos: list[dict] = [{}]
    for parameter in operation.path_parameters:
        keys = REAL_IDS.get(parameter.name)
        if not keys:
            return []
        combos = [{**c, parameter.name: ids[key]} for c in combos for key in keys]
    return combos


def _strategies(operation, ids: dict) -> list[tuple[GenerationMode, object]]:
    """Positive cases with generated path values, positive cases naming real objects, and
    negative cases (when the operation has an input to break)."""
    strategies = [(GenerationMode.POSITIVE, operation.as_strategy(GenerationMode.POSITIVE))]
    real = [
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=values)
        for values in _real_path_parameters(operation, ids)
    ]
    if real:
        strategies.append((GenerationMode.POSITIVE, st.one_of(real)))
    if any((operation.path_parameters, operation.query, operation.headers, operation.body)):
        strategies.append((GenerationMode.NEGATIVE, operation.as_strategy(GenerationMode.NEGATIVE)))
    return strategies


def _fuzz(app, schema, persona: str) -> None:
    # Every case's rows are rolled back (a savepoint), but a file its request deleted would
    # stay deleted: a re-rendered PDF deletes the file the rolled-back row still names.
    # Stored files are therefore never deleted while fuzzing.
    with mock.patch.object(type(get_storage()), "delete", lambda self, key: None):
        _fuzz_cases(app, schema, persona)


def _fuzz_cases(app, schema, persona: str) -> None:
    world = build_world(app)
    user = world.users[persona]
    connection = db.session.connection()
    failures: list[str] = []
    cases = 0
    operations = 0
    skipped_negative: list[str] = []
    verdicts_before = sum(CHECKS_RUN.values())

    def run_case(case) -> None:
        nonlocal cases
        cases += 1
        savepoint = connection.begin_nested()
        try:
            # a fresh token per case: a fuzzed DELETE /auth/tokens/{id} may revoke it
            _token, secret = account_services.create_api_token(user, "fuzz", None)
            db.session.flush()
            headers = {"Authorization": f"Bearer {secret}"}
            # Each request gets its own app context, as in production (see ApiClient.open)
            hidden = _cv_app.set(None)
            try:
                case.call_and_validate(headers=headers)
            finally:
                _cv_app.reset(hidden)
        finally:
            savepoint.rollback()
            db.session.expire_all()

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode, strategy in _strategies(operation, world.ids):

            @FUZZ_SETTINGS
            @given(case=strategy)
            def fuzz(case):
                run_case(case)

            try:
                fuzz()
            except Unsatisfiable:
                # Nothing invalid fits in the URL: a path segment's only negative value is
                # the empty string (GET /verify/{code})
                if mode is not GenerationMode.NEGATIVE:
                    raise
                skipped_negative.append(operation.label)
            except (Exception, BaseExceptionGroup) as exc:  # reported together below
                failures.append(f"{operation.label} ({mode.value}): {exc}")

    evidence.add("schemathesis cases", cases, note=f"{EXAMPLES} examples per operation and mode")
    evidence.add(
        "schemathesis check verdicts",
        sum(CHECKS_RUN.values()) - verdicts_before,
        note=", ".join(sorted(CHECKS_RUN)),
    )
    evidence.add(f"schemathesis operations ({persona})", operations)
    documented = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    assert operations == sum(len(item.keys() - {"parameters"}) for item in documented.values())
    assert DEFAULT_CHECKS <= CHECKS_RUN.keys(), sorted(CHECKS_RUN)
    assert len(skipped_negative) <= 1, skipped_negative
    assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)


def test_fuzz_as_admin(app, fuzz_schema):
    _fuzz(app, fuzz_schema, "admin")


def test_fuzz_as_teacher(app, fuzz_schema):
    _fuzz(app, fuzz_schema, "teacher_t1")


def test_document_declares_every_status_of_the_authorization_matrix(app):
    """Each status the authorization matrix expects of a route, for any persona, is one
    the OpenAPI document declares for that operation (the matrix covers anonymous callers
    and object-level refusals, which the authenticated fuzzing above does not reach)."""
    from tests.security.test_authorization_matrix import ROUTES

    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    checked = 0
    undeclared = []
    for (method, rule), row in ROUTES.items():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
        if path not in spec["paths"]:
            continue  # not part of the API (the verification page, health checks)
        responses = spec["paths"][path][method.lower()]["responses"]
        for status in set(row.expected):
            checked += 1
            if str(status) not in responses:
                undeclared.append(f"{method} {path}: {status} (declared: {sorted(responses)})")
    evidence.add("matrix statuses checked against the OpenAPI document", checked)
    assert checked > 100
    assert not undeclared, "\n".join(undeclared)


def test_document_is_valid_openapi_3(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    validate(spec)  # raises on the first violation of the OpenAPI 3.0 schema


def test_document_declares_no_catch_all_and_problem_errors(app):
    """No ``default`` response hides an undeclared status; every success says what it
    carries and every error is problem+json; public operations say so (security: [])."""
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    public = set()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert "default" not in operation["responses"], (method, path)
            for status, response in operation["responses"].items():
                if status.startswith("2") and status != "204":
                    assert response.get("content"), (method, path, status)
                if int(status) >= 400:
                    ref = response.get("$ref", "")
                    content = response.get("content") or spec["components"]["responses"][
                        ref.rsplit("/", 1)[-1]
                    ].get("content")
                    assert list(content) == ["application/problem+json"], (method, path, status)
            if operation.get("security") == []:
                public.add(f"{method.upper()} {path}")
    assert public == {
        "GET /api/v1/auth/csrf",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/activate",
        "GET /api/v1/verify/{code}",
        "GET /api/v1/verify",
        "GET /api/v1/issuer",
        "GET /api/v1/issuer/jwks.json",
    }


def test_what_the_fuzzing_found_stays_fixed(admin_client):
    """The server errors schemathesis found, as plain regression checks (both databases)."""
    course = admin_client.post(
        "/api/v1/courses",
        json={
            "code": "FUZZ-1",
            "title": "工业互联网",
            "starts_on": "2020-12-02",
            "ends_on": "2020-12-08",
        },
    )
    assert course.status_code == 201, course.get_json()
    course_id = course.get_json()["id"]

    # ids beyond INTEGER in the path: 404 (11 digits: the router; 10: no such row), not a 500
    # from the driver nor werkzeug's 405 for a converter refusal
    for path in (
        "/api/v1/courses/61278309932673483362413838336",
        "/api/v1/courses/61278309932673483362413838336/enrollments",
        "/api/v1/courses/9999999999",
    ):
        response = admin_client.get(path)
        assert response.status_code == 404, (path, response.get_data(as_text=True))
        assert response.mimetype == "application/problem+json"

    # integers beyond INTEGER in a body or a query: 422, nothing written
    huge = admin_client.patch(f"/api/v1/courses/{course_id}", json={"program_id": 10**30})
    assert huge.status_code == 422, huge.get_json()
    assert "program_id" in huge.get_json()["errors"]
    listed = admin_client.get("/api/v1/certificates?course_id=91831686893716451098624")
    assert listed.status_code == 422, listed.get_json()

    # a page far beyond the end: an empty page, not an OFFSET overflow
    page = admin_client.get("/api/v1/certificates?page=13973360503919804416")
    assert page.status_code == 200, page.get_json()
    assert page.get_json() == []

    # an unknown programme on update: 422, not the foreign key failing at autoflush (500)
    unknown = admin_client.patch(
        f"/api/v1/courses/{course_id}", json={"program_id": 2_000_000_000, "title": "改名"}
    )
    assert unknown.status_code == 422, unknown.get_json()
    assert "program_id" in unknown.get_json()["errors"]
    after = admin_client.get(f"/api/v1/courses/{course_id}").get_json()
    assert after["title"] == "工业互联网"
    assert after["program_id"] is None

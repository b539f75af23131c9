"""Errors are problem+json, headers are hardened, docs work offline, health checks."""

import re

import pytest
from werkzeug import exceptions as werkzeug_exceptions

from lms.app import create_app
from tests.http import assert_problem


def test_unknown_api_route_is_404_problem_with_a_code(client):
    body = assert_problem(client.get("/api/v1/does-not-exist"), 404, "not-found")
    assert body["type"] == "urn:lms:problem:not-found"


def test_unknown_page_is_404_problem_with_a_code(client):
    assert_problem(client.get("/nowhere"), 404, "not-found")


def test_wrong_method_is_405_problem_with_allow_and_a_code(client):
    response = client.open("PUT", "/api/v1/auth/me")
    body = assert_problem(response, 405, "method-not-allowed")
    assert body["type"] == "urn:lms:problem:method-not-allowed"
    assert "GET" in response.headers["Allow"]


WERKZEUG_CLIENT_ERRORS = sorted(
    (code, cls) for code, cls in werkzeug_exceptions.default_exceptions.items() if code < 500
)


def test_every_werkzeug_client_error_answers_a_problem_with_a_code():
    """Whatever werkzeug (routing, limits, uploads) raises, the answer has a ``code``."""
    app = create_app({"LMS_ENV": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})

    @app.route("/raise/<int:status>")
    def raise_(status):
        werkzeug_exceptions.abort(status)

    client = app.test_client()
    codes = {}
    for status, cls in WERKZEUG_CLIENT_ERRORS:
        body = assert_problem(client.get(f"/raise/{status}"), status)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", body.get("code", "")), (cls, body)
        assert body["type"] == f"urn:lms:problem:{body['code']}", body
        codes[status] = body["code"]
    assert codes[404] == "not-found" and codes[405] == "method-not-allowed"
    assert codes[413] == "payload-too-large" and codes[429] == "too-many-requests"
    assert len(set(codes.values())) == len(codes)  # one code per status


def test_body_over_the_limit_is_413_problem(app, admin_client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = admin_client.post(
        "/api/v1/users/import",
        data=b"x" * (limit + 1),
        content_type="multipart/form-data; boundary=zz",
    )
    assert_problem(response, 413)


def test_validation_error_names_fields(admin_client):
    body = assert_problem(
        admin_client.post("/api/v1/users", json={"email": "x"}), 422, "validation-failed"
    )
    assert isinstance(body["errors"]["email"], list)


def _app_with_failing_route():
    app = create_app(
        {
            "LMS_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "PROPAGATE_EXCEPTIONS": False,
        }
    )

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    return app


def test_server_error_is_500_problem_without_traceback_and_with_logged_error_id(caplog):
    app = _app_with_failing_route()
    with caplog.at_level("ERROR"):
        response = app.test_client().get("/boom")
    body = assert_problem(response, 500, "internal-error")
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert re.fullmatch(r"[0-9a-f]{32}", body["error_id"])
    assert body["error_id"] in caplog.text


def test_readyz_reports_database_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_readyz_is_503_when_the_database_is_unreachable():
    app = create_app(
        {"LMS_ENV": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite:////nonexistent/dir/db.sqlite3"}
    )
    assert_problem(app.test_client().get("/readyz"), 503, "not-ready")


def test_security_headers_on_api_answers(client):
    response = client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_hsts_only_over_https(client):
    plain = client.client.get("/healthz")
    assert "Strict-Transport-Security" not in plain.headers
    secure = client.client.get("/healthz", base_url="https://lms.example.edu.cn")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_authenticated_api_answers_are_not_stored(teacher_client):
    response = teacher_client.get("/api/v1/auth/me")
    assert response.headers["Cache-Control"] == "no-store"


def test_error_answers_carry_security_headers(client):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_openapi_document_lists_the_routes(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/users" in spec["paths"] and "/api/v1/auth/login" in spec["paths"]
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_docs_page_works_offline_under_a_strict_csp(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html  # no CDN
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert len(response.data) > 100


@pytest.mark.parametrize(
    "path", ["/api/v1/docs/assets/../../config.py", "/api/v1/docs/assets/nope.js"]
)
def test_docs_assets_do_not_leak_other_files(client, path):
    assert client.get(path).status_code == 404


def test_chinese_problem_titles_when_asked(client):
    response = client.get("/api/v1/auth/me", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    body = assert_problem(response, 401)
    assert body["detail"] == "请先登录。"


def test_client_address_comes_from_the_trusted_proxy_only(monkeypatch):
    from flask import request

    app = create_app(
        {"LMS_ENV": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://", "PROXY_COUNT": 1}
    )

    @app.route("/whoami")
    def whoami():
        return {"addr": request.remote_addr, "scheme": request.scheme}

    body = (
        app.test_client()
        .get(
            "/whoami",
            headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Forwarded-Proto": "https"},
        )
        .get_json()
    )
    assert body == {"addr": "198.51.100.7", "scheme": "https"}
    plain = create_app({"LMS_ENV": "testing", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    plain.add_url_rule("/whoami", view_func=whoami)
    body = plain.test_client().get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    assert body.get_json()["addr"] == "127.0.0.1"

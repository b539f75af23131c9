"""Response hardening, health checks and the offline Swagger UI assets."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Flask, g, request, send_from_directory
from flask_login import current_user
from sqlalchemy import text

from lms.core.db import db, reading
from lms.core.errors import problem_response

HTML_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"

web = Blueprint("web", __name__)
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


@web.route("/healthz")
def healthz():
    """Liveness: the process answers."""
    return {"status": "ok"}


@web.route("/readyz")
def readyz():
    """Readiness: the database answers."""
    try:
        with reading(), db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        return problem_response(503, "The database is not reachable.", code="not-ready")
    return {"status": "ready", "database": "ok"}


@web.route("/api/v1/docs/assets/<path:filename>")
def swagger_assets(filename):
    """Swagger UI's files from the installed swagger_ui_bundle package: no CDN needed."""
    if filename == "lms-swagger-init.js":
        return send_from_directory(STATIC_DIR, filename, max_age=3600)
    return send_from_directory(SWAGGER_DIR, filename, max_age=86400)


def secure_headers(response):
    """Headers every response carries; stricter ones for API answers."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    # same-origin: browsers still send Referer to us, which the CSRF check needs over HTTPS.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        # Over HTTPS (directly, or via a trusted proxy's X-Forwarded-Proto): browsers must
        # never come back over plain HTTP. Not sent over HTTP, where it would be ignored.
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    is_html = response.mimetype == "text/html"
    headers.setdefault("Content-Security-Policy", HTML_CSP if is_html else API_CSP)
    if request.path.startswith("/api/") and "/docs/assets/" not in request.path:
        # A 5xx is never cached, and its user is not looked up: when the database is
        # unavailable (503) loading the user again would fail again, inside this hook.
        if (
            response.status_code >= 500
            or request.path.startswith("/api/v1/auth")
            or _authenticated()
        ):
            # A view's own "private, no-store" stays; so does "public" on public documents
            # (the issuer's JWKS), which are the same whoever asks.
            current = headers.get("Cache-Control", "")
            if "no-store" not in current and "public" not in current:
                headers["Cache-Control"] = "no-store"
        else:
            headers.setdefault("Cache-Control", "no-cache")
    return response


def _authenticated() -> bool:
    """Whether the caller is signed in, without loading anyone for a request that carries
    neither a cookie nor an Authorization header (the public verification API, mostly):
    such a request is anonymous whatever the loaders would say."""
    if "_login_user" not in g and not request.cookies and "Authorization" not in request.headers:
        return False
    return current_user.is_authenticated


def init_web(app: Flask) -> None:
    """Register health checks, docs assets and response hardening; trust proxy headers
    only from as many reverse proxies as LMS_PROXY_COUNT says."""
    app.register_blueprint(web)
    app.after_request(secure_headers)
    proxies = app.config.get("PROXY_COUNT", 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

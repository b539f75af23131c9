"""Configuration read from the environment (DESIGN section 5).

Every setting has one source: an environment variable, with a default that is safe for a
developer laptop. Production refuses to start without the secrets it needs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("LMS_INSTANCE_DIR", BASE_DIR / "instance"))

ENVIRONMENTS = ("development", "testing", "production")


class ConfigError(RuntimeError):
    """Raised when the environment does not describe a runnable configuration."""


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _development_secret() -> str:
    """A per-checkout secret kept in instance/, so dev sessions survive restarts."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _development_signing_key() -> str:
    """A per-checkout Ed25519 key in instance/ (PKCS#8 PEM, mode 0600), made once."""
    path = INSTANCE_DIR / "signing-key.pem"
    if not path.exists():
        from lms.certificates.signing import write_private_key

        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        try:
            write_private_key(path)
        except FileExistsError:  # a concurrent start won the race
            pass
    return str(path)


def _signing_key(env: str) -> str:
    """Path of the Ed25519 key that signs credentials (LMS_SIGNING_KEY).

    Testing returns "": lms.certificates.signing then makes an ephemeral key per app.
    """
    path = os.environ.get("LMS_SIGNING_KEY", "")
    if path or env == "testing":
        return path
    if env == "production":
        raise ConfigError(
            "LMS_SIGNING_KEY (path to an Ed25519 private key, PEM) is required when "
            "LMS_ENV=production; make one with: openssl genpkey -algorithm ed25519"
        )
    return _development_signing_key()


def _pool_options() -> dict:
    """Connection pool sizing per process, only where the environment sets it.

    Unset, SQLAlchemy's defaults apply: 5 connections kept, 10 more on demand, and a request
    that finds all 15 busy waits up to 30 s for one (then 503 with Retry-After); it is never
    refused at once. A sync gunicorn worker holds one connection at most; threaded servers
    need LMS_DB_POOL_SIZE near their thread count. Keep processes x (pool size + overflow)
    under PostgreSQL's max_connections. (In-memory SQLite has no pool to size.)
    """
    names = {
        "pool_size": "LMS_DB_POOL_SIZE",
        "max_overflow": "LMS_DB_MAX_OVERFLOW",
        "pool_timeout": "LMS_DB_POOL_TIMEOUT",
    }
    return {key: int(os.environ[name]) for key, name in names.items() if os.environ.get(name)}


def load_config(env: str | None = None) -> dict:
    """Return the Flask configuration mapping for ``env`` (default: ``LMS_ENV``)."""
    env = env or os.environ.get("LMS_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"LMS_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    production = env == "production"
    testing = env == "testing"

    secret_key = os.environ.get("SECRET_KEY")
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY is required when LMS_ENV=production")
        secret_key = "testing-secret-key" if testing else _development_secret()

    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'lms.sqlite3'}"
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    return {
        "LMS_ENV": env,
        "TESTING": testing,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, **_pool_options()},
        "LMS_BASE_URL": os.environ.get("LMS_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Number of reverse proxies in front of the app whose X-Forwarded-* headers we trust
        # (client address for rate limits and sessions, https scheme). 0: trust none.
        "PROXY_COUNT": _int("LMS_PROXY_COUNT", 0),
        "LMS_UPLOAD_DIR": os.environ.get("LMS_UPLOAD_DIR", str(INSTANCE_DIR / "uploads")),
        "LMS_CERT_FONT": os.environ.get("LMS_CERT_FONT", ""),
        "LMS_SIGNING_KEY": _signing_key(env),
        # Background jobs (lms.jobs): who runs them ("thread": the process that accepted
        # them; "worker": `flask lms run-jobs`; "inline": after the request's commit, in
        # the request, for deterministic tests), above how many rows an endpoint answers
        # 202 with a job, and after how many seconds without a heartbeat a job is failed.
        "LMS_JOBS_RUNNER": os.environ.get("LMS_JOBS_RUNNER", "inline" if testing else "thread"),
        "LMS_JOB_SYNC_LIMIT": _int("LMS_JOB_SYNC_LIMIT", 500),
        "LMS_JOB_STALE_SECONDS": _int("LMS_JOB_STALE_SECONDS", 120),
        # Argon2id cost. The defaults follow RFC 9106's second recommended option (64 MiB);
        # the test suite lowers them so that thousands of hashes stay fast.
        "ARGON2_TIME_COST": _int("ARGON2_TIME_COST", 1 if testing else 3),
        "ARGON2_MEMORY_COST_KIB": _int("ARGON2_MEMORY_COST_KIB", 1024 if testing else 65536),
        "ARGON2_PARALLELISM": _int("ARGON2_PARALLELISM", 1 if testing else 4),
        "ACTIVATION_TOKEN_HOURS": _int("LMS_ACTIVATION_TOKEN_HOURS", 7 * 24),
        "API_TOKEN_MAX_DAYS": _int("LMS_API_TOKEN_MAX_DAYS", 365),
        "MAX_CONTENT_LENGTH": _int("LMS_MAX_CONTENT_MB", 50) * 1024 * 1024,
        "MAX_FORM_MEMORY_SIZE": 2 * 1024 * 1024,
        # Sessions: signed cookie holding only an opaque server-side session key.
        "SESSION_COOKIE_NAME": "lms_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "PERMANENT_SESSION_LIFETIME": _int("LMS_SESSION_HOURS", 12) * 3600,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # CSRF: checked by lms.core.auth for cookie-authenticated unsafe requests only.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_HEADERS": ["X-CSRFToken", "X-CSRF-Token"],
        "WTF_CSRF_TIME_LIMIT": None,  # bound to the session, which expires on its own
        "WTF_CSRF_SSL_STRICT": production,
        # Rate limits (Flask-Limiter reads these keys directly).
        "RATELIMIT_ENABLED": _flag("RATELIMIT_ENABLED", True),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Redis down: count in each process's memory (logged as a warning) until it answers
        # again, rather than failing login and verification with 500.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # X-RateLimit-* on every limited answer and Retry-After on a 429; each costs a second
        # Redis call per request (about 0.1 ms of CPU in a worker, docs/benchmarks.md row 1).
        "RATELIMIT_HEADERS_ENABLED": _flag("RATELIMIT_HEADERS_ENABLED", True),
        # Sliding window counter: two counters per key and window, one Redis script per hit
        # and one for the X-RateLimit headers, constant time; the moving window's scripts
        # keep and walk one entry per request (docs/benchmarks.md, row 1). No burst at a
        # window's boundary: the previous window's count weighs in.
        "RATELIMIT_STRATEGY": os.environ.get("RATELIMIT_STRATEGY", "sliding-window-counter"),
        "LOGIN_RATE_LIMIT_PER_ADDRESS": os.environ.get("LMS_LOGIN_LIMIT_ADDRESS", "30 per minute"),
        "CERT_VERIFY_RATE_LIMIT": os.environ.get("LMS_VERIFY_LIMIT_ADDRESS", "60 per minute"),
        # Password checks (login, password change) per account *and* address, counted before
        # the hash and cleared by a success (lms.accounts.throttle).
        "LOGIN_RATE_LIMIT_PER_ACCOUNT": os.environ.get("LMS_LOGIN_LIMIT_ACCOUNT", "5 per minute"),
        # flask-smorest / OpenAPI
        "API_TITLE": "Dual-qualified teacher training LMS",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs/assets/",
        "API_SPEC_OPTIONS": {
            "info": {
                "description": "Courses, modules, enrolments, grading and verifiable certificates "
                "for dual-qualified (双师型) vocational teacher training."
            },
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer"},
                    "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "lms_session"},
                }
            },
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        },
        "JSON_SORT_KEYS": False,
    }

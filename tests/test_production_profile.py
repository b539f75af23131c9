"""The production profile: gunicorn settings, and rate limits that survive a Redis outage."""

import json
import os
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from gunicorn.config import Config

from tests import evidence

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = ROOT / "gunicorn.conf.py"

# A separate process: Flask-Limiter's Limiter is a module-level singleton whose storage is
# set by init_app, so an app pointed at a dead Redis must not share the suite's process.
WORKER = textwrap.dedent("""
    import json, sys
    from lms.app import create_app
    from lms.extensions import db
    settings = {"LMS_ENV": "testing", "SQLALCHEMY_DATABASE_URI": sys.argv[1],
                "LMS_UPLOAD_DIR": sys.argv[2], "RATELIMIT_STORAGE_URI": sys.argv[3],
                "CERT_VERIFY_RATE_LIMIT": "3 per minute", "WTF_CSRF_ENABLED": False,
                "LOGIN_RATE_LIMIT_PER_ADDRESS": "3 per minute"}
    if sys.argv[4] == "no-fallback":
        settings["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = False
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    client = app.test_client()
    verify = [client.get("/api/v1/verify/no-such-code").status_code for _ in range(4)]
    login = [client.post("/api/v1/auth/login",
                         json={"email": "nobody@example.cn", "password": "wrong password 1"}
                         ).status_code for _ in range(4)]
    print(json.dumps({"verify": verify, "login": login}))
""")
# Nothing listens on port 1: connections are refused at once, as with a Redis that is down.
DEAD_REDIS = "redis://127.0.0.1:1/0"


def _statuses(tmp_path: Path, mode: str) -> dict:
    result = subprocess.run(  # noqa: S603 - the project's own interpreter, fixed arguments
        [
            sys.executable,
            "-c",
            WORKER,
            f"sqlite:///{tmp_path / 'redis-down.sqlite3'}",
            str(tmp_path / "uploads"),
            DEAD_REDIS,
            mode,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_rate_limits_still_apply_per_process_when_redis_is_down(tmp_path):
    statuses = _statuses(tmp_path, "fallback")
    assert statuses == {"verify": [404, 404, 404, 429], "login": [401, 401, 401, 429]}
    evidence.add("requests answered without a 500 while Redis was down", 8)


@pytest.mark.slow
def test_negative_control_without_the_fallback_a_redis_outage_is_a_500(tmp_path):
    """What RATELIMIT_IN_MEMORY_FALLBACK_ENABLED saves: without it every rate-limited
    request fails while Redis is down."""
    statuses = _statuses(tmp_path, "no-fallback")
    assert statuses == {"verify": [500] * 4, "login": [500] * 4}


@pytest.mark.parametrize(("cpus", "workers"), [(1, 3), (2, 5), (4, 9), (5, 11), (64, 12)])
def test_default_workers_are_two_per_cpu_plus_one_capped_at_twelve(cpus, workers):
    settings = runpy.run_path(str(GUNICORN_CONF))
    assert settings["default_workers"](cpus) == workers


def test_gunicorn_conf_sets_only_settings_gunicorn_knows(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "7")
    monkeypatch.setenv("GUNICORN_TIMEOUT", "300")
    monkeypatch.delenv("GUNICORN_MAX_REQUESTS", raising=False)
    settings = runpy.run_path(str(GUNICORN_CONF))
    known = Config().settings
    ours = {
        name: value
        for name, value in settings.items()
        if not name.startswith("_") and not callable(value) and name not in ("os", "annotations")
    }
    assert set(ours) <= set(known), set(ours) - set(known)  # a typo would be ignored silently
    assert ours["workers"] == 7
    assert ours["timeout"] == 300
    assert ours["worker_class"] == "sync"
    assert ours["preload_app"] is False
    assert ours["max_requests"] == 0  # recycling would kill LMS_JOBS_RUNNER=thread jobs
    cfg = Config()
    for name, value in ours.items():
        cfg.set(name, value)  # gunicorn's own validators accept every value
    assert cfg.workers == 7
    assert "%(h)s" in cfg.access_log_format


def test_gunicorn_conf_defaults_follow_the_cpus_this_process_may_use(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    settings = runpy.run_path(str(GUNICORN_CONF))
    assert settings["workers"] == min(2 * len(os.sched_getaffinity(0)) + 1, 12)
    assert settings["bind"] == "127.0.0.1:8000"

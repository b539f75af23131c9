"""Login rate limits are shared by every worker process when they use Redis."""

import os
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts worker processes

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

WORKER = textwrap.dedent("""
    import json, sys
    from lms.app import create_app
    from lms.extensions import db
    app = create_app({"LMS_ENV": "testing", "SQLALCHEMY_DATABASE_URI": sys.argv[1],
                      "RATELIMIT_STORAGE_URI": sys.argv[2], "RATELIMIT_KEY_PREFIX": sys.argv[3],
                      "WTF_CSRF_ENABLED": False})
    with app.app_context():
        db.create_all()
    client = app.test_client()
    codes = [client.post("/api/v1/auth/login",
                         json={"email": sys.argv[4], "password": "wrong password 123"}).status_code
             for _ in range(int(sys.argv[5]))]
    print(json.dumps(codes))
""")


def _redis_reachable() -> bool:
    host, port = "127.0.0.1", 6379
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def _worker(tmp_path: Path, name: str, prefix: str, email: str, attempts: int) -> list[int]:
    db_url = f"sqlite:///{tmp_path / (name + '.sqlite3')}"
    result = subprocess.run(
        [sys.executable, "-c", WORKER, db_url, REDIS_URL, prefix, email, str(attempts)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    return __import__("json").loads(result.stdout.strip().splitlines()[-1])


def test_two_worker_processes_share_the_per_account_login_limit(tmp_path):
    if not _redis_reachable():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379 under CI")
        pytest.skip("Redis not reachable")
    prefix = f"lms-test-{uuid.uuid4().hex}"
    email = f"{uuid.uuid4().hex}@example.cn"
    assert _worker(tmp_path, "a", prefix, email, 3) == [401, 401, 401]
    # A second process, with its own connection: it sees the first one's failures.
    assert _worker(tmp_path, "b", prefix, email, 3) == [401, 401, 429]

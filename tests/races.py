"""Helpers for the real-concurrency tests (PostgreSQL, marker ``real_db``).

Every thread gets its own test client (a Flask test client keeps cookies and is not safe to
share between threads); the threads are released together by one barrier, and each request
gets its own app context, database session and pooled connection, as in production.

Each race and each negative control reports itself in tests/evidence.py, so that the
terminal summary prints how many races ran and how many controls caught their bug.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import evidence
from tests.conftest import POSTGRES
from tests.factories import ApiClient, UserFactory

# Every race module: PostgreSQL only (real row locks), real commits, each race three times.
PYTESTMARK = [
    pytest.mark.postgres,
    pytest.mark.real_db,
    pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL (set TEST_DATABASE_URL)"),
]
REPEATS = [pytest.param(i, id=f"run{i}") for i in range(1, 4)]

RACES_RUN = "concurrency races run"
CONTROLS_CAUGHT = "concurrency negative controls caught"
REQUESTS_FIRED = "concurrent requests fired"

_addresses = itertools.count(1)
_people = itertools.count(1)


def client_for(app, email: str) -> ApiClient:
    """A logged-in client with its own address (the login rate limit is per address)."""
    c = ApiClient(app.test_client())
    n = next(_addresses)
    c.client.environ_base["REMOTE_ADDR"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    c.login(email)
    return c


def create_users(app, n: int, role: str = "teacher") -> list[str]:
    """Commit ``n`` users; return their emails."""
    factory = UserFactory()
    with app.app_context():
        return [factory.create(role=role).email for _ in range(n)]


def token_clients(app, n: int, role: str = "teacher") -> list[ApiClient]:
    """``n`` new users, each sending a personal API token (bearer) of their own. Made in
    the database in one transaction: no login round trips, for the bursts of hundreds."""
    from lms.accounts.models import User
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
    clients = []
    for secret in secrets:
        client = ApiClient(app.test_client())
        client.bearer = secret
        clients.append(client)
    return clients


def fire_together(requests) -> list[tuple[int, dict]]:
    """Run the zero-argument callables in as many threads, released by one barrier;
    return (status, body) of each response, in order."""
    barrier = threading.Barrier(len(requests), timeout=60)

    def run(request):
        barrier.wait()
        response = request()
        return response.status_code, response.get_json()

    evidence.add(REQUESTS_FIRED, len(requests))
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(run, requests, timeout=180))


def no_server_errors(results) -> None:
    errors = [(status, body) for status, body in results if status >= 500]
    assert not errors, errors


def race_passed(name: str) -> None:
    """Count one repetition of a race whose invariants all held."""
    evidence.add(RACES_RUN, 1, note="each a barrier-released burst on PostgreSQL")
    evidence.add(f"race: {name}", 1)


def control_caught(name: str, anomalies: list[str]) -> None:
    """Count a negative control that showed its anomaly (the test asserts it did)."""
    assert anomalies, f"negative control {name!r} showed no anomaly"
    evidence.add(CONTROLS_CAUGHT, 1, note="unlocked read-modify-write variants, each detected")
    evidence.add(f"control: {name}", 1, note="; ".join(anomalies)[:120])

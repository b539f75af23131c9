"""Helpers for the real-concurrency tests (markers ``real_db`` and ``slow``).

Every thread gets its own test client (a Flask test client keeps cookies and is not safe to
share between threads: tests.http.client_for(app, email, own_address=True) or
token_clients); the threads are released together by one barrier, and each request
gets its own app context, database session and pooled connection, as in production.

Each race and each negative control reports itself in tests/evidence.py, so that the
terminal summary prints how many races ran and how many controls caught their bug.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import evidence

# Every race module: real commits, seconds per test, each race three times. Races that
# hold on the embedded default too run on both databases (SQLite: the session's file
# database, shared by the threads as by a threaded `make run`); the rest, and the negative
# controls that need concurrent writers (SQLite has one at a time), are PostgreSQL only.
PYTESTMARK = [pytest.mark.postgres, pytest.mark.real_db, pytest.mark.slow]
BOTH_DATABASES = [pytest.mark.real_db, pytest.mark.slow]
POSTGRES_ONLY = pytest.mark.postgres
SQLITE_ONLY = pytest.mark.skipif(
    os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="about SQLite's write lock: runs on the SQLite pass",
)
REPEATS = [pytest.param(i, id=f"run{i}") for i in range(1, 4)]

RACES_RUN = "concurrency races run"
CONTROLS_CAUGHT = "concurrency negative controls caught"
REQUESTS_FIRED = "concurrent requests fired"


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
    evidence.add(RACES_RUN, 1, note="each a barrier-released burst")
    evidence.add(f"race: {name}", 1)


def control_caught(name: str, anomalies: list[str]) -> None:
    """Count a negative control that showed its anomaly (the test asserts it did)."""
    assert anomalies, f"negative control {name!r} showed no anomaly"
    evidence.add(CONTROLS_CAUGHT, 1, note="unlocked read-modify-write variants, each detected")
    evidence.add(f"control: {name}", 1, note="; ".join(anomalies)[:120])

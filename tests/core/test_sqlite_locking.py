"""SQLite's write lock (lms.core.db): taken at BEGIN, except where a transaction only reads.

Every transaction begins IMMEDIATE (requests of any method, CLI, jobs), so that writers
queue on busy_timeout instead of failing (the races in tests/enrollments/test_concurrency.py
run on SQLite for that). A streamed body (the gradebook) is produced after the request
committed: its reads begin deferred, and a slow download holds no lock. These tests commit
for real; another writer is a plain sqlite3 connection that waits at most 0.2 s.
"""

from __future__ import annotations

import sqlite3

import pytest
from werkzeug.test import EnvironBuilder

import lms.app
from lms.core import db as core_db
from tests import races
from tests.builders import create_users
from tests.http import client_for, enrolled, make_course, token_clients

pytestmark = [races.SQLITE_ONLY, pytest.mark.real_db]


def _database_file(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


def _write_from_elsewhere(app, course_id: int) -> None:
    """A write transaction on another connection, as another request or process would."""
    other = sqlite3.connect(_database_file(app), timeout=0.2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE courses SET title = title WHERE id = ?", (course_id,))
        other.execute("COMMIT")
    finally:
        other.close()


def _gradebook_half_read(app):
    """An admin's gradebook CSV with its first chunk read, straight from the WSGI app as a
    server reads it (the stream's transaction is open); (course id, the rest)."""
    (admin,) = token_clients(app, 1, role="admin")
    course_id = make_course(admin, capacity=5, self_enrollment=True)["id"]
    (teacher_email,) = create_users(app, 1)
    enrolled(client_for(app, teacher_email, own_address=True), course_id)
    environ = EnvironBuilder(
        path=f"/api/v1/courses/{course_id}/gradebook",
        query_string={"format": "csv"},
        headers={"Authorization": f"Bearer {admin.bearer}"},
    ).get_environ()
    statuses = []
    body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    chunks = iter(body)
    first = next(chunks)
    assert statuses == ["200 OK"] and first.startswith("\ufeff".encode())
    return course_id, body


def _finish(body) -> None:
    for _ in body:  # the rest of the download: the stream ends and lets go of its session
        pass
    body.close()


def test_a_streamed_gradebook_holds_no_write_lock_while_it_is_downloaded(app):
    course_id, body = _gradebook_half_read(app)
    try:
        _write_from_elsewhere(app, course_id)  # would raise "database is locked"
    finally:
        _finish(body)


def test_negative_control_a_stream_in_an_immediate_transaction_blocks_writers(app, monkeypatch):
    monkeypatch.setattr(lms.app, "reading_stream", lambda chunks: chunks)
    course_id, body = _gradebook_half_read(app)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            _write_from_elsewhere(app, course_id)
    finally:
        _finish(body)


def test_every_other_transaction_takes_the_write_lock_at_begin(app):
    """A request's transaction holds the lock from its first statement: a second writer
    waits for it (busy_timeout) instead of failing later with a stale snapshot."""
    with app.app_context():
        with core_db.db.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")  # only a read, in an IMMEDIATE transaction
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                _write_from_elsewhere(app, 0)
            connection.rollback()
        with core_db.reading(), core_db.db.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")  # deferred: no lock for a mere read
            _write_from_elsewhere(app, 0)
            connection.rollback()

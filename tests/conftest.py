"""Fixtures: one migrated database per run, one rolled-back transaction per test.

The database is SQLite unless TEST_DATABASE_URL names a PostgreSQL database
(``make test`` runs the suite once on each).
"""

from __future__ import annotations

import os

import pytest
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import create_engine, text

from lms.app import create_app
from lms.extensions import db, limiter
from tests.builders import UserFactory
from tests.http import ApiClient, client_for

POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


class ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's Session routes every query to its engine; in tests it must use the
    connection that holds the outer transaction."""

    def get_bind(self, *args, **kwargs):
        return self.bind if self.bind is not None else super().get_bind(*args, **kwargs)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "real_db: the test commits for real (no rolled-back transaction); every "
        "table is emptied afterwards",
    )


def pytest_terminal_summary(terminalreporter):
    """The safety evidence (tests/evidence.py): routes x personas, fuzz cases, races..."""
    from tests import evidence

    found = evidence.lines()
    if found:
        terminalreporter.write_sep("-", "safety evidence")
        for line in found:
            terminalreporter.write_line(line)


def pytest_report_header(config):
    url = os.environ.get("TEST_DATABASE_URL") or "sqlite (temporary file)"
    return f"database: {url}"


def pytest_collection_modifyitems(config, items):
    """The one way to skip PostgreSQL-only tests: mark them ``@pytest.mark.postgres`` (row
    locks, real concurrency, SQL only PostgreSQL has); on SQLite they are skipped here."""
    if POSTGRES:
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL: set TEST_DATABASE_URL (make test runs the suite on both)"
    )
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        _reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    app = create_app(
        {
            "LMS_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": database_url(tmp_path_factory),
            "LMS_UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return app


@pytest.fixture(autouse=True)
def _transaction(app, request):
    """Run each test inside a transaction that is rolled back afterwards.

    SQLAlchemy's "join an external transaction" recipe: the request-boundary commits become
    savepoint releases, so tests see their own writes and leave nothing behind.

    Tests marked ``real_db`` (real concurrency) keep the real session and commit; every
    table is emptied after them instead.
    """
    if request.node.get_closest_marker("real_db"):
        limiter.reset()
        try:
            yield
        finally:
            _empty_all_tables(app)
        return
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {
                "bind": connection,
                "join_transaction_mode": "create_savepoint",
                "class_": ConnectionBoundSession,
                "expire_on_commit": False,  # as in production
            }
        )
        limiter.reset()
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


def _empty_all_tables(app) -> None:
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def client(app):
    return ApiClient(app.test_client())


@pytest.fixture
def anon(app):
    """A second, independent browser."""
    return ApiClient(app.test_client())


@pytest.fixture
def users(app):
    return UserFactory()


@pytest.fixture
def admin(users):
    return users.create(role="admin", email="admin@example.edu.cn", full_name="王教务")


@pytest.fixture
def admin_client(app, admin):
    return client_for(app, admin)


@pytest.fixture
def teacher(users):
    return users.create(role="teacher", email="teacher@example.edu.cn", full_name="李明")


@pytest.fixture
def teacher_client(app, teacher):
    return client_for(app, teacher)


@pytest.fixture
def instructor(users):
    """An instructor account (assign it to a course to make it course staff)."""
    return users.create(role="instructor", full_name="陈建国")


@pytest.fixture
def instructor_client(app, instructor):
    return client_for(app, instructor)


@pytest.fixture
def count_queries(app):
    """Counts the SQL statements run inside the ``with`` block: ``with count_queries() as n``."""
    from contextlib import contextmanager

    from sqlalchemy import event

    @contextmanager
    def counter():
        statements: list[str] = []

        def before(conn, cursor, statement, *args):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
                statements.append(statement)

        engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counter

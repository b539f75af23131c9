"""The Alembic revisions and the models describe the same schema, and every revision undoes.

Each test migrates a fresh database of its own (a temporary SQLite file, or a throwaway
PostgreSQL database when TEST_DATABASE_URL names one), never the suite's test database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from lms.app import create_app
from lms.extensions import db


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.fixture
def fresh_url(tmp_path) -> Iterator[str]:
    """URL of an empty database of the kind the suite runs on, removed afterwards."""
    base = _postgres_url()
    if base is None:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    server_url = make_url(base).set(drivername="postgresql+psycopg")
    name = f"lms_test_migrations_{os.getpid()}"
    # CREATE/DROP DATABASE cannot run in a transaction; connect to the test database itself,
    # which exists, rather than assume a maintenance database.
    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        server.dispose()


@pytest.fixture
def migration_app(fresh_url) -> Iterator[Flask]:
    """An app bound to the fresh database, inside its app context."""
    app = create_app({"LMS_ENV": "testing", "SQLALCHEMY_DATABASE_URI": fresh_url})
    with app.app_context():
        try:
            yield app
        finally:
            # Every pooled connection closed, or PostgreSQL refuses to drop the database.
            for engine in db.engines.values():
                engine.dispose()


def _schema_differences() -> list:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def _table_names() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrations_create_exactly_the_schema_of_the_models(migration_app):
    upgrade()

    assert _schema_differences() == []


def test_upgrade_downgrade_to_base_and_upgrade_again(migration_app):
    model_tables = set(db.metadata.tables)

    upgrade()
    head = _current_revision()
    assert head is not None
    assert _table_names() == model_tables | {"alembic_version"}

    downgrade(revision="base")
    assert _table_names() == {"alembic_version"}
    assert _current_revision() is None
    if db.engine.dialect.name == "postgresql":
        # Types and sequences outlive their tables unless a downgrade drops them explicitly;
        # a leftover enum makes the next upgrade fail with "type already exists".
        inspector = inspect(db.engine)
        assert inspector.get_enums() == []
        assert inspector.get_sequence_names() == []

    upgrade()
    assert _current_revision() == head
    assert _table_names() == model_tables | {"alembic_version"}
    assert _schema_differences() == []

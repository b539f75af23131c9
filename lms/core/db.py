"""Declarative base with a constraint naming convention, and shared column helpers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no timezone support; without this, values read back would be naive on SQLite
    and aware on PostgreSQL, and comparisons would break on one of them.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    """Give SQLite real transactions, foreign keys and a busy timeout.

    pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented recipe
    turns it off and emits BEGIN itself (see ``_sqlite_begin``).
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


# SQLite transactions take the write lock up front, so that concurrent writers queue on
# busy_timeout. A deferred BEGIN that reads and then writes cannot wait for the lock in WAL
# mode (its snapshot may be stale: SQLITE_BUSY at once, whatever busy_timeout says).
SQLITE_BEGIN = "BEGIN IMMEDIATE"
# Transactions begun while a streamed response body is produced (after the request's
# commit) or inside ``reading()`` only read: they start deferred and hold no write lock.
_reading_only = ContextVar("lms_reading_only", default=False)
_END = object()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN" if _reading_only.get() else SQLITE_BEGIN)


@contextmanager
def reading():
    """SQLite transactions begun inside the block only read: they start deferred (a health
    probe must not queue behind the writers, nor make them wait)."""
    token = _reading_only.set(True)
    try:
        yield
    finally:
        _reading_only.reset(token)


def reading_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` with every SQLite transaction begun while producing them deferred.

    The request's own transaction has committed by then (``lms.app``), so whatever a
    streamed body reads (a gradebook, chunk by chunk) runs in a transaction of its own that
    could never commit a write: it need not, and must not, hold SQLite's write lock while
    the client downloads.
    """
    iterator = iter(chunks)
    try:
        while True:
            with reading():
                chunk = next(iterator, _END)
            if chunk is _END:
                return
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def violated_constraint(exc) -> str:
    """The name (PostgreSQL) or description (SQLite) of the constraint an IntegrityError
    broke, for mapping it to the right domain error."""
    orig = getattr(exc, "orig", exc)
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return diag.constraint_name
    return str(orig)


# The session every domain uses; re-exported by lms.extensions with the other singletons.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})

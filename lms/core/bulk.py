"""Bulk SQL: batches, key lookups, set-based inserts, and the dialect checks they need.

The one place for reading or writing many rows at once. Every helper works on SQLite and
PostgreSQL; on PostgreSQL some take a set-based path.

- Batches (``chunked``). A statement with one placeholder per key or per row value must
  stay below the bind-parameter limits (SQLite 32,766, PostgreSQL 65,535). Lookups go
  ``LOOKUP_BATCH`` keys a statement (``lookup_batches``), writes in batches of their own;
  the batches are the same on both databases, also where PostgreSQL gets one array
  parameter, so that the number of statements is predictable (tests pin it).
- Key lookups. On PostgreSQL the keys go as one array parameter in its text form, not as
  one placeholder per key: psycopg's conversion of many placeholders costs more than the
  query itself, and the text form is cheaper to build than psycopg's list dumper.
  ``among(column, keys)`` is ``column IN (SELECT unnest(:keys))``, the default: the server
  may hash the keys (a semi-join), which is right whether or not an index serves the
  column. ``among_indexed(column, ids)`` is ``column = ANY(:ids)``, for a column that an
  index leads with: each key is then an index range, read in index order (what the
  progress facts, streamed by enrolment, need); without such an index ``= ANY`` compares
  every row with every key. Elsewhere both are ``column IN (...)``.
- Inserts. ``insert_rows`` and ``insert_entities``: one ``INSERT ... SELECT`` from the
  rows as one JSON parameter on PostgreSQL; ``insert_ignoring``: ``INSERT ... ON CONFLICT
  DO NOTHING`` for the session's dialect.

docs/benchmarks.md ("Design measurements quoted from the code") has the measurements
behind each choice.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime

from sqlalchemy import Integer, Row, any_, bindparam, cast, column, func, insert, select, text
from sqlalchemy import Table as SqlTable
from sqlalchemy import Text as SqlText
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm.attributes import set_committed_value

from lms.core.db import db

LOOKUP_BATCH = 500  # keys per lookup statement (see the module docstring)


def chunked(items: Sequence, size: int) -> Iterator[Sequence]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def postgresql() -> bool:
    """True when the session's database is PostgreSQL (the set-based paths)."""
    return db.session.get_bind().dialect.name == "postgresql"


def lookup_batches(keys: Sequence, size: int = LOOKUP_BATCH) -> Iterator[Sequence]:
    """The batches of ``keys`` to look up with ``among``, ``size`` at a time (bounded also
    on PostgreSQL: one batch is one statement, and the query count stays predictable)."""
    return chunked(keys, size)


def among(column, keys: Sequence):
    """``column IN keys`` for integer or text keys; on PostgreSQL ``column IN (SELECT
    unnest(:keys))`` with the keys as one array parameter (see the module docstring)."""
    if not postgresql():
        return column.in_(keys)
    return column.in_(select(func.unnest(_array(keys))).scalar_subquery())


def among_indexed(column, ids: Sequence):
    """``column IN ids`` for a ``column`` that an index leads with; on PostgreSQL
    ``column = ANY(:ids)`` with the ids as one array parameter (see the module docstring:
    without such an index, use ``among``)."""
    if not postgresql():
        return column.in_(ids)
    return column == any_(_array(ids))


def _array(keys: Sequence):
    """``keys`` as one PostgreSQL array parameter, sent in its text form."""
    if all(isinstance(key, int) for key in keys):
        literal, element = "{" + ",".join(map(str, map(int, keys))) + "}", Integer
    else:
        literal, element = "{" + ",".join(map(_array_text, keys)) + "}", SqlText
    return cast(bindparam(None, literal, type_=SqlText), ARRAY(element))


def _array_text(key) -> str:
    """An element of a PostgreSQL array literal, quoted (backslashes and quotes escaped)."""
    return '"' + str(key).replace("\\", "\\\\").replace('"', '\\"') + '"'


def fetch_by(column, keys: Iterable, *, batch_size: int = LOOKUP_BATCH) -> dict:
    """Map each of ``keys`` found in ``column`` (e.g. ``User.email``) to its entity, with
    one query per ``batch_size`` keys rather than one per key."""
    found = {}
    for batch in lookup_batches(sorted(set(keys)), batch_size):
        for entity in db.session.scalars(select(column.class_).where(among(column, batch))):
            found[getattr(entity, column.key)] = entity
    return found


def insert_ignoring(model, *, index_elements, index_where=None):
    """``INSERT ... ON CONFLICT (index_elements) [WHERE index_where] DO NOTHING`` into
    ``model``'s table, for the session's dialect (PostgreSQL or SQLite; both accept a
    partial unique index as the conflict target). Executed with a list of rows, SQLAlchemy
    batches it ("insertmanyvalues"): one compiled statement, few round trips."""
    module = pg_dialect if postgresql() else sqlite_dialect
    return module.insert(model.__table__).on_conflict_do_nothing(
        index_elements=index_elements, index_where=index_where
    )


def insert_rows(
    table: SqlTable, rows: list[dict], *, returning: Sequence[str] = (), stmt=None
) -> list[Row]:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in their order; the
    ``returning`` columns of the inserted rows, in that order. ``stmt``: the INSERT to
    use (``insert(table)`` by default; one with ``ON CONFLICT``, say).

    On PostgreSQL one statement for all rows: ``INSERT ... SELECT`` from the rows sent as
    one JSON parameter (``json_to_recordset``), which the server reads faster than the same
    number of pipelined single-row INSERTs, and which hands the new ids back without a
    second query. Elsewhere an executemany (with RETURNING when asked)."""
    if not rows:
        return []
    stmt = insert(table) if stmt is None else stmt
    if not postgresql():
        if not returning:
            db.session.execute(stmt, rows)
            return []
        stmt = stmt.returning(*(table.c[c] for c in returning), sort_by_parameter_order=True)
        return list(db.session.execute(stmt, rows))
    db.session.flush()
    stmt = _from_recordset(stmt, table, list(rows[0]))
    if returning:
        stmt = stmt.returning(*(table.c[c] for c in returning))
    result = db.session.execute(stmt, {"rows": _json_rows(rows)})
    return list(result) if returning else []


def insert_entities(
    model, rows: list[dict], *, key: str, stmt=None, not_returned: Sequence[str] = ()
) -> list:
    """PostgreSQL only: ``insert_rows`` into ``model``'s table, returning the rows inserted
    as ``model`` entities, loaded from the statement's RETURNING as from a query (cheaper
    than constructing them). The ``not_returned`` columns (a large JSON
    document, say) are not sent back but set from the row with the same unique ``key``."""
    if not rows:
        return []
    table = model.__table__
    stmt = _from_recordset(insert(table) if stmt is None else stmt, table, list(rows[0]))
    stmt = stmt.returning(*(c for c in table.columns if c.name not in not_returned))
    db.session.flush()
    entities = list(
        db.session.scalars(select(model).from_statement(stmt), {"rows": _json_rows(rows)})
    )
    if not_returned:
        by_key = {row[key]: row for row in rows}
        for entity in entities:
            row = by_key[getattr(entity, key)]
            for name in not_returned:
                set_committed_value(entity, name, row[name])
    return entities


def _from_recordset(stmt, table: SqlTable, columns: list[str]):
    """``stmt`` (an INSERT into ``table``) as ``INSERT ... SELECT ... FROM ROWS FROM
    (json_to_recordset(:rows) AS (column type, ...)) WITH ORDINALITY ... ORDER BY ord``.

    The explicit order makes the ids the sequence hands out follow the list, which the
    audit chain (hashed in list order, verified in id order) relies on."""
    dialect = db.session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    definitions = ", ".join(
        f"{quote(c)} {table.c[c].type.compile(dialect=dialect)}" for c in columns
    )
    source = text(
        f"SELECT {names} FROM ROWS FROM (json_to_recordset(CAST(:rows AS json)) "  # noqa: S608 - our own column names, quoted
        f"AS ({definitions})) WITH ORDINALITY AS r({names}, ord) ORDER BY ord"
    ).columns(*(column(c, table.c[c].type) for c in columns))
    return stmt.from_select(columns, source)


def _json_rows(rows: list[dict]) -> str:
    """The rows as one JSON array; timestamps in ISO 8601 with their offset (as the
    timestamptz columns read them), each distinct one formatted once."""
    formatted: dict = {}

    def timestamp(value):
        if isinstance(value, datetime | date):
            text = formatted.get(value)
            if text is None:
                text = formatted[value] = value.isoformat()
            return text
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    return json.dumps(rows, ensure_ascii=False, default=timestamp)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch builds its many small objects.

    Evaluating a batch allocates tens of thousands of tuples that all survive it, which
    triggers full collections that traverse every object of the process (the app's too),
    a large share of a course-wide evaluation's CPU time. What a batch builds
    holds no reference cycles, so reference counting frees it all the same. Only the
    outermost pause re-enables the collector, and only if it was enabled. The switch is
    process-wide: pauses overlapping in other threads only shorten each other.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

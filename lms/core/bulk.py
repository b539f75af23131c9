"""Bulk SQL for imports and issuance: batched lookups and set-based inserts.

Every helper works on SQLite and PostgreSQL; on PostgreSQL some take a set-based path
(one array parameter, one ``INSERT ... SELECT``). docs/benchmarks.md has the measurements
behind each choice.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime

from sqlalchemy import Integer, Row, bindparam, cast, column, func, insert, select, text
from sqlalchemy import Table as SqlTable
from sqlalchemy import Text as SqlText
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm.attributes import set_committed_value

from lms.core.db import db

LOOKUP_BATCH = 500  # keys per IN (...) query: below SQLite's historic 999 parameter limit


def chunked(items: Sequence, size: int) -> Iterator[Sequence]:
    """Consecutive slices of ``items`` of at most ``size`` elements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def postgresql() -> bool:
    """True when the session's database is PostgreSQL (the set-based paths below)."""
    return db.session.get_bind().dialect.name == "postgresql"


def lookup_batches(keys: Sequence, size: int = LOOKUP_BATCH) -> Iterator[Sequence]:
    """The batches of ``keys`` to look up with ``among``, ``size`` at a time (bounded also
    on PostgreSQL: one batch is one statement, and the query count stays predictable)."""
    return chunked(keys, size)


def among(column, keys: Sequence):
    """``column IN keys`` for integer or text keys. On PostgreSQL ``column IN (SELECT
    unnest(:keys))`` with the array as one parameter in its text form: psycopg converts a
    statement with 500 placeholders in 10-25 ms, more than the query itself takes, and
    building the text form is ten times cheaper than psycopg's list dumper. A subquery
    rather than ``= ANY(:keys)``: where no index serves the column the server hashes the
    keys (a semi-join), where ``= ANY`` of a parameter compares every row with every key
    (measured: 30 s for 10,000 keys against 40,000 certificates)."""
    if not postgresql():
        return column.in_(keys)
    if all(isinstance(key, int) for key in keys):
        literal, element = "{" + ",".join(map(str, map(int, keys))) + "}", Integer
    else:
        literal, element = "{" + ",".join(map(_array_text, keys)) + "}", SqlText
    array = cast(bindparam(None, literal, type_=SqlText), ARRAY(element))
    return column.in_(select(func.unnest(array)).scalar_subquery())


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


def insert_rows(
    table: SqlTable, rows: list[dict], *, returning: Sequence[str] = (), stmt=None
) -> list[Row]:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in their order; the
    ``returning`` columns of the inserted rows, in that order. ``stmt``: the INSERT to
    use (``insert(table)`` by default; one with ``ON CONFLICT``, say).

    On PostgreSQL one statement for all rows: ``INSERT ... SELECT`` from the rows sent as
    one JSON parameter (``json_to_recordset``), which the server reads several times faster
    than the same number of pipelined single-row INSERTs, and which hands the new ids back
    without a second query. Elsewhere an executemany (with RETURNING when asked)."""
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
    as ``model`` entities, loaded from the statement's RETURNING as from a query (several
    times cheaper than constructing them). The ``not_returned`` columns (a large JSON
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
    triggers full collections that traverse every object of the process (the app's too):
    measured, more than half the CPU time of a course-wide evaluation. What a batch builds
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

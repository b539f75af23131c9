"""Recording and verifying audit events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import select, text

from lms.audit.models import AuditEvent
from lms.core import bulk
from lms.core.db import utcnow
from lms.extensions import db

GENESIS = "0" * 64
# Any constant works; it only has to be the same for every writer of the chain.
_CHAIN_LOCK_KEY = 0x4C4D5341  # "LMSA"


def _canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(
    prev_hash: str,
    at: datetime,
    actor_id: int | None,
    action: str,
    entity_type: str,
    entity_id: str | None,
    data: dict,
) -> str:
    """SHA-256 over a canonical JSON form of the event and its predecessor's hash."""
    return _digest(prev_hash, _canonical_time(at), actor_id, action, entity_type, entity_id, data)


def _digest(prev_hash, when: str, actor_id, action, entity_type, entity_id, data) -> str:
    """``compute_hash`` with the time already in its canonical form."""
    payload = json.dumps(
        [prev_hash, when, actor_id, action, entity_type, entity_id, data],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _lock_chain() -> None:
    """Serialise writers of the chain until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite already serialises writers.
    """
    if bulk.postgresql():
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})


def record(
    action: str, entity_type: str, entity_id, *, actor=None, data: dict | None = None
) -> AuditEvent:
    """Append an event to the chain in the current transaction (flushes, never commits)."""
    _lock_chain()
    prev = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    prev_hash = prev or GENESIS
    # JSON round trip so that what is hashed is exactly what the database gives back.
    clean = json.loads(json.dumps(data or {}, ensure_ascii=False, default=str))
    actor_id = actor.id if actor is not None else None
    entity = None if entity_id is None else str(entity_id)
    at = utcnow()
    event = AuditEvent(
        at=at,
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity,
        data=clean,
        prev_hash=prev_hash,
        hash=compute_hash(prev_hash, at, actor_id, action, entity_type, entity, clean),
    )
    db.session.add(event)
    db.session.flush()
    return event


@dataclass(frozen=True)
class PendingEvent:
    """An event to append with ``record_many``."""

    action: str
    entity_type: str
    entity_id: object
    data: dict | None = None


_SCALARS = (str, int, bool, type(None))


def _as_stored(data: dict | None) -> dict:
    """``data`` as the database gives it back, which is what gets hashed: a JSON round
    trip, skipped (a copy) when every key is text and every value a string, an integer,
    a boolean or None, which the round trip leaves as they are."""
    if not data:
        return {}
    if all(type(k) is str and type(v) in _SCALARS for k, v in data.items()):
        return dict(data)
    return json.loads(json.dumps(data, ensure_ascii=False, default=str))


class AppendedEvent(NamedTuple):
    """An event appended by ``record_many``: its columns but the id."""

    at: datetime
    actor_id: int | None
    action: str
    entity_type: str
    entity_id: str | None
    data: dict
    prev_hash: str
    hash: str


def record_many(events: list[PendingEvent], *, actor=None) -> list[AppendedEvent]:
    """Append many events with one lock, one read of the chain's head and one INSERT;
    returns the events appended, in chain order.

    Bulk operations (imports, bulk issuance) use this instead of ``record`` per row. The
    events share one timestamp (one transaction appends them) and are built as plain rows,
    not ORM objects, which is what makes a batch of thousands cheap.
    """
    if not events:
        return []
    _lock_chain()
    prev_hash = (
        db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
        or GENESIS
    )
    actor_id = actor.id if actor is not None else None
    at = utcnow()
    when = _canonical_time(at)
    rows = []
    for pending in events:
        clean = _as_stored(pending.data)
        entity = None if pending.entity_id is None else str(pending.entity_id)
        digest = _digest(
            prev_hash, when, actor_id, pending.action, pending.entity_type, entity, clean
        )
        rows.append(
            AppendedEvent(
                at, actor_id, pending.action, pending.entity_type, entity, clean, prev_hash, digest
            )
        )
        prev_hash = digest
    # Ids follow the list order, as the chain requires (see bulk.insert_rows).
    bulk.insert_rows(AuditEvent.__table__, [row._asdict() for row in rows])
    return rows


@dataclass
class ChainBreak:
    event_id: int
    reason: str


def iter_chain_breaks(batch: int = 1000) -> Iterator[ChainBreak]:
    """Walk the chain in id order and yield each event that does not verify."""
    expected_prev = GENESIS
    stmt = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch)
    for event in db.session.scalars(stmt):
        if event.prev_hash != expected_prev:
            yield ChainBreak(event.id, "previous hash does not match the preceding event")
        recomputed = compute_hash(
            event.prev_hash,
            event.at,
            event.actor_id,
            event.action,
            event.entity_type,
            event.entity_id,
            event.data,
        )
        if recomputed != event.hash:
            yield ChainBreak(event.id, "content does not match its hash")
        expected_prev = event.hash


def verify_chain() -> tuple[int, ChainBreak | None]:
    """Return the number of events checked and the first break, if any."""
    checked = db.session.scalar(select(db.func.count()).select_from(AuditEvent)) or 0
    first = next(iter_chain_breaks(), None)
    return checked, first

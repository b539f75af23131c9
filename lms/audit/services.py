"""Recording and verifying audit events."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text

from lms.audit.models import AuditEvent
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
    payload = json.dumps(
        [prev_hash, _canonical_time(at), actor_id, action, entity_type, entity_id, data],
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
    if db.session.get_bind().dialect.name == "postgresql":
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


def record_many(events: list[PendingEvent], *, actor=None) -> list[AuditEvent]:
    """Append many events with one lock, one read of the chain's head and one flush.

    Bulk operations (imports, bulk issuance) use this instead of ``record`` per row.
    """
    if not events:
        return []
    _lock_chain()
    prev_hash = (
        db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
        or GENESIS
    )
    actor_id = actor.id if actor is not None else None
    rows = []
    for pending in events:
        clean = json.loads(json.dumps(pending.data or {}, ensure_ascii=False, default=str))
        entity = None if pending.entity_id is None else str(pending.entity_id)
        at = utcnow()
        digest = compute_hash(
            prev_hash, at, actor_id, pending.action, pending.entity_type, entity, clean
        )
        rows.append(
            AuditEvent(
                at=at,
                actor_id=actor_id,
                action=pending.action,
                entity_type=pending.entity_type,
                entity_id=entity,
                data=clean,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    db.session.add_all(rows)
    db.session.flush()
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

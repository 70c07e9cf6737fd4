"""The append-only audit log. Each event carries the hash of the one before it.

``hash = sha256(prev_hash | canonical JSON of the event)``, so editing, deleting or reordering any
past event breaks every hash after it, which :func:`verify_chain` reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text

from labelloop.store.tables import events, utcnow

GENESIS = "0" * 64
_LOCK_KEY = 7_314_159  # PostgreSQL advisory lock serialising appends to the chain


def _digest(
    prev_hash: str,
    project_id: int | None,
    at: datetime,
    actor: str,
    action: str,
    payload: dict[str, Any],
) -> str:
    body = json.dumps(
        {
            "project_id": project_id,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "payload": payload,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append_event(
    conn: Connection,
    *,
    actor: str,
    action: str,
    payload: dict[str, Any],
    project_id: int | None = None,
) -> str:
    """Append one event inside the caller's transaction; return its hash."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    prev = conn.execute(select(events.c.hash).order_by(events.c.id.desc()).limit(1)).scalar()
    prev_hash = prev or GENESIS
    at = utcnow()
    payload = json.loads(json.dumps(payload, default=str))
    digest = _digest(prev_hash, project_id, at, actor, action, payload)
    conn.execute(
        events.insert().values(
            project_id=project_id,
            at=at,
            actor=actor,
            action=action,
            payload=payload,
            prev_hash=prev_hash,
            hash=digest,
        )
    )
    return digest


@dataclass(frozen=True)
class ChainBreak:
    """Where the chain stops verifying."""

    event_id: int
    reason: str


def _normalise(at: datetime) -> datetime:
    # SQLite gives naive UTC datetimes back, PostgreSQL aware ones in the session's zone.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def verify_chain(conn: Connection) -> tuple[int, list[ChainBreak]]:
    """Check every event's link and hash; return (events checked, breaks found)."""
    breaks: list[ChainBreak] = []
    prev_hash = GENESIS
    count = 0
    for row in _iter_events(conn):
        count += 1
        if row.prev_hash != prev_hash:
            breaks.append(ChainBreak(row.id, "prev_hash does not match the previous event"))
        expected = _digest(
            row.prev_hash, row.project_id, _normalise(row.at), row.actor, row.action, row.payload
        )
        if expected != row.hash:
            breaks.append(ChainBreak(row.id, "content does not match its hash (edited)"))
        prev_hash = row.hash
    return count, breaks


def _iter_events(conn: Connection, batch: int = 5000) -> Iterator[Any]:
    last = 0
    while True:
        rows = conn.execute(
            select(events).where(events.c.id > last).order_by(events.c.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id

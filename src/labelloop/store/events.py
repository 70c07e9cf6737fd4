"""The append-only audit log. Each event carries the hash of the one before it.

``hash = sha256(prev_hash | canonical JSON of the event)``, so editing, deleting or reordering any
past event breaks every hash after it, which :func:`verify_chain` reports.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.exc import SQLAlchemyError

from labelloop.store.tables import events, utcnow

GENESIS = "0" * 64
_LOCK_KEY = 7_314_159  # PostgreSQL advisory lock serialising appends to the chain
_PENDING = "labelloop_pending_events"  # events waiting in a connection for its commit
_DEFERRED = "labelloop_deferred_events"  # the connection's engine writes events at commit


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
) -> None:
    """Append one event to the caller's transaction.

    On an engine with :func:`install_event_log` (every engine of :func:`make_engine`) the event
    is written when the transaction commits, so the lock that orders the chain is held only for
    the insert and the commit, not for all the work before it. Elsewhere it is written at once.
    """
    event = {
        "project_id": project_id,
        "at": utcnow(),
        "actor": actor,
        "action": action,
        "payload": json.loads(json.dumps(payload, default=str)),
    }
    if conn.info.get(_DEFERRED):
        conn.info.setdefault(_PENDING, []).append(event)
    else:
        _write(conn, [event])


def install_event_log(engine: Engine) -> None:
    """Write appended events at commit (see :func:`append_event`); drop them on rollback."""
    if not sa_event.contains(engine, "commit", _write_pending):
        sa_event.listen(engine, "connect", _mark_deferred)
        sa_event.listen(engine, "commit", _write_pending)
        sa_event.listen(engine, "rollback", _drop_pending)
        sa_event.listen(engine, "begin", _drop_pending)


def _mark_deferred(_dbapi_connection: Any, record: Any) -> None:
    record.info[_DEFERRED] = True


def _write_pending(conn: Connection) -> None:
    pending = conn.info.pop(_PENDING, None)
    if pending:
        _write(conn, pending)


def _drop_pending(conn: Connection) -> None:
    # A connection lost mid-transaction (the server restarted) has no info left to clear; its
    # record's info is emptied when it reconnects, and every transaction starts empty anyway.
    if not conn.invalidated:
        with contextlib.suppress(SQLAlchemyError):
            conn.info.pop(_PENDING, None)


def _write(conn: Connection, pending: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    prev = conn.execute(select(events.c.hash).order_by(events.c.id.desc()).limit(1)).scalar()
    prev_hash = prev or GENESIS
    for event in pending:
        digest = _digest(
            prev_hash,
            event["project_id"],
            event["at"],
            event["actor"],
            event["action"],
            event["payload"],
        )
        conn.execute(events.insert().values(**event, prev_hash=prev_hash, hash=digest))
        prev_hash = digest


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

"""The append-only audit log: a hash chain keyed with the audit secret, and its anchors.

Each event stores ``hash = HMAC-SHA256(key, prev_hash + canonical JSON of the event)`` and the id
of the key that signed it (``key_id``). Editing, deleting or reordering a past event breaks a link
or a hash, which :func:`verify_chain` reports; without the key nobody can recompute the hashes
after an edit. What no key can show is a missing *tail*: deleting the newest events (or all of
them) leaves a shorter chain that is valid. An :class:`Anchor` — the number of events and the
head hash at some moment, kept outside the database (every export's provenance holds one,
``labelloop audit verify`` prints one) — catches that: the chain must still hold that many
events, the last of them with that hash.

A store opened without a key (:func:`~labelloop.store.engine.make_engine` without ``audit_key``)
keeps a plain SHA-256 chain (``key_id`` NULL), as every store did before migration 0009.
:func:`seal_unkeyed` re-signs such a chain with the key once it verifies intact; from then on an
unkeyed event is a break, and a store opened without the key refuses to append to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.exc import SQLAlchemyError

from labelloop.errors import AuditError
from labelloop.store.tables import events, utcnow

GENESIS = "0" * 64
_LOCK_KEY = 7_314_159  # PostgreSQL advisory lock serialising appends to the chain
_PENDING = "labelloop_pending_events"  # events waiting in a connection for its commit
_DEFERRED = "labelloop_deferred_events"  # the connection's engine writes events at commit
_KEY = "labelloop_audit_key"  # the AuditKey of the connection's engine, if it has one
_BATCH = 5000


@dataclass(frozen=True)
class AuditKey:
    """The secret that signs the chain; ``id`` names it in each event without revealing it."""

    secret: bytes = field(repr=False)
    id: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise AuditError(f"the audit key must be at least 32 bytes, got {len(self.secret)}")
        tag = hmac.new(self.secret, b"labelloop audit key id", hashlib.sha256).hexdigest()
        object.__setattr__(self, "id", tag[:16])

    def sign(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message``, in hex."""
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """The chain's length and newest hash at one moment; kept where the database is not."""

    events: int
    head: str

    def as_json(self) -> dict[str, Any]:
        """The anchor as provenance records it."""
        return {"events": self.events, "head": self.head}


@dataclass(frozen=True)
class ChainBreak:
    """Where the chain stops verifying; ``event_id`` is None for events that are missing."""

    event_id: int | None
    reason: str


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found: events checked, the head hash, every break."""

    events: int
    head: str
    key_id: str | None
    breaks: list[ChainBreak]

    @property
    def ok(self) -> bool:
        """Whether nothing was found wrong."""
        return not self.breaks


def _digest(prev_hash: str, event: dict[str, Any], key: AuditKey | None) -> str:
    body = json.dumps(
        {name: event[name] for name in ("project_id", "actor", "action", "payload")}
        | {"at": event["at"].isoformat()},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    message = (prev_hash + body).encode()
    return key.sign(message) if key else hashlib.sha256(message).hexdigest()


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


def install_event_log(engine: Engine, key: AuditKey | None = None) -> None:
    """Write appended events at commit (see :func:`append_event`), signed with ``key``; drop
    them on rollback. Only the first call on an engine counts."""
    if not sa_event.contains(engine, "commit", _write_pending):
        sa_event.listen(engine, "connect", partial(_mark_deferred, key))
        sa_event.listen(engine, "commit", _write_pending)
        sa_event.listen(engine, "rollback", _drop_pending)
        sa_event.listen(engine, "begin", _drop_pending)


def _mark_deferred(key: AuditKey | None, _dbapi_connection: Any, record: Any) -> None:
    record.info[_DEFERRED] = True
    record.info[_KEY] = key


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


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def _write(conn: Connection, pending: list[dict[str, Any]]) -> None:
    key: AuditKey | None = conn.info.get(_KEY)
    _lock(conn)
    last = conn.execute(
        select(events.c.hash, events.c.key_id).order_by(events.c.id.desc()).limit(1)
    ).first()
    if key is None and last is not None and last.key_id is not None:
        raise AuditError(
            f"the audit log is signed with audit key {last.key_id}, but this store was opened "
            "without an audit key; open it with labelloop.loop.project.connect(settings)"
        )
    prev_hash = last.hash if last else GENESIS
    for event in pending:
        digest = _digest(prev_hash, event, key)
        conn.execute(
            events.insert().values(
                **event, prev_hash=prev_hash, hash=digest, key_id=key.id if key else None
            )
        )
        prev_hash = digest


def connection_key(conn: Connection) -> AuditKey | None:
    """The audit key of the engine ``conn`` belongs to, if it was given one."""
    key: AuditKey | None = conn.info.get(_KEY)
    return key


def chain_head(conn: Connection) -> Anchor:
    """The chain as it stands: how many events, and the newest one's hash."""
    last = conn.execute(
        select(events.c.id, events.c.hash).order_by(events.c.id.desc()).limit(1)
    ).first()
    if last is None:
        return Anchor(0, GENESIS)
    # Events commit in id order (the append lock is held until commit), so this counts the chain
    # up to ``last`` even if newer ones commit meanwhile.
    count = conn.execute(select(func.count()).where(events.c.id <= last.id)).scalar_one()
    return Anchor(int(count), last.hash)


def _normalise(at: datetime) -> datetime:
    # SQLite gives naive UTC datetimes back, PostgreSQL aware ones in the session's zone.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _row_event(row: Any) -> dict[str, Any]:
    return {
        "project_id": row.project_id,
        "at": _normalise(row.at),
        "actor": row.actor,
        "action": row.action,
        "payload": row.payload,
    }


def _signature_problem(row: Any, key: AuditKey | None) -> str | None:
    if row.key_id is None:
        if _digest(row.prev_hash, _row_event(row), None) != row.hash:
            return "content does not match its hash (edited)"
        if key is not None:
            return "not signed with the audit key (an unkeyed event in a keyed chain)"
        return None
    if key is None:
        return f"signed with audit key {row.key_id}, and this store was opened without a key"
    if row.key_id != key.id:
        return f"signed with audit key {row.key_id}, not with this store's key {key.id}"
    if _digest(row.prev_hash, _row_event(row), key) != row.hash:
        return "content does not match its hash (edited)"
    return None


def verify_chain(conn: Connection, *, anchor: Anchor | None = None) -> ChainReport:
    """Check every event's link and signature with the key of ``conn``'s engine, and, given an
    ``anchor``, that the chain still holds its events unchanged (not cut short, not rewritten)."""
    return _check(conn, connection_key(conn), anchor)


def _check(conn: Connection, key: AuditKey | None, anchor: Anchor | None) -> ChainReport:
    breaks: list[ChainBreak] = []
    prev_hash = GENESIS
    count = 0
    for row in _iter_events(conn):
        count += 1
        if row.prev_hash != prev_hash:
            breaks.append(
                ChainBreak(row.id, "prev_hash does not match the previous event (one was deleted)")
            )
        if problem := _signature_problem(row, key):
            breaks.append(ChainBreak(row.id, problem))
        if anchor is not None and count == anchor.events and row.hash != anchor.head:
            breaks.append(
                ChainBreak(
                    row.id,
                    f"the anchor has hash {anchor.head} for event number {count:,}, the chain "
                    f"{row.hash}: the events up to here were rewritten",
                )
            )
        prev_hash = row.hash
    if anchor is not None and count < anchor.events:
        breaks.append(
            ChainBreak(
                None,
                f"the chain holds {count:,} events, the anchor {anchor.events:,}: "
                f"the newest {anchor.events - count:,} were deleted",
            )
        )
    return ChainReport(count, prev_hash, key.id if key else None, breaks)


def seal_unkeyed(conn: Connection) -> int:
    """Re-sign a chain of unkeyed events with the key of ``conn``'s engine, if it has one and
    the plain chain verifies intact; return how many events were signed.

    This is how events from before the keyed chain (migration 0009) join it: an edit made to
    them before this ran is not detected, one made after it is. A broken unkeyed chain is left
    as it is, so that :func:`verify_chain` keeps reporting its breaks.
    """
    key = connection_key(conn)
    if key is None:
        return 0
    unkeyed = select(events.c.id).where(events.c.key_id.is_(None)).limit(1)
    if conn.execute(unkeyed).first() is None:
        return 0
    _lock(conn)
    if conn.execute(select(events.c.id).where(events.c.key_id.is_not(None)).limit(1)).first():
        return 0
    if not _check(conn, None, None).ok:
        return 0
    update = (
        events.update()
        .where(events.c.id == bindparam("event_id"))
        .values(prev_hash=bindparam("new_prev"), hash=bindparam("new_hash"), key_id=key.id)
    )
    prev_hash, signed, batch = GENESIS, 0, []
    for row in _iter_events(conn):
        digest = _digest(prev_hash, _row_event(row), key)
        batch.append({"event_id": row.id, "new_prev": prev_hash, "new_hash": digest})
        prev_hash = digest
        if len(batch) == _BATCH:
            conn.execute(update, batch)
            signed, batch = signed + len(batch), []
    if batch:
        conn.execute(update, batch)
    return signed + len(batch)


def _iter_events(conn: Connection, batch: int = _BATCH) -> Iterator[Any]:
    last = 0
    while True:
        rows = conn.execute(
            select(events).where(events.c.id > last).order_by(events.c.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id

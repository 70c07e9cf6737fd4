"""Denied requests: counted per minute and source, one audit event for the first of each.

A flood of 401s (or 403s, 429s) from one client adds one event a minute to the audit log, not one
per request: the first denial of a minute for a (source, actor, action) is an event with its
details; it and the rest are counted in the ``denials`` table (``count``, ``last_at``). The source
is the client IP (an IPv6 one as its /64, see :func:`~labelloop.accounts.throttle.address_key`).
Never a secret in either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from labelloop.accounts.throttle import address_key
from labelloop.store import tables as t
from labelloop.store.engine import writer
from labelloop.store.events import append_event

MAX_TEXT = 300  # paths and reasons are cut: an attacker picks them, the log should stay small


def record_denial(
    engine: Engine,
    *,
    actor: str,
    action: str,
    payload: dict[str, Any],
    now: datetime | None = None,
) -> None:
    """Count one ``action`` (``access.denied``, ``auth.login.throttled`` ...) by ``actor`` (a
    username, or ``"anonymous"``) from ``payload["ip"]``; the first of its minute is also an
    event with ``payload``, whose string values longer than :data:`MAX_TEXT` are cut."""
    at = now or t.utcnow()
    minute, actor = at.replace(second=0, microsecond=0), actor[:100]
    source = address_key(str(payload.get("ip") or "unknown"))[:64]
    key: dict[str, Any] = {"minute": minute, "source": source, "actor": actor, "action": action}
    with writer(engine).begin() as conn:
        if _count(conn, key, at) or not _first(conn, key, at):
            return
        clean = {k: v[:MAX_TEXT] if isinstance(v, str) else v for k, v in payload.items()}
        append_event(
            conn, actor=actor, action=action, payload={**clean, "minute": minute.isoformat()}
        )


def _count(conn: Connection, key: dict[str, Any], at: datetime) -> bool:
    """Add one to the minute's row; whether there was one."""
    d = t.denials
    where = [d.c[name] == value for name, value in key.items()]
    done = conn.execute(d.update().where(*where).values(count=d.c.count + 1, last_at=at))
    return bool(done.rowcount)


def _first(conn: Connection, key: dict[str, Any], at: datetime) -> bool:
    """Start the minute's row; False if a concurrent request started it first (then counted)."""
    try:
        with conn.begin_nested():
            conn.execute(t.denials.insert().values(**key, count=1, last_at=at))
    except IntegrityError:
        _count(conn, key, at)
        return False
    return True

"""Denied requests are counted per minute and source; the audit log gets the first of each."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from labelloop.accounts.denials import record_denial
from labelloop.store import tables as t
from labelloop.store.engine import make_engine, upgrade
from labelloop.store.events import AuditKey, verify_chain

T0 = datetime(2026, 12, 3, 15, 40, 0, tzinfo=UTC)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url, audit_key=AuditKey(b"k" * 32), pool_size=10)
    upgrade(engine)
    yield engine
    engine.dispose()


def _deny(engine: Engine, ip: str, at: datetime, actor: str = "anonymous") -> None:
    payload = {"ip": ip, "status": 401, "path": "/api/v1/projects", "reason": "no credentials"}
    record_denial(engine, actor=actor, action="access.denied", payload=payload, now=at)


def _state(engine: Engine) -> tuple[list, dict]:
    d = t.denials
    with engine.connect() as conn:
        events = conn.execute(select(t.events).order_by(t.events.c.id)).all()
        counts = {
            (r.source, r.actor, r.minute.minute): r.count
            for r in conn.execute(select(d.c.source, d.c.actor, d.c.minute, d.c.count))
        }
    return events, counts


def test_one_event_per_source_and_minute_and_every_denial_counted(engine: Engine) -> None:
    for second in range(0, 60, 6):
        _deny(engine, "10.0.0.1", T0 + timedelta(seconds=second))
    _deny(engine, "10.0.0.1", T0 + timedelta(minutes=1, seconds=5))
    _deny(engine, "10.0.0.2", T0 + timedelta(seconds=30))
    _deny(engine, "10.0.0.1", T0 + timedelta(seconds=31), actor="ana")
    events, counts = _state(engine)
    assert [(e.payload["ip"], e.actor, e.payload["minute"][11:16]) for e in events] == [
        ("10.0.0.1", "anonymous", "15:40"),
        ("10.0.0.1", "anonymous", "15:41"),
        ("10.0.0.2", "anonymous", "15:40"),
        ("10.0.0.1", "ana", "15:40"),
    ]
    assert events[0].payload["status"] == 401 and events[0].payload["reason"] == "no credentials"
    assert counts == {
        ("10.0.0.1", "anonymous", 40): 10,
        ("10.0.0.1", "anonymous", 41): 1,
        ("10.0.0.2", "anonymous", 40): 1,
        ("10.0.0.1", "ana", 40): 1,
    }
    with engine.connect() as conn:
        assert verify_chain(conn).ok


def test_concurrent_denials_of_one_minute_make_one_event(engine: Engine) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(lambda k: _deny(engine, "10.0.0.9", T0 + timedelta(seconds=k % 60)), range(40))
        )
    events, counts = _state(engine)
    assert len(events) == 1 and counts == {("10.0.0.9", "anonymous", 40): 40}

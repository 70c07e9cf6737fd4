"""The keyed audit chain against someone who can write to the database but lacks the key, and
its anchors against truncation (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner

from labelloop.cli.main import app
from labelloop.errors import AuditError
from labelloop.loop.project import connect
from labelloop.settings import Settings
from labelloop.store import tables as t
from labelloop.store.audit_key import load_or_create
from labelloop.store.engine import make_engine, upgrade, writer
from labelloop.store.events import (
    GENESIS,
    Anchor,
    AuditKey,
    append_event,
    chain_head,
    seal_unkeyed,
    verify_chain,
)

KEY = AuditKey(b"k" * 32)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url, audit_key=KEY)
    upgrade(engine)
    yield engine
    engine.dispose()


def _append(engine: Engine, n: int, start: int = 0) -> None:
    for k in range(start, start + n):
        with writer(engine).begin() as conn:
            append_event(conn, actor=f"user{k}", action="annotation.create", payload={"item": k})


def _head(engine: Engine) -> Anchor:
    with engine.connect() as conn:
        return chain_head(conn)


def _verify(engine: Engine, anchor: Anchor | None = None) -> list[tuple[int | None, str]]:
    with engine.connect() as conn:
        return [(b.event_id, b.reason) for b in verify_chain(conn, anchor=anchor).breaks]


def _message(
    prev: str, project_id: int | None, at: datetime, actor: str, action: str, payload: dict
) -> bytes:
    """What an event's hash covers, as labelloop before 0009 (and every reader) computes it."""
    at = (at.replace(tzinfo=UTC) if at.tzinfo is None else at).astimezone(UTC)
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
    )
    return (prev + body).encode()


def _forge(engine: Engine, event_id: int, payload: dict, key: AuditKey | None) -> None:
    """What an attacker with write access does: edit one event and recompute every hash after
    it, as plain SHA-256 (clearing key_id) or as an HMAC with a key of their own."""
    e = t.events
    with engine.begin() as conn:
        conn.execute(e.update().where(e.c.id == event_id).values(payload=payload))
        rows = conn.execute(select(e).where(e.c.id >= event_id).order_by(e.c.id)).all()
        prev = conn.execute(select(e.c.prev_hash).where(e.c.id == event_id)).scalar_one()
        for row in rows:
            message = _message(prev, row.project_id, row.at, row.actor, row.action, row.payload)
            digest = key.sign(message) if key else hashlib.sha256(message).hexdigest()
            conn.execute(
                e.update()
                .where(e.c.id == row.id)
                .values(prev_hash=prev, hash=digest, key_id=row.key_id if key else None)
            )
            prev = digest


def test_an_intact_keyed_chain_verifies_and_reports_its_head(engine: Engine) -> None:
    assert _head(engine) == Anchor(0, GENESIS)
    _append(engine, 5)
    head = _head(engine)
    with engine.connect() as conn:
        report = verify_chain(conn, anchor=head)
        keys = set(conn.execute(select(t.events.c.key_id)).scalars())
    assert report.ok and report.events == head.events == 5
    assert report.head == head.head and report.key_id == KEY.id and keys == {KEY.id}
    _append(engine, 2, start=5)  # a chain that grew past its anchor still holds it
    assert _verify(engine, anchor=head) == []
    assert _verify(engine, anchor=Anchor(0, GENESIS)) == []


def test_deleting_the_newest_events_is_caught_by_an_anchor(engine: Engine) -> None:
    _append(engine, 6)
    anchor = _head(engine)
    with engine.begin() as conn:
        newest = conn.execute(select(func.max(t.events.c.id))).scalar_one()
        conn.execute(t.events.delete().where(t.events.c.id > newest - 2))
    assert _verify(engine) == []  # the shorter chain is valid: only the anchor can tell
    breaks = _verify(engine, anchor=anchor)
    assert len(breaks) == 1 and breaks[0][0] is None
    assert "holds 4 events, the anchor 6: the newest 2 were deleted" in breaks[0][1]


def test_deleting_every_event_is_caught_by_an_anchor(engine: Engine) -> None:
    _append(engine, 3)
    anchor = _head(engine)
    with engine.begin() as conn:
        conn.execute(t.events.delete())
    breaks = _verify(engine, anchor=anchor)
    assert [b[0] for b in breaks] == [None] and "the newest 3 were deleted" in breaks[0][1]


@pytest.mark.parametrize("attacker_key", [None, AuditKey(b"guessed" * 5)], ids=["sha256", "hmac"])
def test_an_edit_with_recomputed_hashes_is_caught_without_an_anchor(
    engine: Engine, attacker_key: AuditKey | None
) -> None:
    _append(engine, 5)
    with engine.connect() as conn:
        ids = list(conn.execute(select(t.events.c.id).order_by(t.events.c.id)).scalars())
    _forge(engine, ids[2], {"item": 99}, attacker_key)
    breaks = _verify(engine)
    assert [b[0] for b in breaks] == ids[2:]  # every forged event, and nothing else
    expected = "edited" if attacker_key else "not signed with the audit key"
    assert all(expected in reason for _, reason in breaks)


def test_a_rewrite_by_someone_with_the_key_is_caught_by_an_anchor(engine: Engine) -> None:
    _append(engine, 4)
    anchor = _head(engine)
    with engine.connect() as conn:
        first = conn.execute(select(func.min(t.events.c.id))).scalar_one()
    _forge(engine, first + 1, {"item": "rewritten"}, KEY)
    assert _verify(engine) == []
    breaks = _verify(engine, anchor=anchor)
    assert len(breaks) == 1 and "were rewritten" in breaks[0][1]


def test_events_from_before_the_keyed_chain_are_sealed_once(store_url: str) -> None:
    plain = make_engine(store_url)  # as every store was before migration 0009
    upgrade(plain)
    _append(plain, 3)
    assert _verify(plain) == []
    old_head = _head(plain)
    keyed = make_engine(store_url, audit_key=KEY)
    try:
        with writer(keyed).begin() as conn:
            assert seal_unkeyed(conn) == 3
        with writer(keyed).begin() as conn:
            assert seal_unkeyed(conn) == 0
        assert _verify(keyed) == [] and _head(keyed).events == 3
        assert _head(keyed).head != old_head.head
        _append(keyed, 1, start=3)
        with pytest.raises(AuditError, match="opened without an audit key"):
            _append(plain, 1, start=4)
        assert _verify(keyed) == []
        assert "opened without a key" in _verify(plain)[0][1]
    finally:
        plain.dispose()
        keyed.dispose()


def test_events_of_a_store_from_before_0009_verify_after_the_upgrade(
    tmp_path: Path, store_url: str
) -> None:
    old = make_engine(store_url)
    upgrade(old, "0008")
    prev = GENESIS
    with old.begin() as conn:  # as labelloop wrote them then: plain SHA-256, no key_id column
        for k in range(3):
            at = datetime(2026, 11, 1, 12, k, tzinfo=UTC)
            digest = hashlib.sha256(_message(prev, None, at, "ana", "user.create", {"k": k}))
            conn.execute(
                text(
                    "INSERT INTO events (project_id, at, actor, action, payload, prev_hash, hash)"
                    " VALUES (NULL, :at, 'ana', 'user.create', :payload, :prev, :hash)"
                ),
                {
                    "at": at,
                    "payload": json.dumps({"k": k}),
                    "prev": prev,
                    "hash": digest.hexdigest(),
                },
            )
            prev = digest.hexdigest()
    old.dispose()
    engine = connect(Settings(data_dir=tmp_path / "data", database_url=store_url))
    try:
        _append(engine, 1, start=3)
        with engine.connect() as conn:
            report = verify_chain(conn)
            keys = set(conn.execute(select(t.events.c.key_id)).scalars())
        assert report.ok and report.events == 4 and keys == {report.key_id}
    finally:
        engine.dispose()


def test_a_broken_unkeyed_chain_is_not_sealed(store_url: str) -> None:
    plain = make_engine(store_url)
    upgrade(plain)
    _append(plain, 3)
    with plain.begin() as conn:
        first = conn.execute(select(func.min(t.events.c.id))).scalar_one()
        conn.execute(t.events.update().where(t.events.c.id == first).values(actor="mallory"))
    keyed = make_engine(store_url, audit_key=KEY)
    try:
        with writer(keyed).begin() as conn:
            assert seal_unkeyed(conn) == 0
        reasons = [reason for _, reason in _verify(keyed)]
        assert "content does not match its hash (edited)" in reasons
    finally:
        plain.dispose()
        keyed.dispose()


def test_the_audit_key_file_is_made_once_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "data" / "audit.key"
    found: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: found.append(load_or_create(path))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found[0]) == 64
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["audit.key"]
    path.write_text("short\n")
    with pytest.raises(AuditError, match="at least 32"):
        load_or_create(path)


def _cli(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_cli_verify_prints_the_head_and_checks_anchors(tmp_path: Path, store_url: str) -> None:
    data = tmp_path / "data"
    env = {"LABELLOOP_DATA_DIR": str(data), "LABELLOOP_DATABASE_URL": store_url, "COLUMNS": "200"}
    config = tmp_path / "p.json"
    config.write_text(json.dumps({"name": "p", "labels": ["a", "b"]}))
    _cli(env, "init", str(config))
    _cli(env, "export", "p", str(tmp_path / "out.csv"), "--format", "csv")
    provenance = json.loads((tmp_path / "out.csv.provenance.json").read_text())
    anchor = provenance["audit"]
    out = _cli(env, "audit", "verify", "--anchor", str(tmp_path / "out.csv"))
    assert "audit log intact" in out and "the anchor (count" in out
    found = re.search(r"head ([0-9a-f]{64})\s+count (\d+)", out)
    assert found is not None and int(found.group(2)) == anchor["events"] + 1  # + the export
    head, count = found.group(1), found.group(2)
    secret = (data / "audit.key").read_text().strip()
    if store_url.startswith("sqlite"):  # the key never goes into the database
        db = Path(store_url.split("///", 1)[1])
        for file in (db, db.with_name(db.name + "-wal")):
            assert not file.exists() or secret.encode() not in file.read_bytes()
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            newest = conn.execute(select(func.max(t.events.c.id))).scalar_one()
            conn.execute(t.events.delete().where(t.events.c.id >= newest - 1))
    finally:
        engine.dispose()
    assert "audit log intact" in _cli(env, "audit", "verify")
    out = _cli(env, "audit", "verify", "--expect-head", head, "--expect-count", count, code=1)
    assert "missing events" in out and "were deleted" in out
    out = _cli(
        env, "audit", "verify", "--anchor", str(tmp_path / "out.csv.provenance.json"), code=1
    )
    assert "the newest 1 were deleted" in out
    assert "go together" in _cli(env, "audit", "verify", "--expect-head", head, code=2)

"""The store on SQLite and PostgreSQL: migrations and the hash-chained audit log."""

from __future__ import annotations

from sqlalchemy import inspect, text

from labelloop.store import tables as t
from labelloop.store.engine import current_revision, make_engine, upgrade
from labelloop.store.events import append_event, verify_chain


def test_migrations_create_every_table(store_url: str) -> None:
    engine = make_engine(store_url)
    upgrade(engine)
    assert current_revision(engine) is not None
    assert set(t.metadata.tables) <= set(inspect(engine).get_table_names())
    upgrade(engine)  # a second upgrade is a no-op
    engine.dispose()


def test_sqlite_store_uses_wal(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_audit_chain_detects_edits_and_deletions(store_url: str) -> None:
    engine = make_engine(store_url)
    upgrade(engine)
    with engine.begin() as conn:
        for n in range(5):
            append_event(
                conn,
                actor=f"user{n}",
                action="annotation.create",
                payload={"item_id": n, "label": "cat"},
            )
    with engine.connect() as conn:
        assert verify_chain(conn).ok and verify_chain(conn).events == 5
    with engine.begin() as conn:
        conn.execute(
            t.events.update()
            .where(t.events.c.id == 3)
            .values(payload={"item_id": 2, "label": "dog"})
        )
    with engine.connect() as conn:
        report = verify_chain(conn)
    assert report.events == 5
    assert [b.event_id for b in report.breaks] == [3]
    with engine.begin() as conn:
        conn.execute(t.events.delete().where(t.events.c.id == 2))
    with engine.connect() as conn:
        breaks = verify_chain(conn).breaks
    assert 3 in [b.event_id for b in breaks]
    engine.dispose()

"""Ids by the names people use: a project by name, an item by key (on both stores)."""

from __future__ import annotations

from labelloop.store import tables as t
from labelloop.store.engine import make_engine, upgrade
from labelloop.store.lookups import item_id_by_key, project_id_by_name


def test_projects_by_name_and_items_by_key(store_url: str) -> None:
    engine = make_engine(store_url)
    upgrade(engine)
    with engine.begin() as conn:
        ids = [
            t.inserted_id(conn.execute(t.projects.insert().values(name=name, config={})))
            for name in ("first", "second")
        ]
        for project_id in ids:
            conn.execute(t.items.insert(), [{"project_id": project_id, "key": "id:7", "data": {}}])
    with engine.connect() as conn:
        assert [project_id_by_name(conn, n) for n in ("first", "second", "third")] == [*ids, None]
        first, second = (item_id_by_key(conn, project_id, "id:7") for project_id in ids)
        assert first is not None and second is not None and first != second
        assert item_id_by_key(conn, ids[0], "id:8") is None
    engine.dispose()

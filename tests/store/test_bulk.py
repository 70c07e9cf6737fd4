"""insert_rows stores exactly what an SQLAlchemy INSERT would (COPY on PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from labelloop.store import tables as t
from labelloop.store.bulk import column_in, insert_rows
from labelloop.store.engine import make_engine, upgrade


def _rows(project_id: int, prefix: str) -> list[dict[str, object]]:
    return [
        {
            "project_id": project_id,
            "key": f"{prefix}{k}",
            "data": {"text": f"tab\there, quote ' \" back\\slash é {k}", "n": k, "none": None},
            "given_label": None if k % 2 else ["a", "b"],
            "is_holdout": False,
            "status": "new",
            "tier": None if k % 3 else "reviewer",
            "skill": None,
            "priority": k / 10,
        }
        for k in range(7)
    ]


def test_insert_rows_stores_what_an_insert_stores(store_url: str):
    engine = make_engine(store_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            project_id = t.inserted_id(
                conn.execute(t.projects.insert().values(name="p", config={}))
            )
            conn.execute(t.items.insert(), _rows(project_id, "plain"))
            insert_rows(conn, t.items, _rows(project_id, "bulk"))
            insert_rows(conn, t.items, [])
        with engine.connect() as conn:
            rows = conn.execute(select(t.items).order_by(t.items.c.id)).mappings().all()
            null_labels = conn.exec_driver_sql(
                "SELECT count(*) FROM items WHERE given_label IS NULL"
            ).scalar()
            wanted = ["bulk1", "plain6", "missing", "bulk1"]
            found = conn.execute(
                select(t.items.c.key).where(column_in(conn, t.items.c.key, wanted))
            ).scalars()
            assert sorted(found) == ["bulk1", "plain6"]
    finally:
        engine.dispose()
    skip = {"id", "key", "created_at"}
    plain = [{k: v for k, v in r.items() if k not in skip} for r in rows[:7]]
    bulk = [{k: v for k, v in r.items() if k not in skip} for r in rows[7:]]
    assert plain == bulk
    assert all(r["created_at"] is not None for r in rows)
    assert null_labels == 0  # a JSON column keeps None as JSON null, as the INSERT does

"""Ids by the names people use: a project by its name, an item by its key."""

from __future__ import annotations

from sqlalchemy import Connection, select

from labelloop.store import tables as t


def project_id_by_name(conn: Connection, name: str) -> int | None:
    """The id of the project called ``name``, or None when there is none."""
    found = conn.execute(select(t.projects.c.id).where(t.projects.c.name == name)).scalar()
    return None if found is None else int(found)


def item_id_by_key(conn: Connection, project_id: int, key: str) -> int | None:
    """The id of the item with ``key`` in the project, or None when there is none."""
    i = t.items
    found = conn.execute(
        select(i.c.id).where(i.c.project_id == project_id, i.c.key == key)
    ).scalar()
    return None if found is None else int(found)

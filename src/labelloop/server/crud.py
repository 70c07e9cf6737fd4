"""Read queries the routes need beyond the library API (keyword-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from labelloop.errors import NotFoundError
from labelloop.io.records import data_problem
from labelloop.store import tables as t

# -- projects, items ----------------------------------------------------------------------


def list_projects(engine: Engine, *, member: str | None = None) -> list[dict[str, Any]]:
    """Every project (with ``member``: only those where that user has a membership): name,
    labels, creation time."""
    p, m, u = t.projects, t.memberships, t.users
    query = select(p.c.name, p.c.config, p.c.created_at).order_by(p.c.name)
    if member is not None:
        query = query.where(
            p.c.id.in_(
                select(m.c.project_id).join(u, u.c.id == m.c.user_id).where(u.c.username == member)
            )
        )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {"name": r.name, "labels": list(r.config.get("labels", [])), "created_at": r.created_at}
        for r in rows
    ]


def list_items(
    engine: Engine, *, project_id: int, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """A page of a project's items in id order (no given labels)."""
    i = t.items
    query = select(i.c.id, i.c.key, i.c.data, i.c.status, i.c.tier).where(
        i.c.project_id == project_id
    )
    if status is not None:
        query = query.where(i.c.status == status)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(i.c.id).limit(limit).offset(offset)).all()
    return [{**r._mapping, "data": servable_data(r.data)} for r in rows]


def servable_data(data: Any) -> Any:
    """``data`` as it can be sent: an item stored before imports refused unservable data reads
    as a note naming its problem, never as a failed response."""
    problem = data_problem(data)
    return data if problem is None else {"unservable": problem}


def item_annotations(engine: Engine, *, project_id: int, item_id: int) -> dict[str, Any]:
    """An item with its annotations, the current model's prediction and its final label."""
    i, a, tk, fl = t.items, t.annotations, t.tasks, t.final_labels
    mv, p = t.model_versions, t.predictions
    with engine.connect() as conn:
        item = conn.execute(
            select(i.c.id, i.c.key, i.c.data, i.c.status, i.c.tier, i.c.is_holdout).where(
                i.c.id == item_id, i.c.project_id == project_id
            )
        ).first()
        if item is None:
            raise NotFoundError(f"no item {item_id} in this project")
        annotations = conn.execute(
            select(
                a.c.id,
                a.c.annotator,
                a.c.label,
                a.c.flag,
                tk.c.tier,
                a.c.guideline_version,
                a.c.created_at,
            )
            .outerjoin(tk, tk.c.id == a.c.task_id)
            .where(a.c.item_id == item_id)
            .order_by(a.c.id)
        ).all()
        prediction = conn.execute(
            select(mv.c.version.label("model_version"), p.c.label, p.c.confidence)
            .join(mv, mv.c.id == p.c.model_version_id)
            .where(p.c.item_id == item_id, mv.c.status == "promoted")
            .order_by(mv.c.version.desc())
            .limit(1)
        ).first()
        final = conn.execute(
            select(
                fl.c.label,
                fl.c.source,
                fl.c.decided_by,
                fl.c.model_version,
                fl.c.confidence,
                fl.c.decided_at,
            ).where(fl.c.item_id == item_id)
        ).first()
    fields = ("id", "key", "data", "status", "tier")
    return {
        "item": {**{k: getattr(item, k) for k in fields}, "data": servable_data(item.data)},
        "is_holdout": bool(item.is_holdout),
        "annotations": [dict(r._mapping) for r in annotations],
        "prediction": dict(prediction._mapping) if prediction else None,
        "final_label": dict(final._mapping) if final else None,
    }


def task_assignee(engine: Engine, *, project_id: int, task_id: int) -> tuple[int, str | None, str]:
    """The item, assignee and tier of a task of the project."""
    tk = t.tasks
    with engine.connect() as conn:
        row = conn.execute(
            select(tk.c.item_id, tk.c.assignee, tk.c.tier).where(
                tk.c.id == task_id, tk.c.project_id == project_id
            )
        ).first()
    if row is None:
        raise NotFoundError(f"no task {task_id} of yours in this project")
    return int(row.item_id), row.assignee, row.tier


def list_models(engine: Engine, *, project_id: int) -> list[dict[str, Any]]:
    """Every model version of a project with its metrics."""
    mv = t.model_versions
    with engine.connect() as conn:
        rows = conn.execute(
            select(mv.c.version, mv.c.status, mv.c.n_labels, mv.c.metrics, mv.c.created_at)
            .where(mv.c.project_id == project_id)
            .order_by(mv.c.version)
        ).all()
    return [dict(r._mapping) for r in rows]


def dataset_version(engine: Engine, *, project_id: int, version_id: int) -> dict[str, Any]:
    """A dataset version of a project."""
    dv = t.dataset_versions
    with engine.connect() as conn:
        row = conn.execute(
            select(dv.c.id, dv.c.content_hash, dv.c.n_items).where(
                dv.c.id == version_id, dv.c.project_id == project_id
            )
        ).first()
    if row is None:
        raise NotFoundError(f"no dataset version {version_id} in this project")
    return dict(row._mapping)

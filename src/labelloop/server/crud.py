"""Read queries the routes need beyond the library API (keyword-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from labelloop.errors import NotFoundError
from labelloop.store import tables as t

# -- projects, items ----------------------------------------------------------------------


def list_projects(engine: Engine) -> list[dict[str, Any]]:
    """Every project: name, labels, creation time."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.projects.c.name, t.projects.c.config, t.projects.c.created_at).order_by(
                t.projects.c.name
            )
        ).all()
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
    return [dict(r._mapping) for r in rows]


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
        "item": {k: getattr(item, k) for k in fields},
        "is_holdout": bool(item.is_holdout),
        "annotations": [dict(r._mapping) for r in annotations],
        "prediction": dict(prediction._mapping) if prediction else None,
        "final_label": dict(final._mapping) if final else None,
    }


def task_assignee(engine: Engine, *, project_id: int, task_id: int) -> tuple[int, str | None]:
    """The item and assignee of a task of the project."""
    tk = t.tasks
    with engine.connect() as conn:
        row = conn.execute(
            select(tk.c.item_id, tk.c.assignee).where(
                tk.c.id == task_id, tk.c.project_id == project_id
            )
        ).first()
    if row is None:
        raise NotFoundError(f"no task {task_id} in this project")
    return int(row.item_id), row.assignee


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

"""Handing out work: the most valuable open items for a tier, with the model's suggestion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from labelloop.config import TIERS
from labelloop.store import tables as t

if TYPE_CHECKING:
    from labelloop.loop.project import Project

HOLDOUT_PRIORITY = 1e9
AUDIT_PRIORITY = 2e9


@dataclass(frozen=True)
class Task:
    """One unit of human work. ``suggestion`` is withheld on holdout and audit items: a person
    checking the model must not be anchored by it."""

    id: int
    item_id: int
    key: str
    data: dict[str, Any]
    tier: str
    kind: str
    suggestion: Any | None
    confidence: float | None


def _kind(is_holdout: bool, priority: float, tier: str | None) -> str:
    if is_holdout:
        return "holdout"
    if priority >= AUDIT_PRIORITY:
        return "audit"
    return "rule" if tier is not None else "active"


def _waiting(project: Project, tier: str) -> tuple[Any, ...]:
    """Items waiting for ``tier``; candidates of a round under audit wait for its verdict."""
    if tier not in TIERS:
        raise ValueError(
            f"The 'tier' parameter must be one of {', '.join(TIERS)}. Got {tier!r} instead."
        )
    i = t.items
    tier_clause = (
        or_(i.c.tier.is_(None), i.c.tier == tier) if tier == "annotator" else i.c.tier == tier
    )
    return (
        i.c.project_id == project.id,
        i.c.status == "new",
        tier_clause,
        or_(i.c.round_id.is_(None), i.c.priority >= AUDIT_PRIORITY),
    )


def next_tasks(project: Project, n: int = 1, *, tier: str = "annotator") -> list[Task]:
    """Open tasks for the ``n`` most valuable items waiting for ``tier``.

    Candidates of an auto-accept round under audit wait until the round is decided; only its
    audit sample is handed out.
    """
    i = t.items
    current = project.current_model()
    with project.engine.begin() as conn:
        rows = conn.execute(
            select(i.c.id, i.c.key, i.c.data, i.c.tier, i.c.is_holdout, i.c.priority)
            .where(*_waiting(project, tier))
            .order_by(i.c.priority.desc(), i.c.id)
            .limit(n)
        ).all()
        if not rows:
            return []
        suggestions = _suggestions(conn, project, [r.id for r in rows], current)
        tasks = []
        for r in rows:
            kind = _kind(r.is_holdout, r.priority or 0.0, r.tier)
            task_id = t.inserted_id(
                conn.execute(
                    t.tasks.insert().values(
                        project_id=project.id,
                        item_id=r.id,
                        tier=tier,
                        kind=kind,
                        priority=r.priority or 0.0,
                        status="open",
                    )
                )
            )
            label, conf = (
                (None, None)
                if kind in ("holdout", "audit")
                else suggestions.get(r.id, (None, None))
            )
            tasks.append(Task(task_id, r.id, r.key, r.data, tier, kind, label, conf))
        conn.execute(i.update().where(i.c.id.in_([r.id for r in rows])).values(status="queued"))
    return tasks


def _suggestions(
    conn: Any, project: Project, item_ids: list[int], current: Any
) -> dict[int, tuple[Any, float]]:
    if current is None:
        return {}
    mv = t.model_versions
    p = t.predictions
    rows = conn.execute(
        select(p.c.item_id, p.c.label, p.c.confidence)
        .join(
            mv,
            and_(
                mv.c.id == p.c.model_version_id,
                mv.c.project_id == project.id,
                mv.c.version == current.version,
            ),
        )
        .where(p.c.item_id.in_(item_ids))
    ).all()
    return {r.item_id: (r.label, r.confidence) for r in rows}


def peek(project: Project, n: int = 10, *, tier: str = "annotator") -> list[dict[str, Any]]:
    """The next ``n`` waiting items for ``tier`` in queue order, without handing them out."""
    i = t.items
    with project.engine.connect() as conn:
        rows = conn.execute(
            select(i.c.id, i.c.key, i.c.tier, i.c.is_holdout, i.c.priority)
            .where(*_waiting(project, tier))
            .order_by(i.c.priority.desc(), i.c.id)
            .limit(n)
        ).all()
    return [
        {
            "item_id": r.id,
            "key": r.key,
            "kind": _kind(r.is_holdout, r.priority or 0.0, r.tier),
            "priority": r.priority,
        }
        for r in rows
    ]

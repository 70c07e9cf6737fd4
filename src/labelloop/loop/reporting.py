"""The project's state in numbers, for the CLI's ``status`` and the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from labelloop.loop.context import LoopContext
from labelloop.store import tables as t


def status(ctx: LoopContext) -> dict[str, Any]:
    """Items by state, queue per tier, holdout progress, model versions, rounds, final labels."""
    i = t.items
    with ctx.engine.connect() as conn:
        by_status: dict[str, int] = dict(
            conn.execute(
                select(i.c.status, func.count())
                .where(i.c.project_id == ctx.id)
                .group_by(i.c.status)
            ).all()
        )
        queue: dict[str, int] = {}
        for tier, count in conn.execute(
            select(i.c.tier, func.count())
            .where(i.c.project_id == ctx.id, i.c.status == "new")
            .group_by(i.c.tier)
        ).all():
            queue[tier or "annotator"] = queue.get(tier or "annotator", 0) + count
        holdout: dict[str, int] = dict(
            conn.execute(
                select(i.c.status, func.count())
                .where(i.c.project_id == ctx.id, i.c.is_holdout)
                .group_by(i.c.status)
            ).all()
        )
        sources: dict[str, int] = dict(
            conn.execute(
                select(t.final_labels.c.source, func.count())
                .where(t.final_labels.c.project_id == ctx.id)
                .group_by(t.final_labels.c.source)
            ).all()
        )
        a = t.annotations
        answers_by_person: dict[str, int] = dict(
            conn.execute(
                select(a.c.annotator, func.count())
                .join(i, i.c.id == a.c.item_id)
                .where(
                    a.c.project_id == ctx.id,
                    ~i.c.is_gold,
                    or_(a.c.flag.is_(None), a.c.flag.not_in(("retracted", "duplicate"))),
                )
                .group_by(a.c.annotator)
                .order_by(a.c.annotator)
            ).all()
        )
        models = [
            {"version": r.version, "status": r.status, "n_labels": r.n_labels, **r.metrics}
            for r in conn.execute(
                select(t.model_versions)
                .where(t.model_versions.c.project_id == ctx.id)
                .order_by(t.model_versions.c.version)
            ).all()
        ]
        rounds = [
            {
                "id": r.id,
                "attempt": r.attempt,
                "status": r.status,
                "model_version": r.model_version,
                "candidates": r.n_candidates,
                "sample_size": r.sample_size,
                "sample_errors": r.sample_errors,
                "error_bound": r.error_bound,
                "allowed_errors": r.allowed_errors,
            }
            for r in conn.execute(
                select(t.routing_rounds)
                .where(t.routing_rounds.c.project_id == ctx.id)
                .order_by(t.routing_rounds.c.id)
            ).all()
        ]
    n_gold = by_status.pop("gold", 0)  # gold questions measure people; they are not the dataset
    n_items = sum(by_status.values())
    bounded = sum(r["error_bound"] or 0 for r in rounds if r["status"] == "passed")
    decided = by_status.get("labelled", 0) + by_status.get("auto", 0)
    return {
        "project": ctx.name,
        "items": n_items,
        "by_status": by_status,
        "queue": queue,
        "holdout": {"labelled": holdout.get("labelled", 0), "size": sum(holdout.values())},
        "gold_questions": n_gold,
        "label_sources": sources,
        # Answers each person gave (gold and taken-back answers aside), by name.
        "answers_by_person": answers_by_person,
        "human_share": (sources.get("human", 0) + sources.get("adjudicated", 0)) / n_items
        if n_items
        else 0.0,
        "models": models,
        "rounds": rounds,
        # At the project's confidence, once every item is decided (human labels as reference).
        "accuracy_lower_bound": 1.0 - bounded / n_items if n_items and decided == n_items else None,
    }

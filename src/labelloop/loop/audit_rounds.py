"""Auto-accept rounds: plan, audit a random sample of the candidates, certify, accept.

A round's life: ``sampling`` (its audit sample waits in front of the queue) → ``passed`` (the
unsampled candidates get the model's label, source ``auto``) or ``failed`` (the candidates go back
to the queue and the next attempt gets a quarter of the error budget, see
:func:`~labelloop.routing.bounds.alpha_for_attempt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, func, select

from labelloop.loop.context import LoopContext
from labelloop.loop.model_registry import promoted_version
from labelloop.loop.queue import AUDIT_PRIORITY
from labelloop.routing.auto_accept import (
    AutoAcceptPlan,
    Certificate,
    acceptance_test,
    allowed_errors,
    plan_auto_accept,
)
from labelloop.routing.bounds import alpha_for_attempt
from labelloop.store import locks
from labelloop.store import tables as t
from labelloop.store.events import append_event


@dataclass(frozen=True)
class RouteOutcome:
    """What :func:`route` did: ``waiting``, ``planned``, ``started``, ``passed``, ``failed`` or
    ``done``, with the plan or certificate behind it."""

    action: str
    reason: str
    plan: AutoAcceptPlan | None = None
    certificate: Certificate | None = None
    round_id: int | None = None


def route(ctx: LoopContext) -> RouteOutcome:
    """Move the project's auto-accept state one step forward."""
    with ctx.writer.begin() as conn:
        locks.hold(conn, f"route:{ctx.id}")  # PostgreSQL: one evaluation or start at a time
        open_round = conn.execute(
            select(t.routing_rounds).where(
                t.routing_rounds.c.project_id == ctx.id, t.routing_rounds.c.status == "sampling"
            )
        ).first()
        if open_round is not None:
            return _evaluate(conn, ctx, open_round)
        version = promoted_version(conn, ctx.id)
        if version is None:
            return RouteOutcome("waiting", "no promoted model yet")
        unlabelled_holdout = _count(conn, ctx, t.items.c.is_holdout, t.items.c.status != "labelled")
        if unlabelled_holdout:
            return RouteOutcome("waiting", f"{unlabelled_holdout} holdout items still need labels")
        ids, labels_conf = _eligible(conn, ctx, version)
        if len(ids) == 0:
            return RouteOutcome("done", "no item is waiting for a decision")
        attempt = (
            conn.execute(
                select(func.count())
                .select_from(t.routing_rounds)
                .where(t.routing_rounds.c.project_id == ctx.id)
            ).scalar()
            or 0
        ) + 1
        alpha = alpha_for_attempt(ctx.config.routing.confidence, attempt)
        allowed = allowed_errors(
            _count(conn, ctx),
            ctx.config.routing.target_accuracy,
            already_bounded=_bounded(conn, ctx),
        )
        plan = plan_auto_accept(labels_conf, allowed=allowed, alpha=alpha)
        if not plan.covers_pool:
            return RouteOutcome(
                "planned",
                f"people should label {plan.humans_left} more items "
                "before a certification can pass",
                plan,
            )
        return _start(conn, ctx, version, attempt, alpha, plan, ids)


def _count(conn: Connection, ctx: LoopContext, *where: Any) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(t.items).where(t.items.c.project_id == ctx.id, *where)
        ).scalar()
        or 0
    )


def _bounded(conn: Connection, ctx: LoopContext) -> int:
    """Errors that earlier passed rounds may have left: their budget is spent."""
    return int(
        conn.execute(
            select(func.coalesce(func.sum(t.routing_rounds.c.error_bound), 0)).where(
                t.routing_rounds.c.project_id == ctx.id, t.routing_rounds.c.status == "passed"
            )
        ).scalar()
        or 0
    )


def _version_id(conn: Connection, ctx: LoopContext, version: int) -> int:
    return int(
        conn.execute(
            select(t.model_versions.c.id).where(
                t.model_versions.c.project_id == ctx.id, t.model_versions.c.version == version
            )
        ).scalar_one()
    )


def _eligible(conn: Connection, ctx: LoopContext, version: int) -> tuple[np.ndarray, np.ndarray]:
    """Unlabelled, unrouted, non-holdout items and the model's confidence on each."""
    i, p = t.items, t.predictions
    rows = conn.execute(
        select(i.c.id, p.c.confidence)
        .join(
            p,
            and_(p.c.item_id == i.c.id, p.c.model_version_id == _version_id(conn, ctx, version)),
        )
        .where(
            i.c.project_id == ctx.id,
            i.c.status == "new",
            ~i.c.is_holdout,
            i.c.tier.is_(None),
            i.c.round_id.is_(None),
        )
        .order_by(i.c.id)
    ).all()
    return (
        np.array([r.id for r in rows], dtype=np.int64),
        np.array([r.confidence for r in rows], dtype=float),
    )


def _start(
    conn: Connection,
    ctx: LoopContext,
    version: int,
    attempt: int,
    alpha: float,
    plan: AutoAcceptPlan,
    ids: np.ndarray,
) -> RouteOutcome:
    round_id = t.inserted_id(
        conn.execute(
            t.routing_rounds.insert().values(
                project_id=ctx.id,
                attempt=attempt,
                model_version=version,
                threshold=plan.threshold,
                n_candidates=len(ids),
                sample_size=plan.sample_size,
                alpha=alpha,
                allowed_errors=plan.allowed_errors,
                status="sampling",
            )
        )
    )
    sample = ctx.rng.choice(ids, size=plan.sample_size, replace=False)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000].tolist()
        conn.execute(t.items.update().where(t.items.c.id.in_(chunk)).values(round_id=round_id))
    conn.execute(
        t.audit_samples.insert(), [{"round_id": round_id, "item_id": int(s)} for s in sample]
    )
    for start in range(0, len(sample), 5000):
        chunk = sample[start : start + 5000].tolist()
        conn.execute(
            t.items.update().where(t.items.c.id.in_(chunk)).values(priority=AUDIT_PRIORITY + 1.0)
        )
    append_event(
        conn,
        actor="router",
        action="round.start",
        project_id=ctx.id,
        payload={
            "round_id": round_id,
            "attempt": attempt,
            "model_version": version,
            "candidates": len(ids),
            "sample_size": plan.sample_size,
            "alpha": alpha,
            "allowed_errors": plan.allowed_errors,
        },
    )
    return RouteOutcome(
        "started", f"auditing {plan.sample_size} of {len(ids)} candidates", plan, round_id=round_id
    )


def _evaluate(conn: Connection, ctx: LoopContext, rnd: Any) -> RouteOutcome:
    i, fl, p, s = t.items, t.final_labels, t.predictions, t.audit_samples
    sample = conn.execute(
        select(i.c.id, i.c.status, fl.c.label, p.c.label.label("predicted"))
        .join(s, s.c.item_id == i.c.id)
        .outerjoin(fl, fl.c.item_id == i.c.id)
        .join(
            p,
            and_(
                p.c.item_id == i.c.id,
                p.c.model_version_id == _version_id(conn, ctx, rnd.model_version),
            ),
        )
        .where(s.c.round_id == rnd.id)
    ).all()
    waiting = sum(1 for r in sample if r.status != "labelled")
    if waiting:
        return RouteOutcome("waiting", f"{waiting} audit items still need labels", round_id=rnd.id)
    errors = sum(1 for r in sample if not ctx.kind.model_was_right(r.predicted, r.label))
    cert = acceptance_test(
        rnd.n_candidates, rnd.sample_size, errors, allowed=rnd.allowed_errors, alpha=rnd.alpha
    )
    status = "passed" if cert.passed else "failed"
    conn.execute(
        t.routing_rounds.update()
        .where(t.routing_rounds.c.id == rnd.id)
        .values(status=status, sample_errors=errors, error_bound=cert.error_bound)
    )
    if cert.passed:
        accepted = _accept(conn, ctx, rnd)
        reason = f"auto-accepted {accepted} items; at most {cert.error_bound} errors left"
    else:
        conn.execute(
            i.update().where(i.c.round_id == rnd.id, i.c.status == "new").values(round_id=None)
        )
        reason = (
            f"{errors} errors in {rnd.sample_size} audited items: up to {cert.error_bound} "
            f"errors may remain, more than the {rnd.allowed_errors} allowed"
        )
    append_event(
        conn,
        actor="router",
        action=f"round.{status}",
        project_id=ctx.id,
        payload={
            "round_id": rnd.id,
            "sample_errors": errors,
            "error_bound": cert.error_bound,
            "allowed_errors": rnd.allowed_errors,
        },
    )
    return RouteOutcome(status, reason, certificate=cert, round_id=rnd.id)


def _accept(conn: Connection, ctx: LoopContext, rnd: Any) -> int:
    """Give every undecided candidate the round model's label, with its provenance."""
    i, p = t.items, t.predictions
    guideline = t.latest_version(conn, t.guidelines, ctx.id)
    rows = conn.execute(
        select(i.c.id, p.c.label, p.c.confidence)
        .join(
            p,
            and_(
                p.c.item_id == i.c.id,
                p.c.model_version_id == _version_id(conn, ctx, rnd.model_version),
            ),
        )
        .where(i.c.round_id == rnd.id, i.c.status == "new")
    ).all()
    decided_by = f"model:v{rnd.model_version}"
    for start in range(0, len(rows), 5000):
        chunk = rows[start : start + 5000]
        conn.execute(
            t.final_labels.insert(),
            [
                {
                    "item_id": r.id,
                    "project_id": ctx.id,
                    "label": r.label,
                    "source": "auto",
                    "decided_by": decided_by,
                    "model_version": rnd.model_version,
                    "confidence": r.confidence,
                    "guideline_version": guideline,
                }
                for r in chunk
            ],
        )
        conn.execute(i.update().where(i.c.id.in_([r.id for r in chunk])).values(status="auto"))
    return len(rows)

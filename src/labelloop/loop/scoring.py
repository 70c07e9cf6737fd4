"""Scoring the pool with the promoted model and ordering the human queue by value."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse
from sqlalchemy import bindparam, select

from labelloop.learn.strategies import STRATEGIES, Pool, make_strategy
from labelloop.loop.context import LoopContext
from labelloop.loop.feature_cache import FeatureCache, Features
from labelloop.loop.pool_scoring import BATCH, gather, score_pool
from labelloop.loop.queue import SUSPECT_PRIORITY
from labelloop.store import tables as t
from labelloop.store.bulk import insert_rows

if TYPE_CHECKING:
    from labelloop.loop.model_registry import LoadedModel

QUEUE_HEAD = 1_000


def model_inputs(
    ctx: LoopContext, features: Features, featurizer: Any, item_ids: np.ndarray
) -> Any:
    """Inputs of ``item_ids`` for a model trained with ``featurizer``."""
    cache = features.get(ctx)
    if featurizer is cache.featurizer:
        return cache.X[cache.rows(item_ids)]
    with ctx.engine.connect() as conn:
        rows = dict(
            conn.execute(
                select(t.items.c.id, t.items.c.data).where(t.items.c.id.in_(item_ids.tolist()))
            ).all()
        )
    return featurizer.transform([rows[int(i)] for i in item_ids])


def rescore(
    ctx: LoopContext,
    features: Features,
    loaded: LoadedModel,
    model_version_id: int,
    *,
    batch_size: int = BATCH,
) -> None:
    """Store every item's prediction under ``model_version_id`` and reorder the queue.

    The pool is scored in batches, in-process or on Ray (:mod:`labelloop.loop.pool_scoring`),
    into arrays; then, in one transaction (so the store's write lock is not held while the model
    runs, and readers never see half a version), predictions and priorities are written a batch
    at a time. No step holds a Python object per pool item.
    """
    cache = features.get(ctx)
    X = model_inputs(ctx, features, loaded.featurizer, cache.item_ids)
    batches = score_pool(ctx, loaded, cache.item_ids, X, batch_size=batch_size)
    proba, confidence = gather(cache.item_ids, batches, len(ctx.config.labels))
    with ctx.writer.begin() as conn:
        for at in range(0, len(cache.item_ids), batch_size):
            ids = cache.item_ids[at : at + batch_size]
            labels, _ = ctx.kind.suggest(proba[at : at + batch_size])
            rows = [
                {
                    "item_id": int(i),
                    "model_version_id": model_version_id,
                    "label": lab,
                    "confidence": float(c),
                }
                for i, lab, c in zip(ids, labels, confidence[at : at + batch_size], strict=True)
            ]
            insert_rows(conn, t.predictions, rows)
        _prune(conn, ctx, model_version_id)
        reorder(ctx, conn, cache, X, proba, batch_size=batch_size)


def _prune(conn: Any, ctx: LoopContext, keep_id: int) -> None:
    """Drop predictions no one needs: all but the new version's and those of rounds under audit.

    Final labels keep the version and confidence they were decided with; model versions keep
    their metrics.
    """
    mv, rr = t.model_versions, t.routing_rounds
    auditing = (
        select(mv.c.id)
        .join(rr, (rr.c.project_id == mv.c.project_id) & (rr.c.model_version == mv.c.version))
        .where(rr.c.project_id == ctx.id, rr.c.status == "sampling")
    )
    stale = select(mv.c.id).where(
        mv.c.project_id == ctx.id, mv.c.id != keep_id, mv.c.id.not_in(auditing)
    )
    conn.execute(t.predictions.delete().where(t.predictions.c.model_version_id.in_(stale)))


def reorder(
    ctx: LoopContext,
    conn: Any,
    cache: FeatureCache,
    X: Any,
    proba: np.ndarray,
    *,
    batch_size: int = BATCH,
) -> None:
    """Give waiting items priorities: the strategy's chosen head first, the rest by uncertainty,
    written ``batch_size`` at a time.

    Holdout, audit and suspected-error items keep their places in front of the queue.
    """
    i = t.items
    waiting = np.array(
        conn.execute(
            select(i.c.id)
            .where(
                i.c.project_id == ctx.id,
                i.c.status == "new",
                ~i.c.is_holdout,
                i.c.priority < SUSPECT_PRIORITY,
            )
            .order_by(i.c.id)
        )
        .scalars()
        .all(),
        dtype=np.int64,
    )
    if len(waiting) == 0:
        return
    rows = cache.rows(waiting)
    labelled_rows = np.setdiff1d(np.arange(len(cache.item_ids)), rows, assume_unique=True)
    numeric = sparse.issparse(X) or (isinstance(X, np.ndarray) and X.dtype != object)
    pool = Pool(
        proba=proba[rows],
        embeddings=_dense(X, rows),
        labelled_embeddings=_dense(X, labelled_rows),
        features=X[rows] if numeric else None,
        multi_label=ctx.kind.independent_labels,
    )
    strategy = _strategy(ctx)
    head = strategy.select(pool, min(len(rows), max(QUEUE_HEAD, 10 * ctx.config.query.batch_size)))
    priority = ctx.kind.uncertainty(proba[rows])
    priority[head] = 2.0 - np.arange(len(head)) / len(head)
    update = i.update().where(i.c.id == bindparam("item_id"))
    for at in range(0, len(waiting), batch_size):
        chunk = zip(waiting[at : at + batch_size], priority[at : at + batch_size], strict=True)
        conn.execute(update, [{"item_id": int(a), "priority": float(p)} for a, p in chunk])


def _strategy(ctx: LoopContext) -> Any:
    """The project's strategy, drawing from the project's generator if it is randomised."""
    name = ctx.config.query.strategy
    accepts_rng = "random_state" in inspect.signature(STRATEGIES[name]).parameters
    return make_strategy(name, **({"random_state": ctx.rng} if accepts_rng else {}))


def _dense(X: Any, rows: np.ndarray) -> np.ndarray | None:
    """Embeddings for diversity strategies: dense inputs serve as they are."""
    if sparse.issparse(X) or not isinstance(X, np.ndarray) or X.dtype == object:
        return None
    return X[rows]

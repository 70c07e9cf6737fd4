"""Scoring the pool with the promoted model and ordering the human queue by value."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse
from sqlalchemy import bindparam, select

from labelloop.learn.strategies import STRATEGIES, Pool, make_strategy
from labelloop.loop.labelcodec import decode
from labelloop.loop.queue import AUDIT_PRIORITY
from labelloop.store import tables as t

if TYPE_CHECKING:
    from labelloop.loop.project import LoadedModel, Project

BATCH = 10_000
QUEUE_HEAD = 1_000


def model_inputs(project: Project, featurizer: Any, item_ids: np.ndarray) -> Any:
    """Inputs of ``item_ids`` for a model trained with ``featurizer``."""
    cache = project.features()
    if featurizer is cache.featurizer:
        return cache.X[cache.rows(item_ids)]
    with project.engine.connect() as conn:
        rows = dict(
            conn.execute(
                select(t.items.c.id, t.items.c.data).where(t.items.c.id.in_(item_ids.tolist()))
            ).all()
        )
    return featurizer.transform([rows[int(i)] for i in item_ids])


def predict(loaded: LoadedModel, X: Any) -> np.ndarray:
    """Calibrated probabilities, in batches so a large pool never sits in one model call."""
    parts = [
        loaded.calibrator.transform(loaded.model.predict_proba(X[start : start + BATCH]))
        for start in range(0, X.shape[0], BATCH)
    ]
    return np.vstack(parts)


def rescore(project: Project, loaded: LoadedModel, model_version_id: int) -> None:
    """Store every item's prediction under ``model_version_id`` and reorder the queue."""
    cache = project.features()
    X = model_inputs(project, loaded.featurizer, cache.item_ids)
    proba = predict(loaded, X)
    labels, confidence = decode(project.config, proba)
    with project.writer.begin() as conn:
        for start in range(0, len(labels), BATCH):
            stop = start + BATCH
            conn.execute(
                t.predictions.insert(),
                [
                    {
                        "item_id": int(i),
                        "model_version_id": model_version_id,
                        "label": lab,
                        "confidence": float(c),
                    }
                    for i, lab, c in zip(
                        cache.item_ids[start:stop],
                        labels[start:stop],
                        confidence[start:stop],
                        strict=True,
                    )
                ],
            )
        _prune(conn, project, model_version_id)
        reorder(project, conn, X, proba, confidence)


def _prune(conn: Any, project: Project, keep_id: int) -> None:
    """Drop predictions no one needs: all but the new version's and those of rounds under audit.

    Final labels keep the version and confidence they were decided with; model versions keep
    their metrics.
    """
    mv, rr = t.model_versions, t.routing_rounds
    auditing = (
        select(mv.c.id)
        .join(rr, (rr.c.project_id == mv.c.project_id) & (rr.c.model_version == mv.c.version))
        .where(rr.c.project_id == project.id, rr.c.status == "sampling")
    )
    stale = select(mv.c.id).where(
        mv.c.project_id == project.id, mv.c.id != keep_id, mv.c.id.not_in(auditing)
    )
    conn.execute(t.predictions.delete().where(t.predictions.c.model_version_id.in_(stale)))


def reorder(project: Project, conn: Any, X: Any, proba: np.ndarray, confidence: np.ndarray) -> None:
    """Give waiting items priorities: the strategy's chosen head first, the rest by uncertainty.

    Holdout and audit items keep their places in front of the queue.
    """
    cache = project.features()
    i = t.items
    waiting = np.array(
        conn.execute(
            select(i.c.id)
            .where(
                i.c.project_id == project.id,
                i.c.status == "new",
                ~i.c.is_holdout,
                i.c.priority < AUDIT_PRIORITY,
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
        multi_label=project.config.multi_label,
    )
    strategy = _strategy(project)
    head = strategy.select(
        pool, min(len(rows), max(QUEUE_HEAD, 10 * project.config.query.batch_size))
    )
    priority = 1.0 - confidence[rows]
    priority[head] = 2.0 - np.arange(len(head)) / len(head)
    conn.execute(
        i.update().where(i.c.id == bindparam("item_id")),
        [{"item_id": int(a), "priority": float(p)} for a, p in zip(waiting, priority, strict=True)],
    )


def _strategy(project: Project) -> Any:
    """The project's strategy, drawing from the project's generator if it is randomised."""
    name = project.config.query.strategy
    accepts_rng = "random_state" in inspect.signature(STRATEGIES[name]).parameters
    return make_strategy(name, **({"random_state": project.rng} if accepts_rng else {}))


def _dense(X: Any, rows: np.ndarray) -> np.ndarray | None:
    """Embeddings for diversity strategies: dense inputs serve as they are."""
    if sparse.issparse(X) or not isinstance(X, np.ndarray) or X.dtype == object:
        return None
    return X[rows]

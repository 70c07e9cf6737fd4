"""Scoring a project's pool batch by batch, in this process or on Ray (``LABELLOOP_SCORING``).

Both executors run :class:`labelloop.learn.batch_scoring.BatchScorer`. In-process, it scores the
rows of the feature cache that training used. On Ray, item ids and records stream from the store
in batches and the workers featurize them (TF-IDF, embeddings) and run ``predict_proba``, so that
work spreads over the cluster. Each scored batch comes back decoded: labels and confidences.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from labelloop.errors import ModelError
from labelloop.learn.batch_scoring import BatchScorer, import_ray, score_batches
from labelloop.loop.context import LoopContext
from labelloop.settings import Settings
from labelloop.store import tables as t

if TYPE_CHECKING:
    from labelloop.loop.model_registry import LoadedModel

BATCH = 10_000


@dataclass(frozen=True)
class ScoredBatch:
    """Predictions of a batch of items: probabilities, decoded labels, confidences."""

    item_ids: np.ndarray
    proba: np.ndarray
    labels: list[Any]
    confidence: np.ndarray


def score_pool(
    ctx: LoopContext,
    loaded: LoadedModel,
    item_ids: np.ndarray,
    X: Any,
    *,
    executor: str | None = None,
    batch_size: int = BATCH,
) -> Iterator[ScoredBatch]:
    """Score the sorted ``item_ids`` (model inputs ``X`` in the same order) batch by batch.

    ``executor`` is ``"local"`` or ``"ray"``; default: the ``scoring`` setting. Ray batches come
    back in no fixed order.
    """
    executor = executor or ctx.settings.scoring
    scorer = BatchScorer(loaded.model, loaded.featurizer, loaded.calibrator)
    if executor == "ray":
        start_ray(ctx.settings)
        batches = record_batches(ctx, item_ids, batch_size)
    else:
        batches = (
            {"item_id": item_ids[at : at + batch_size], "features": X[at : at + batch_size]}
            for at in range(0, len(item_ids), batch_size)
        )
    for out in score_batches(batches, scorer, executor=executor, workers=ctx.settings.ray_workers):
        labels, confidence = ctx.kind.suggest(out["proba"])
        yield ScoredBatch(out["item_id"], out["proba"], labels, confidence)


def start_ray(settings: Settings) -> Any:
    """Connect to ``settings.ray_address``, or start a local Ray instance, once per process."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=settings.ray_address, include_dashboard=False)
    return ray


def record_batches(
    ctx: LoopContext, item_ids: np.ndarray, batch_size: int
) -> Iterator[dict[str, Any]]:
    """Ids and records (JSON text) of the sorted ``item_ids``, ``batch_size`` at a time."""
    i = t.items
    with ctx.engine.connect() as conn:
        for at in range(0, len(item_ids), batch_size):
            ids = item_ids[at : at + batch_size]
            rows = conn.execute(
                select(i.c.id, i.c.data)
                .where(i.c.project_id == ctx.id, i.c.id.between(int(ids[0]), int(ids[-1])))
                .order_by(i.c.id)
            ).all()
            data = {row.id: row.data for row in rows}
            missing = np.setdiff1d(ids, np.fromiter(data, dtype=np.int64, count=len(data)))
            if len(missing):
                raise ModelError(f"{len(missing)} items left the pool while it was scored")
            yield {
                "item_id": ids,
                "data": [json.dumps(data[int(a)], separators=(",", ":")) for a in ids],
            }


def gather(
    item_ids: np.ndarray, batches: Iterable[ScoredBatch], n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and confidences of the sorted ``item_ids``, placed from scored batches as
    they arrive."""
    proba = np.empty((len(item_ids), n_classes))
    confidence = np.empty(len(item_ids))
    seen = np.zeros(len(item_ids), dtype=bool)
    for batch in batches:
        rows = np.minimum(np.searchsorted(item_ids, batch.item_ids), len(item_ids) - 1)
        if not np.array_equal(item_ids[rows], batch.item_ids) or seen[rows].any():
            raise ModelError("pool scoring returned items outside the pool, or twice")
        seen[rows] = True
        proba[rows], confidence[rows] = batch.proba, batch.confidence
    if not seen.all():
        raise ModelError(f"pool scoring left {int((~seen).sum())} items unscored")
    return proba, confidence

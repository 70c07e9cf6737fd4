"""Scoring a pool batch by batch, in this process or on Ray Data: features, then calibrated
probabilities.

A batch is a mapping of columns: ``item_id`` (int64) and either ``data`` (each item's record as
JSON text; the featurizer runs on it) or ``features`` (model inputs already computed, dense or
sparse rows). A scored batch is ``{"item_id", "proba"}``. :class:`BatchScorer` is the one code
path; :func:`score_batches` runs it over an iterable of batches in this process
(``executor="local"``) or as a Ray Data ``map_batches`` over a pool of actors that each hold one
copy of the model (``executor="ray"``, extra ``labelloop[ray]``, imported only then). Ray ships
the model to its workers with its own object transfer; nothing is saved as a pickle. On Ray,
scored batches come back in no fixed order: place them by ``item_id``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from labelloop._validation import check_choice, check_int
from labelloop.errors import ConfigError

EXECUTORS = ("local", "ray")


class BatchScorer:
    """Calibrated probabilities of one batch; the callable Ray Data keeps one of per actor."""

    def __init__(self, model: Any, featurizer: Any, calibrator: Any = None) -> None:
        self.model = model
        self.featurizer = featurizer
        self.calibrator = calibrator

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """``{"item_id", "proba"}`` of a batch of ``data`` or ``features`` rows."""
        if "features" in batch:
            X = batch["features"]
        else:
            X = self.featurizer.transform([json.loads(text) for text in batch["data"]])
        proba = self.model.predict_proba(X)
        if self.calibrator is not None:
            proba = self.calibrator.transform(proba)
        return {
            "item_id": np.asarray(batch["item_id"], dtype=np.int64),
            "proba": np.asarray(proba, dtype=np.float64),
        }


def import_ray() -> Any:
    """The ``ray`` module, or ConfigError naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError(
            "scoring: 'ray' needs the ray extra: pip install 'labelloop[ray]'"
        ) from None
    return ray


def score_batches(
    batches: Iterable[Mapping[str, Any]],
    scorer: BatchScorer,
    *,
    executor: str = "local",
    workers: int = 1,
) -> Iterator[dict[str, np.ndarray]]:
    """Yield ``scorer(batch)`` for every batch; on Ray, ``workers`` actors share the work.

    On Ray, batches must carry ``data`` (sparse feature rows do not travel in Ray Data); each
    becomes one block in the object store and one ``map_batches`` call. Ray must be initialised
    (``ray.init``) by the caller.
    """
    check_choice("score_batches", "executor", executor, EXECUTORS)
    check_int("score_batches", "workers", workers)
    if executor == "local":
        for batch in batches:
            yield scorer(batch)
        return
    yield from _score_on_ray(batches, scorer, workers)


def _score_on_ray(
    batches: Iterable[Mapping[str, Any]], scorer: BatchScorer, workers: int
) -> Iterator[dict[str, np.ndarray]]:
    ray = import_ray()
    import pyarrow as pa

    refs, size = [], 1
    for batch in batches:
        if "data" not in batch:
            raise ValueError("score_batches on Ray needs batches of 'data' (record JSON text)")
        ids = np.asarray(batch["item_id"], dtype=np.int64)
        size = max(size, len(ids))
        table = pa.table({"item_id": ids, "data": pa.array(list(batch["data"]), pa.string())})
        refs.append(ray.put(table))
    if not refs:
        return
    scored = ray.data.from_arrow_refs(refs).map_batches(
        BatchScorer,
        fn_constructor_args=(scorer.model, scorer.featurizer, scorer.calibrator),
        batch_size=size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=min(workers, len(refs))),
    )
    for out in scored.iter_batches(batch_size=None, batch_format="numpy"):
        yield {"item_id": np.asarray(out["item_id"], np.int64), "proba": np.stack(out["proba"])}

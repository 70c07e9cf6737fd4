"""K-center greedy (core-set) selection on embeddings, Sener & Savarese (ICLR 2018)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from labelloop._validation import check_int
from labelloop.learn.strategies.base import Pool, QueryStrategy


class KCenterGreedy(QueryStrategy):
    """Repeatedly choose the candidate farthest (Euclidean) from everything labelled or chosen.

    Distances to ``Pool.labelled_embeddings`` are computed in ``chunk_size`` x ``chunk_size``
    blocks, so memory stays bounded for large pools. Without labelled embeddings the first
    candidate is drawn at random with ``random_state``.
    """

    requires: ClassVar[frozenset[str]] = frozenset({"embeddings"})

    def __init__(
        self, random_state: int | np.random.Generator | None = None, chunk_size: int = 2048
    ) -> None:
        self.random_state = random_state
        self.chunk_size = chunk_size

    def _validate_params(self) -> None:
        check_int(type(self).__name__, "chunk_size", self.chunk_size)

    def _select(self, pool: Pool, n: int) -> np.ndarray:
        if pool.embeddings is None:  # checked by ``requires``; narrows the type
            raise ValueError("KCenterGreedy needs Pool.embeddings")
        first = None
        if pool.labelled_embeddings is None or len(pool.labelled_embeddings) == 0:
            first = int(np.random.default_rng(self.random_state).integers(len(pool)))
        return k_center_greedy(
            pool.embeddings, pool.labelled_embeddings, n, first=first, chunk_size=self.chunk_size
        )


def k_center_greedy(
    X: np.ndarray,
    centres: np.ndarray | None,
    n: int,
    *,
    first: int | None = None,
    chunk_size: int = 2048,
) -> np.ndarray:
    """Greedy k-center: ``n`` rows of ``X``, each farthest from ``centres`` and earlier picks.

    ``first`` is the first pick, used when there are no ``centres``; ties go to the lower index.
    """
    X = np.asarray(X)
    X = X.astype(np.result_type(X.dtype, np.float32), copy=False)
    sq_norms = np.einsum("ij,ij->i", X, X)
    if centres is not None and len(centres) > 0:
        min_dist = min_sq_distances(X, np.asarray(centres, dtype=X.dtype), sq_norms, chunk_size)
        pick = int(np.argmax(min_dist))
    elif first is not None:
        min_dist = np.full(len(X), np.inf, dtype=X.dtype)
        pick = first
    else:
        raise ValueError("k_center_greedy needs 'first' when there are no centres.")
    chosen = np.empty(n, dtype=np.intp)
    for i in range(n):
        chosen[i] = pick
        dist = sq_norms - 2.0 * (X @ X[pick]) + sq_norms[pick]
        np.minimum(min_dist, dist, out=min_dist)
        min_dist[pick] = -np.inf  # stays -inf: a candidate is never chosen twice
        pick = int(np.argmax(min_dist))
    return chosen


def min_sq_distances(
    X: np.ndarray, centres: np.ndarray, sq_norms: np.ndarray, chunk_size: int
) -> np.ndarray:
    """Squared Euclidean distance from each row of ``X`` to its nearest centre, in blocks."""
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    out = np.empty(len(X), dtype=X.dtype)
    for start in range(0, len(X), chunk_size):
        rows = slice(start, start + chunk_size)
        best = np.full(len(X[rows]), np.inf, dtype=X.dtype)
        for c_start in range(0, len(centres), chunk_size):
            cols = slice(c_start, c_start + chunk_size)
            block = centre_norms[cols] - 2.0 * (X[rows] @ centres[cols].T)
            np.minimum(best, block.min(axis=1), out=best)
        out[rows] = np.maximum(best + sq_norms[rows], 0.0)
    return out

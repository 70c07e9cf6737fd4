"""Density-weighted margin with clustered batches (after Zhdanov 2019 and Settles & Craven 2008).

Margin alone spends labels on uncertain outliers and on near-duplicates within a batch. Here the
``beta * n`` smallest-margin candidates are weighted by their local density, clustered into ``n``
groups by weighted k-means, and the heaviest candidate of each group is chosen.
"""

from __future__ import annotations

import numbers
import warnings
from typing import ClassVar

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from labelloop._validation import check_int
from labelloop.learn.strategies.base import Pool, QueryStrategy, top_n
from labelloop.learn.strategies.uncertainty import Margin


class DensityClusterMargin(QueryStrategy):
    """Weight = margin uncertainty x density ** ``gamma``; one candidate per k-means cluster.

    Density is the mean cosine similarity of a candidate to its ``n_neighbors`` most similar
    unlabelled candidates (and itself), computed in ``chunk_size`` blocks. ``random_state``
    seeds k-means.
    """

    requires: ClassVar[frozenset[str]] = frozenset({"proba", "embeddings"})

    def __init__(
        self,
        beta: int = 10,
        n_neighbors: int = 10,
        gamma: float = 1.0,
        random_state: int | np.random.Generator | None = None,
        chunk_size: int = 2048,
    ) -> None:
        self.beta = beta
        self.n_neighbors = n_neighbors
        self.gamma = gamma
        self.random_state = random_state
        self.chunk_size = chunk_size

    def _validate_params(self) -> None:
        owner = type(self).__name__
        check_int(owner, "beta", self.beta)
        check_int(owner, "n_neighbors", self.n_neighbors)
        check_int(owner, "chunk_size", self.chunk_size)
        gamma = self.gamma
        if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not gamma >= 0:
            raise ValueError(
                f"The 'gamma' parameter of {owner} must be a float >= 0. Got {gamma!r} instead."
            )

    def _select(self, pool: Pool, n: int) -> np.ndarray:
        embeddings = np.asarray(pool.embeddings)
        uncertainty = Margin().scores(pool)
        candidates = top_n(uncertainty, min(self.beta * n, len(pool)))
        density = knn_density(
            embeddings[candidates], embeddings, self.n_neighbors, chunk_size=self.chunk_size
        )
        weight = uncertainty[candidates] * density**self.gamma
        if len(candidates) > n:
            chosen = heaviest_per_cluster(embeddings[candidates], weight, n, self.random_state)
        else:
            chosen = np.arange(len(candidates))
        return candidates[chosen[np.lexsort((chosen, -weight[chosen]))]]


def knn_density(
    candidates: np.ndarray, pool: np.ndarray, n_neighbors: int, *, chunk_size: int = 2048
) -> np.ndarray:
    """Mean cosine similarity of each candidate to its ``n_neighbors + 1`` most similar pool rows.

    The candidates are rows of ``pool``, so the count includes the candidate itself. Negative
    means are clipped to 0.
    """
    k = min(n_neighbors + 1, len(pool))
    unit = _unit_rows(candidates)
    best = np.empty((len(unit), 0), dtype=unit.dtype)
    for start in range(0, len(pool), chunk_size):
        merged = np.hstack([best, unit @ _unit_rows(pool[start : start + chunk_size]).T])
        if merged.shape[1] > k:
            merged = np.partition(merged, merged.shape[1] - k, axis=1)[:, -k:]
        best = merged
    return np.maximum(best.mean(axis=1), 0.0).astype(np.float64)


def _unit_rows(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    X = X.astype(np.result_type(X.dtype, np.float32), copy=False)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def heaviest_per_cluster(
    X: np.ndarray, weight: np.ndarray, n: int, random_state: int | np.random.Generator | None
) -> np.ndarray:
    """Weighted k-means into ``n`` clusters; the heaviest row of each (then the heaviest left)."""
    seed = int(np.random.default_rng(random_state).integers(2**31 - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # duplicates: fewer distinct clusters
        labels = KMeans(n_clusters=n, n_init=1, random_state=seed).fit_predict(
            X, sample_weight=np.maximum(weight, 1e-12)
        )
    order = np.lexsort((np.arange(len(weight)), -weight))
    _, first = np.unique(labels[order], return_index=True)
    chosen = order[first]
    if len(chosen) < n:
        rest = order[~np.isin(order, chosen)]
        chosen = np.concatenate([chosen, rest[: n - len(chosen)]])
    return chosen

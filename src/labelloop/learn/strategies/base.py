"""The Pool a query strategy may look at, and the QueryStrategy contract it must keep."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from labelloop._validation import check_int
from labelloop.errors import EmptyPoolError

INPUTS = ("proba", "embeddings", "labelled_embeddings", "features")


@dataclass(frozen=True)
class Pool:
    """The unlabelled candidates, row ``i`` of every array describing candidate ``i``.

    ``proba`` holds calibrated class probabilities, shape (n_pool, n_classes), or with
    ``multi_label`` independent per-label probabilities, shape (n_pool, n_labels).
    ``embeddings`` (n_pool, d) and ``labelled_embeddings`` (n_labelled, d) live in one space;
    ``features`` (n_pool, n_features), dense or sparse, is the linear model's input.
    """

    proba: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    labelled_embeddings: np.ndarray | None = None
    features: np.ndarray | sp.sparray | sp.spmatrix | None = None
    multi_label: bool = False

    def __post_init__(self) -> None:
        sizes = {}
        for name in INPUTS:
            value = getattr(self, name)
            if value is None:
                continue
            if not sp.issparse(value):
                value = np.asarray(value)
                object.__setattr__(self, name, value)
            if value.ndim != 2:
                raise ValueError(f"Pool.{name} must be 2-D. Got shape {value.shape} instead.")
            if name != "features" and not np.isfinite(value).all():
                raise ValueError(f"Pool.{name} must be finite. Got NaN or infinity instead.")
            if name != "labelled_embeddings":
                sizes[name] = value.shape[0]
        if not sizes:
            raise ValueError("A Pool needs at least one of proba, embeddings or features.")
        if len(set(sizes.values())) > 1:
            raise ValueError(f"Pool arrays must have one row per candidate. Got {sizes} instead.")
        if self.embeddings is not None and self.labelled_embeddings is not None:
            d, d_labelled = self.embeddings.shape[1], self.labelled_embeddings.shape[1]
            if d != d_labelled:
                raise ValueError(
                    f"Pool.labelled_embeddings must have {d} columns like Pool.embeddings. "
                    f"Got {d_labelled} instead."
                )

    def __len__(self) -> int:
        for name in ("proba", "embeddings", "features"):
            value = getattr(self, name)
            if value is not None:
                return int(value.shape[0])
        return 0  # unreachable: __post_init__ requires one input


class QueryStrategy(BaseEstimator, ABC):  # type: ignore[misc]
    """Chooses which unlabelled candidates people should label next.

    ``__init__`` only stores parameters; they are validated when :meth:`select` runs.
    Subclasses set ``requires`` (the :class:`Pool` fields they read) and implement ``_select``.
    """

    requires: ClassVar[frozenset[str]] = frozenset()

    def select(self, pool: Pool, n: int) -> np.ndarray:
        """Return ``min(n, len(pool))`` unique pool indices, most valuable first."""
        n = check_int(type(self).__name__, "n", n)
        self._validate_params()
        self._check_inputs(pool)
        if len(pool) == 0:
            raise EmptyPoolError(f"{type(self).__name__} was asked to choose from an empty pool.")
        chosen = self._select(pool, min(n, len(pool)))
        return np.asarray(chosen, dtype=np.intp)

    def _check_inputs(self, pool: Pool) -> None:
        """Raise ``ValueError`` naming the first input in ``requires`` that ``pool`` lacks."""
        for name in sorted(self.requires):
            if getattr(pool, name) is None:
                raise ValueError(f"{type(self).__name__} needs Pool.{name}. Got None instead.")

    def _validate_params(self) -> None:
        """Raise ``ValueError`` (pattern of :mod:`labelloop._validation`) for a bad parameter."""

    @abstractmethod
    def _select(self, pool: Pool, n: int) -> np.ndarray:
        """Choose ``n`` (1 <= n <= len(pool)) unique indices, most valuable first."""


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest ``scores``, highest first; ties go to the lower index."""
    scores = np.asarray(scores)
    size = scores.shape[0]
    if n < size:
        nth_highest = np.partition(scores, size - n)[size - n]
        candidates = np.flatnonzero(scores >= nth_highest)
    else:
        candidates = np.arange(size)
    return candidates[np.lexsort((candidates, -scores[candidates]))[:n]]

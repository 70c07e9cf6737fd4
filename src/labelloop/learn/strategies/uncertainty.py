"""Uncertainty sampling: least confidence, margin (breaking ties) and entropy.

Each is a score over the class axis, higher meaning less certain; the top ``n`` scores are
chosen. For multi-label pools each label is scored as a binary problem and the scores averaged.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np
from scipy.special import entr

from labelloop.learn.strategies.base import Pool, QueryStrategy, top_n


class UncertaintySampling(QueryStrategy):
    """Base of the strategies that rank candidates by an uncertainty score of ``proba``."""

    requires: ClassVar[frozenset[str]] = frozenset({"proba"})

    def scores(self, pool: Pool) -> np.ndarray:
        """Uncertainty of each candidate, shape (n_pool,); higher is more valuable."""
        self._check_inputs(pool)
        proba = np.asarray(pool.proba)
        if pool.multi_label:
            proba = proba.astype(np.float64, copy=False)
            binary = np.stack([1.0 - proba, proba], axis=-1)
            return np.asarray(self._score(binary).mean(axis=1), dtype=np.float64)
        return np.asarray(self._score(proba), dtype=np.float64)

    def _select(self, pool: Pool, n: int) -> np.ndarray:
        return top_n(self.scores(pool), n)

    @staticmethod
    @abstractmethod
    def _score(proba: np.ndarray) -> np.ndarray:
        """Uncertainty over the last axis of ``proba`` (classes)."""


class LeastConfidence(UncertaintySampling):
    """One minus the probability of the most likely class."""

    @staticmethod
    def _score(proba: np.ndarray) -> np.ndarray:
        return 1.0 - proba.max(axis=-1).astype(np.float64)


class Margin(UncertaintySampling):
    """One minus the gap between the two most likely classes (breaking ties)."""

    @staticmethod
    def _score(proba: np.ndarray) -> np.ndarray:
        return 1.0 - top2_gap(proba).astype(np.float64)


class Entropy(UncertaintySampling):
    """Shannon entropy (nats) of the predicted class distribution.

    Rows are renormalised in float64 first: near its maximum entropy is flat (``ln 2 - 2 d^2``
    for binary ``p = 0.5 + d``), so float32 rounding would otherwise decide the ranking.
    """

    @staticmethod
    def _score(proba: np.ndarray) -> np.ndarray:
        proba = proba.astype(np.float64)
        proba /= proba.sum(axis=-1, keepdims=True)
        return entr(proba).sum(axis=-1)


def top2_gap(proba: np.ndarray) -> np.ndarray:
    """Probability of the most likely class minus that of the second (0 with one class)."""
    n_classes = proba.shape[-1]
    if n_classes == 1:
        return proba[..., 0]
    top2 = np.partition(proba, n_classes - 2, axis=-1)[..., n_classes - 2 :]
    return top2[..., 1] - top2[..., 0]

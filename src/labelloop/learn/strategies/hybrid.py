"""Uncertainty plus diversity for batches: k-center greedy among the most uncertain."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from labelloop._validation import check_int
from labelloop.learn.strategies.base import Pool, QueryStrategy, top_n
from labelloop.learn.strategies.kcenter import k_center_greedy
from labelloop.learn.strategies.uncertainty import Margin


class MarginKCenter(QueryStrategy):
    """Take the ``beta * n`` candidates with the smallest margin, then k-center greedy among them.

    The k-center step starts from the labelled embeddings, or, when there are none, from the
    most uncertain candidate, so the choice is deterministic.
    """

    requires: ClassVar[frozenset[str]] = frozenset({"proba", "embeddings"})

    def __init__(self, beta: int = 10, chunk_size: int = 2048) -> None:
        self.beta = beta
        self.chunk_size = chunk_size

    def _validate_params(self) -> None:
        check_int(type(self).__name__, "beta", self.beta)
        check_int(type(self).__name__, "chunk_size", self.chunk_size)

    def _select(self, pool: Pool, n: int) -> np.ndarray:
        candidates = top_n(Margin().scores(pool), min(self.beta * n, len(pool)))
        picked = k_center_greedy(
            pool.embeddings[candidates],  # type: ignore[index]
            pool.labelled_embeddings,
            n,
            first=0,
            chunk_size=self.chunk_size,
        )
        return candidates[picked]

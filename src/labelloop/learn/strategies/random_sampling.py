"""Random sampling: the baseline every other strategy must beat."""

from __future__ import annotations

import numpy as np

from labelloop.learn.strategies.base import Pool, QueryStrategy


class RandomSampling(QueryStrategy):
    """Choose candidates uniformly at random without replacement.

    ``random_state`` is an int, a :class:`numpy.random.Generator` or None (fresh entropy).
    """

    def __init__(self, random_state: int | np.random.Generator | None = None) -> None:
        self.random_state = random_state

    def _select(self, pool: Pool, n: int) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        return rng.choice(len(pool), size=n, replace=False)

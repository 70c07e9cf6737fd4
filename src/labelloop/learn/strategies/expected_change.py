"""Expected gradient length (Settles, Craven & Ray, NIPS 2008) for logistic regression."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from labelloop.learn.strategies.base import Pool, QueryStrategy, top_n


class ExpectedGradientLength(QueryStrategy):
    """Choose the candidates whose label would change a logistic regression the most.

    For multinomial logistic regression the log-loss gradient of ``(x, y)`` with respect to the
    weights is ``(p - e_y) x^T``, of norm ``||p - e_y|| ||x||``; the score is its expectation
    under the model, ``sum_y p_y ||p - e_y|| ||x||``. With ``fit_intercept`` ``||x||`` becomes
    ``sqrt(||x||^2 + 1)``. Multi-label pools use one binary model per label, whose expected
    gradient norm is ``2 p (1 - p) ||x||``; the scores are averaged over labels.
    """

    requires: ClassVar[frozenset[str]] = frozenset({"proba", "features"})

    def __init__(self, fit_intercept: bool = True) -> None:
        self.fit_intercept = fit_intercept

    def scores(self, pool: Pool) -> np.ndarray:
        """Expected gradient length of each candidate; higher is more valuable."""
        self._check_inputs(pool)
        proba = np.asarray(pool.proba, dtype=np.float64)
        if pool.multi_label:
            expected = (2.0 * proba * (1.0 - proba)).mean(axis=1)
        else:
            sq_norm_p = np.einsum("ij,ij->i", proba, proba)
            dist = np.sqrt(np.maximum(sq_norm_p[:, None] - 2.0 * proba + 1.0, 0.0))
            expected = np.einsum("ij,ij->i", proba, dist)
        return expected * np.sqrt(_sq_row_norms(pool.features) + float(self.fit_intercept))

    def _select(self, pool: Pool, n: int) -> np.ndarray:
        return top_n(self.scores(pool), n)


def _sq_row_norms(X: object) -> np.ndarray:
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()  # type: ignore[attr-defined]
    dense = np.asarray(X, dtype=np.float64)
    return np.einsum("ij,ij->i", dense, dense)

"""The shared loop of the aggregators fitted by expectation-maximisation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import logsumexp

from labelloop._validation import check_int
from labelloop.quality.aggregation.base import Aggregator, check_positive, normalise_log
from labelloop.quality.aggregation.majority import weighted_vote
from labelloop.quality.long_table import LongTable


class EMAggregator(Aggregator):
    """An aggregator fitted by expectation-maximisation: at most ``max_iter`` iterations, until
    the mean log-likelihood per answer changes by less than ``tol``; ``alpha`` pseudo-counts
    smooth the M-step; ``random_state`` breaks ties between equally likely labels.

    After ``fit``: ``n_iter_`` (iterations run), ``converged_`` (whether the change fell below
    ``tol`` before ``max_iter`` ran out) and ``log_likelihood_`` (the last mean per answer)."""

    def __init__(
        self,
        max_iter: int = 100,
        tol: float = 1e-6,
        alpha: float = 0.01,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.alpha = alpha
        self.random_state = random_state

    def _validate_params(self) -> None:
        owner = type(self).__name__
        check_int(owner, "max_iter", self.max_iter)
        check_positive(owner, "tol", self.tol)
        check_positive(owner, "alpha", self.alpha, allow_zero=True)

    def _em(
        self,
        table: LongTable,
        m_step: Callable[[np.ndarray], Any],
        log_joint: Callable[[Any], np.ndarray],
    ) -> tuple[np.ndarray, Any]:
        """EM from the weighted vote: ``m_step(posteriors)`` gives the parameters,
        ``log_joint(parameters)`` the (items, labels) log P(truth, the item's answers). Sets
        ``n_iter_``, ``converged_`` and ``log_likelihood_``; returns the posteriors and their
        parameters."""
        posteriors = weighted_vote(table)
        log_likelihood = -np.inf
        n_iter, converged = 0, False
        for n_iter in range(1, self.max_iter + 1):  # noqa: B007 (read after the loop)
            joint = log_joint(m_step(posteriors))
            posteriors = normalise_log(joint)
            new = float(logsumexp(joint, axis=1).sum()) / len(table.items)
            converged = abs(new - log_likelihood) < self.tol
            log_likelihood = new
            if converged:
                break
        self.n_iter_ = n_iter
        self.converged_ = converged
        self.log_likelihood_ = log_likelihood
        return posteriors, m_step(posteriors)

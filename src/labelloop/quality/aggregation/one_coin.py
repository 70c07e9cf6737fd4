"""One-coin Dawid-Skene: one accuracy per annotator, errors spread evenly over the other labels."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from labelloop.quality.aggregation.base import EMAggregator, normalise_log
from labelloop.quality.aggregation.majority import weighted_vote
from labelloop.quality.long_table import LongTable


class OneCoinDawidSkene(EMAggregator):
    """Dawid-Skene with ``P(says l | truth k) = p_a`` if ``l == k`` else ``(1 - p_a) / (K - 1)``.

    EM from the majority's vote shares; the M-step adds ``alpha`` pseudo-answers, right and wrong,
    to every annotator's accuracy (and to every class of the prior), so nobody's accuracy is
    exactly 0 or 1. Stops when the mean log-likelihood per answer changes by less than ``tol``
    or after ``max_iter`` iterations. Learned: ``skills_`` (the accuracies ``p_a``), ``priors_``,
    ``n_iter_`` and ``log_likelihood_`` beside ``posteriors_`` and ``labels_``.
    """

    def _fit(self, table: LongTable) -> np.ndarray:
        k = table.n_labels
        answered = np.bincount(table.annotators, minlength=table.n_annotators)
        cells = table.items * k + table.labels
        eps = 1e-12

        def m_step(posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Accuracy = the expected share of right answers; class shares; both smoothed."""
            right = np.bincount(
                table.annotators,
                weights=posteriors[table.items, table.labels],
                minlength=table.n_annotators,
            )
            skills = np.clip((right + self.alpha) / (answered + 2 * self.alpha), eps, 1 - eps)
            priors = np.maximum(posteriors.sum(axis=0) + self.alpha, eps)
            return skills, priors / priors.sum()

        posteriors = weighted_vote(table)
        log_likelihood = 0.0 if k == 1 else -np.inf
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):  # noqa: B007 (read after the loop)
            if k == 1:  # one label: nothing to infer
                break
            skills, priors = m_step(posteriors)
            # E-step: an answer adds log((1 - p) / (K - 1)) to every label and
            # log(p) - log((1 - p) / (K - 1)) more to the label it names
            wrong = np.log((1 - skills) / (k - 1))
            named = np.bincount(
                cells,
                weights=(np.log(skills) - wrong)[table.annotators],
                minlength=table.n_items * k,
            )
            every = np.bincount(
                table.items, weights=wrong[table.annotators], minlength=table.n_items
            )
            joint = named.reshape(-1, k) + every[:, None] + np.log(priors)
            posteriors = normalise_log(joint)
            new = float(logsumexp(joint, axis=1).sum()) / len(table.items)
            converged = abs(new - log_likelihood) < self.tol
            log_likelihood = new
            if converged:
                break
        self.skills_, self.priors_ = m_step(posteriors)  # the parameters of the final posteriors
        self.n_iter_ = n_iter
        self.log_likelihood_ = log_likelihood
        return posteriors

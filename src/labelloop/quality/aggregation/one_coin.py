"""One-coin Dawid-Skene: one accuracy per annotator, errors spread evenly over the other labels."""

from __future__ import annotations

import numpy as np

from labelloop.quality.aggregation.em import EMAggregator
from labelloop.quality.aggregation.majority import weighted_vote
from labelloop.quality.aggregation.posterior import (
    AnswerModel,
    confusion_model,
    one_coin_confusions,
)
from labelloop.quality.long_table import LongTable


class OneCoinDawidSkene(EMAggregator):
    """Dawid-Skene with ``P(says l | truth k) = p_a`` if ``l == k`` else ``(1 - p_a) / (K - 1)``.

    EM from the majority's vote shares; the M-step adds ``alpha`` pseudo-answers, right and wrong,
    to every annotator's accuracy (and to every class of the prior), so nobody's accuracy is
    exactly 0 or 1. Stops when the mean log-likelihood per answer changes by less than ``tol``
    or after ``max_iter`` iterations. Learned: ``skills_`` (the accuracies ``p_a``), ``priors_``,
    ``n_iter_``, ``converged_`` and ``log_likelihood_`` beside ``posteriors_`` and ``labels_``.
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

        def log_joint(params: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
            """An answer adds log((1 - p) / (K - 1)) to every label and
            log(p) - log((1 - p) / (K - 1)) more to the label it names."""
            skills, priors = params
            wrong = np.log((1 - skills) / (k - 1))
            named = np.bincount(
                cells,
                weights=(np.log(skills) - wrong)[table.annotators],
                minlength=table.n_items * k,
            )
            every = np.bincount(
                table.items, weights=wrong[table.annotators], minlength=table.n_items
            )
            return named.reshape(-1, k) + every[:, None] + np.log(priors)

        if k == 1:  # one label: nothing to infer
            posteriors = weighted_vote(table)
            self.n_iter_, self.converged_, self.log_likelihood_ = 1, True, 0.0
            self.skills_, self.priors_ = m_step(posteriors)
            return posteriors
        posteriors, (self.skills_, self.priors_) = self._em(table, m_step, log_joint)
        return posteriors

    def _answer_model(self, shrink: float) -> AnswerModel:
        confusions = one_coin_confusions(self.skills_, len(self.label_ids_))
        return confusion_model(
            self.label_ids_, self.annotator_ids_, confusions, self.answer_counts_, shrink
        )

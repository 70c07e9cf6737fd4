"""Dawid-Skene: a confusion matrix per annotator and the true labels, learned together by EM.

A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates using the EM
algorithm", Applied Statistics 28 (1), 1979.
"""

from __future__ import annotations

import numpy as np

from labelloop.quality.aggregation.base import answer_matrix, expected_accuracy
from labelloop.quality.aggregation.em import EMAggregator
from labelloop.quality.aggregation.posterior import AnswerModel, confusion_model
from labelloop.quality.long_table import LongTable


class DawidSkene(EMAggregator):
    """Full Dawid-Skene: ``confusions_[a, k, l]`` = P(annotator ``a`` says ``l`` | truth ``k``).

    EM starts from the majority's vote shares. The M-step is a MAP estimate: ``alpha``
    pseudo-answers are added to every cell of each confusion row (and to every class of the
    prior), so a label an annotator never used, or a class they never saw, gets a small
    probability instead of zero. EM stops when the mean log-likelihood per answer changes by
    less than ``tol`` (``converged_``), or after ``max_iter`` iterations (``n_iter_`` says how
    many ran).
    Missing answers simply do not enter the likelihood, so any overlap works.

    Learned: ``posteriors_``, ``labels_``, ``priors_`` (n_labels), ``confusions_``
    (n_annotators × n_labels × n_labels), ``skills_`` (the mean posterior of the labels each
    annotator gave) and ``log_likelihood_``.
    """

    def _fit(self, table: LongTable) -> np.ndarray:
        n_annotators, k = table.n_annotators, table.n_labels
        answers = answer_matrix(table)  # (items, annotators * labels)
        answers_t = answers.T.tocsr()
        floor = np.finfo(np.float64).tiny

        def m_step(posteriors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Expected (annotator, said) x truth counts and class counts, smoothed, normalised."""
            counts = (answers_t @ posteriors).reshape(n_annotators, k, k) + self.alpha
            counts = np.maximum(counts, floor)  # alpha = 0: a class never seen stays uniform
            priors = np.maximum(posteriors.sum(axis=0) + self.alpha, floor)
            return counts / counts.sum(axis=1, keepdims=True), priors / priors.sum()

        def log_joint(params: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
            """log P(truth k) + the sum over the item's answers of log P(answer | truth k)."""
            said_given_truth, priors = params
            return np.log(priors) + answers @ np.log(said_given_truth).reshape(n_annotators * k, k)

        posteriors, (said_given_truth, priors) = self._em(table, m_step, log_joint)
        self.priors_ = priors
        self.confusions_ = said_given_truth.transpose(0, 2, 1).copy()
        self.skills_ = expected_accuracy(table, posteriors)
        return posteriors

    def _answer_model(self, shrink: float) -> AnswerModel:
        return confusion_model(
            self.label_ids_, self.annotator_ids_, self.confusions_, self.answer_counts_, shrink
        )

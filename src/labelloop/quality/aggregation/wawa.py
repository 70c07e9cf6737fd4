"""Wawa (worker agreement with aggregate): a vote weighted by each annotator's agreement with the
majority."""

from __future__ import annotations

import numpy as np

from labelloop.quality.aggregation.base import Aggregator, argmax_ties, expected_accuracy
from labelloop.quality.aggregation.majority import weighted_vote
from labelloop.quality.aggregation.posterior import AnswerModel, weight_model
from labelloop.quality.long_table import LongTable


class Wawa(Aggregator):
    """Majority vote, then each annotator's skill = the share of their answers agreeing with it,
    then a vote weighted by those skills (``skills_``, one per annotator).

    As in the original method, agreement is with the majority's label; a tied majority is broken
    uniformly at random by ``random_state``, like the final vote.
    """

    def __init__(self, random_state: int | np.random.Generator | None = None) -> None:
        self.random_state = random_state

    def _fit(self, table: LongTable) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        shares = weighted_vote(table)
        majority = np.zeros_like(shares)
        majority[np.arange(table.n_items), argmax_ties(shares, rng)] = 1.0
        self.skills_ = expected_accuracy(table, majority)
        return weighted_vote(table, self.skills_)

    def _answer_model(self, shrink: float) -> AnswerModel:
        return weight_model(
            self.label_ids_, self.annotator_ids_, self.skills_, self.answer_counts_, shrink
        )

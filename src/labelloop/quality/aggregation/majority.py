"""Majority vote and weighted vote: each item gets the label with the most (weight of) votes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from labelloop.quality.aggregation.base import Aggregator, vote_shares
from labelloop.quality.aggregation.posterior import AnswerModel, weight_model
from labelloop.quality.long_table import LongTable


def weighted_vote(table: LongTable, weights: np.ndarray | None = None) -> np.ndarray:
    """Vote shares, shape (n_items, n_labels); ``weights[a]`` is annotator code ``a``'s weight.

    Without weights every answer counts 1. An item whose annotators all weigh 0 gets a uniform row.
    """
    per_answer = None
    if weights is not None:
        per_answer = np.asarray(weights, dtype=np.float64)[table.annotators]
    flat = np.bincount(
        table.items * table.n_labels + table.labels,
        weights=per_answer,
        minlength=table.n_items * table.n_labels,
    )
    return vote_shares(flat.reshape(table.n_items, table.n_labels))


class MajorityVote(Aggregator):
    """The label most annotators gave; the posterior is the share of the vote.

    ``weights`` maps annotator ids to non-negative weights (a weighted vote, for instance skills
    measured on gold items); every annotator in the data needs one. Ties are broken uniformly at
    random by ``random_state``.
    """

    def __init__(
        self,
        weights: Mapping[Any, float] | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.weights = weights
        self.random_state = random_state

    def _fit(self, table: LongTable) -> np.ndarray:
        if self.weights is None:
            return weighted_vote(table)
        missing = [a for a in table.annotator_ids.tolist() if a not in self.weights]
        if missing:
            shown = ", ".join(repr(a) for a in missing[:5])
            raise ValueError(
                f"The 'weights' parameter of MajorityVote must give every annotator a weight. "
                f"Got none for {shown}{' ...' if len(missing) > 5 else ''} instead."
            )
        weights = np.array([self.weights[a] for a in table.annotator_ids.tolist()], dtype=float)
        if not (np.isfinite(weights).all() and (weights >= 0).all()):
            raise ValueError(
                "The 'weights' parameter of MajorityVote must hold finite weights >= 0. "
                f"Got {weights[~(np.isfinite(weights) & (weights >= 0))][:5].tolist()} instead."
            )
        self.weights_ = weights
        return weighted_vote(table, weights)

    def _answer_model(self, shrink: float) -> AnswerModel:
        if self.weights is None:
            return super()._answer_model(shrink)
        return weight_model(
            self.label_ids_, self.annotator_ids_, self.weights_, self.answer_counts_, shrink
        )

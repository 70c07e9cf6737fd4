"""The Aggregator contract: a long table of answers in, one label and a posterior per item out."""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelloop._params import Params
from labelloop.errors import NotFittedError
from labelloop.quality.aggregation.posterior import SHRINK, AnswerModel, Posterior
from labelloop.quality.long_table import LongTable, encode


class Aggregator(Params, ABC):
    """Infers each item's true label from the labels several annotators gave it.

    ``__init__`` only stores parameters; :meth:`fit` validates them, encodes the long table
    (item, annotator, label) and learns, per item in ``item_ids_`` order, ``posteriors_``
    (n_items × n_labels, columns in ``label_ids_`` order, rows summing to 1) and ``labels_``,
    the most probable label. A tie between equally probable labels is broken uniformly at random
    by ``random_state`` (an int gives repeatable output, None fresh entropy each fit).
    Subclasses implement ``_fit(table) -> posteriors`` and may set ``skills_`` and friends;
    ``answer_counts_`` holds each annotator's number of answers. :meth:`posterior` scores a new
    item's answers under what the fit learned, without fitting again.
    """

    random_state: int | np.random.Generator | None

    def fit(
        self,
        items: Sequence[Any] | np.ndarray,
        annotators: Sequence[Any] | np.ndarray,
        labels: Sequence[Any] | np.ndarray,
        *,
        label_ids: Sequence[Any] | np.ndarray | None = None,
    ) -> Aggregator:
        """Learn from the long table; ``label_ids`` fixes the label set and its order."""
        self._validate_params()
        table = encode(items, annotators, labels, label_ids=label_ids)
        posteriors = self._fit(table)
        self.posteriors_ = posteriors
        self.item_ids_ = table.item_ids
        self.annotator_ids_ = table.annotator_ids
        self.label_ids_ = table.label_ids
        self.answer_counts_ = np.bincount(table.annotators, minlength=table.n_annotators)
        self.labels_ = table.label_ids[argmax_ties(posteriors, self.random_state)]
        return self

    def fit_predict(
        self,
        items: Sequence[Any] | np.ndarray,
        annotators: Sequence[Any] | np.ndarray,
        labels: Sequence[Any] | np.ndarray,
        *,
        label_ids: Sequence[Any] | np.ndarray | None = None,
    ) -> np.ndarray:
        """Fit and return ``labels_`` (one label per item of ``item_ids_``)."""
        return self.fit(items, annotators, labels, label_ids=label_ids).labels_

    def fit_predict_proba(
        self,
        items: Sequence[Any] | np.ndarray,
        annotators: Sequence[Any] | np.ndarray,
        labels: Sequence[Any] | np.ndarray,
        *,
        label_ids: Sequence[Any] | np.ndarray | None = None,
    ) -> np.ndarray:
        """Fit and return ``posteriors_``."""
        return self.fit(items, annotators, labels, label_ids=label_ids).posteriors_

    def answer_model(self, *, shrink: float = SHRINK) -> AnswerModel:
        """What the fit learned of each person, shrunk towards the crowd by ``shrink`` (see
        :mod:`labelloop.quality.aggregation.posterior`)."""
        self._check_fitted()
        return self._answer_model(shrink)

    def posterior(self, votes: Mapping[Any, Any], *, shrink: float = SHRINK) -> Posterior:
        """The posterior of a new item given its ``votes`` (annotator → label)."""
        return self.answer_model(shrink=shrink).posterior(votes)

    def _answer_model(self, shrink: float) -> AnswerModel:
        """Every vote counts one (majority vote); subclasses that learn more say so."""
        return AnswerModel(labels=tuple(self.label_ids_.tolist()))

    def results(self) -> dict[str, np.ndarray]:
        """The result as a long table: columns ``item``, ``label`` and its ``posterior``."""
        self._check_fitted()
        # labels_ holds an argmax of each row, so its posterior is the row's maximum
        return {
            "item": self.item_ids_,
            "label": self.labels_,
            "posterior": self.posteriors_.max(axis=1),
        }

    def _check_fitted(self) -> None:
        if not hasattr(self, "posteriors_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet: call "
                "fit(items, annotators, labels) first."
            )

    def _validate_params(self) -> None:
        """Raise ``ValueError`` (pattern of :mod:`labelloop._validation`) for a bad parameter."""

    @abstractmethod
    def _fit(self, table: LongTable) -> np.ndarray:
        """Learn from ``table``; return posteriors, shape (n_items, n_labels), rows summing to 1."""


def check_positive(owner: str, name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``value`` if it is a real number > 0 (>= 0 with ``allow_zero``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a float {bound}. Got {value!r} instead."
        )
    return float(value)


def argmax_ties(scores: np.ndarray, random_state: int | np.random.Generator | None) -> np.ndarray:
    """Index of each row's maximum; ties (within 1e-12) broken uniformly at random."""
    top = scores >= scores.max(axis=1, keepdims=True) - 1e-12
    if not (top.sum(axis=1) > 1).any():
        return np.asarray(scores.argmax(axis=1))
    noise = np.random.default_rng(random_state).random(scores.shape)
    return np.asarray(np.where(top, noise + 1.0, 0.0).argmax(axis=1))


def answer_matrix(table: LongTable) -> sp.csr_array:
    """(n_items, n_annotators × n_labels) counts: column ``a * n_labels + l`` is "a said l"."""
    k = table.n_labels
    return sp.csr_array(
        (
            np.ones(len(table.items)),
            (table.items, table.annotators * k + table.labels),
        ),
        shape=(table.n_items, table.n_annotators * k),
    )


def normalise_log(log_scores: np.ndarray) -> np.ndarray:
    """Rows of ``exp(log_scores)`` scaled to sum to 1, computed stably."""
    shifted = np.exp(log_scores - log_scores.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def vote_shares(counts: np.ndarray) -> np.ndarray:
    """Rows of (weighted) vote counts as shares; an item with no weight gets a uniform row."""
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / counts.shape[1])
    return np.divide(counts, totals, out=uniform, where=totals > 0)


def expected_accuracy(table: LongTable, posteriors: np.ndarray) -> np.ndarray:
    """Per annotator code: the mean posterior probability of the labels they gave."""
    agreed = np.bincount(
        table.annotators,
        weights=posteriors[table.items, table.labels],
        minlength=table.n_annotators,
    )
    return np.asarray(agreed / np.bincount(table.annotators, minlength=table.n_annotators))

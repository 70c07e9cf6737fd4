"""The posterior of a new item's answers, given what a fit learned of each person.

A fitted aggregator gives an :class:`AnswerModel` (:meth:`Aggregator.answer_model`): per person,
either a confusion matrix (Dawid-Skene; one-coin as a confusion with one accuracy) or a vote
weight (majority vote, Wawa). Each person's estimate is shrunk towards the crowd's: with ``n``
answers in the fit they get ``n / (n + shrink)`` of their own and the rest of the crowd's, so one
lucky answer makes nobody an oracle; a person the fit has not seen counts as the crowd.
:meth:`AnswerModel.posterior` then scores one item's votes in microseconds, with no EM run.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

#: Answers a person needs in the fit to get half their own estimate (the rest is the crowd's).
SHRINK = 10.0


class Posterior(NamedTuple):
    """Labels and their posterior probabilities (summing to 1), for one item."""

    labels: tuple[Hashable, ...]
    probabilities: np.ndarray

    def best(self) -> tuple[Hashable, float, bool]:
        """The most probable label, its probability, and whether another label ties it."""
        top = int(self.probabilities.argmax())
        p = float(self.probabilities[top])
        tied = int((self.probabilities >= p - 1e-12).sum()) > 1
        return self.labels[top], p, tied


@dataclass(frozen=True)
class AnswerModel:
    """How each person answers, as a fit learned it (see the module docstring).

    With ``likelihoods`` (``[a][k, l]`` = P(``a`` says ``l`` | truth ``k``) over ``labels``) the
    posterior is Bayesian under a flat prior; without, it is a vote weighted by ``weights``
    (``pooled_weight`` for people the fit has not seen), over any labels the votes name.
    """

    labels: tuple[Hashable, ...] = ()
    likelihoods: Mapping[Any, np.ndarray] | None = None
    pooled: np.ndarray | None = None
    weights: Mapping[Any, float] = field(default_factory=dict)
    pooled_weight: float = 1.0

    def posterior(self, votes: Mapping[Any, Any]) -> Posterior:
        """The posterior of one item given ``votes`` (annotator → label)."""
        if not votes:
            raise ValueError("The 'votes' of posterior must name at least one answer. Got none.")
        likelihoods, pooled = self.likelihoods, self.pooled
        if likelihoods is None or pooled is None:
            return self._vote(votes)
        index = {label: n for n, label in enumerate(self.labels)}
        unknown = sorted({str(v) for v in votes.values() if v not in index})
        if unknown:
            raise ValueError(
                f"The 'votes' of posterior must use the fitted labels {list(self.labels)}. "
                f"Got {unknown} instead."
            )
        # A flat prior: fitted early, on few shared items, EM can explain everything by one label
        # (priors of 0.04 / 0.96 on pure noise) and would settle items without evidence.
        log_post = np.zeros(len(self.labels))
        for annotator, label in votes.items():
            likelihood = likelihoods.get(annotator, pooled)
            log_post += np.log(likelihood[:, index[label]])
        post = np.exp(log_post - log_post.max())
        return Posterior(self.labels, post / post.sum())

    def _vote(self, votes: Mapping[Any, Any]) -> Posterior:
        labels = list(self.labels) + sorted(set(votes.values()) - set(self.labels), key=str)
        index = {label: n for n, label in enumerate(labels)}
        totals = np.zeros(len(labels))
        for annotator, label in votes.items():
            totals[index[label]] += self.weights.get(annotator, self.pooled_weight)
        if totals.sum() <= 0:
            return Posterior(tuple(labels), np.full(len(labels), 1.0 / len(labels)))
        return Posterior(tuple(labels), totals / totals.sum())


def shrunk(own: np.ndarray, counts: np.ndarray, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-person estimates ``own`` (first axis: people) shrunk towards their answer-weighted
    mean by ``counts``; returns (shrunk estimates, the crowd's estimate)."""
    n = np.asarray(counts, dtype=np.float64)
    keep = (n / (n + shrink)).reshape((-1,) + (1,) * (own.ndim - 1))
    crowd = np.average(own, axis=0, weights=n) if n.sum() else own.mean(axis=0)
    return keep * own + (1 - keep) * crowd, crowd


def confusion_model(
    labels: np.ndarray,
    annotators: np.ndarray,
    confusions: np.ndarray,
    counts: np.ndarray,
    shrink: float = SHRINK,
) -> AnswerModel:
    """An :class:`AnswerModel` of per-person ``confusions`` (n_annotators × k × k)."""
    people, crowd = shrunk(np.asarray(confusions, dtype=np.float64), counts, shrink)
    return AnswerModel(
        labels=tuple(labels.tolist()),
        likelihoods=dict(zip(annotators.tolist(), people, strict=True)),
        pooled=crowd,
    )


def one_coin_confusions(accuracies: np.ndarray, n_labels: int) -> np.ndarray:
    """Confusion matrices of people right with probability ``accuracies``, their errors spread
    evenly over the other labels."""
    acc = np.clip(np.asarray(accuracies, dtype=np.float64), 1e-6, 1 - 1e-6)
    eye = np.eye(n_labels)
    off = (1 - eye) / max(n_labels - 1, 1)
    return acc[:, None, None] * eye + (1 - acc)[:, None, None] * off


def weight_model(
    labels: np.ndarray,
    annotators: np.ndarray,
    weights: np.ndarray,
    counts: np.ndarray,
    shrink: float = SHRINK,
) -> AnswerModel:
    """An :class:`AnswerModel` of per-person vote ``weights``."""
    people, crowd = shrunk(np.asarray(weights, dtype=np.float64), counts, shrink)
    return AnswerModel(
        labels=tuple(labels.tolist()),
        weights=dict(zip(annotators.tolist(), people.tolist(), strict=True)),
        pooled_weight=float(crowd),
    )

"""The posterior of a new item's answers under a fitted aggregator."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.quality.aggregation import (
    AnswerModel,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Wawa,
)


def _history() -> tuple[list[int], list[str], list[str]]:
    """Two reliable people and one who always says the opposite, on 30 binary items."""
    items, people, labels = [], [], []
    for item in range(30):
        truth = "ab"[item % 2]
        for who, said in (("r1", truth), ("r2", truth), ("liar", "ba"[item % 2])):
            items.append(item)
            people.append(who)
            labels.append(said)
    return items, people, labels


@pytest.mark.parametrize("method", [DawidSkene, OneCoinDawidSkene, Wawa])
def test_a_reliable_persons_answer_outweighs_an_unreliable_one(method) -> None:
    fitted = method(random_state=0).fit(*_history())
    label, p, tied = fitted.posterior({"r1": "a", "liar": "b"}).best()
    assert label == "a" and p > 0.5 and not tied


def test_dawid_skene_posterior_matches_bayes_rule_with_its_confusions() -> None:
    fitted = DawidSkene(random_state=0).fit(*_history())
    post = fitted.posterior({"r1": "b", "liar": "a"}, shrink=0.0)
    r1, liar = (list(fitted.annotator_ids_).index(a) for a in ("r1", "liar"))
    b, a = (list(fitted.label_ids_).index(x) for x in ("b", "a"))
    joint = fitted.confusions_[r1][:, b] * fitted.confusions_[liar][:, a]
    np.testing.assert_allclose(post.probabilities, joint / joint.sum())
    assert post.labels == tuple(fitted.label_ids_)


def test_few_answers_lean_on_the_crowd_and_strangers_are_the_crowd() -> None:
    items, people, labels = _history()
    items.append(0)
    people.append("once")  # one answer: their own estimate is weak, the crowd's weighs in
    labels.append("a")
    fitted = DawidSkene(random_state=0).fit(items, people, labels)
    alone = fitted.posterior({"once": "b"}, shrink=0.0).best()[1]
    crowd = fitted.posterior({"nobody-seen": "b"}).best()[1]
    shrunk = fitted.posterior({"once": "b"}).best()[1]
    assert alone != crowd
    assert min(alone, crowd) < shrunk < max(alone, crowd)
    assert abs(shrunk - crowd) < abs(shrunk - alone), "1 answer against shrink 10: mostly crowd"
    pooled = fitted.answer_model().pooled
    np.testing.assert_allclose(
        fitted.posterior({"nobody-seen": "a"}).probabilities, pooled[:, 0] / pooled[:, 0].sum()
    )


def test_a_vote_without_a_fit_counts_every_answer_once_and_reports_ties() -> None:
    _, p, tied = AnswerModel().posterior({"x": "a", "y": "b"}).best()
    assert tied and p == 0.5
    assert AnswerModel().posterior({"x": "a", "y": "a", "z": "b"}).best() == ("a", 2 / 3, False)
    fitted = MajorityVote().fit([0, 0], ["x", "y"], ["a", "b"])
    assert fitted.posterior({"x": "b", "y": "b"}).best() == ("b", 1.0, False)


def test_weighted_majority_uses_its_weights() -> None:
    fitted = MajorityVote(weights={"x": 3.0, "y": 1.0}).fit([0, 0], ["x", "y"], ["a", "b"])
    assert fitted.posterior({"x": "a", "y": "b"}, shrink=0.0).best() == ("a", 0.75, False)


def test_votes_outside_the_fitted_labels_are_refused_by_name() -> None:
    fitted = DawidSkene(random_state=0).fit(*_history())
    with pytest.raises(ValueError, match=r"fitted labels \['a', 'b'\].*\['c'\]"):
        fitted.posterior({"r1": "c"})
    with pytest.raises(ValueError, match="at least one answer"):
        fitted.posterior({})

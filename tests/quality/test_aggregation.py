"""One contract suite over every registered aggregator, then behaviour tests per method.

Set ``LABELLOOP_TEST_SEED`` to run with another random seed; every test must pass for any.
"""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from labelloop.errors import ConfigError, NotFittedError
from labelloop.quality.aggregation import (
    AGGREGATORS,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Wawa,
    make_aggregator,
)

NAMES = sorted(AGGREGATORS)
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("LABELLOOP_TEST_SEED", "0"))


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def simulate(
    rng: np.random.Generator,
    confusions: np.ndarray,
    n_items: int = 400,
    per_item: tuple[int, int] = (3, 6),
    priors: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Answers drawn from ``confusions[a, truth, said]``; each item gets a random-size subset of
    annotators (unequal overlap). Returns item, annotator, label columns and the truth."""
    n_annotators, k, _ = confusions.shape
    truth = rng.choice(k, size=n_items, p=priors)
    items, annotators, labels = [], [], []
    for i in range(n_items):
        who = rng.choice(n_annotators, size=rng.integers(*per_item, endpoint=True), replace=False)
        for a in who:
            items.append(i)
            annotators.append(a)
            labels.append(rng.choice(k, p=confusions[a, truth[i]]))
    return np.array(items), np.array(annotators), np.array(labels), truth


def symmetric(accuracy: float, k: int) -> np.ndarray:
    """A confusion matrix with ``accuracy`` on the diagonal, errors spread evenly."""
    off = (1 - accuracy) / (k - 1)
    return np.full((k, k), off) + np.eye(k) * (accuracy - off)


def accuracy(est, truth: np.ndarray) -> float:
    return float((est.labels_ == truth[est.item_ids_]).mean())


@pytest.fixture
def small(rng: np.random.Generator) -> tuple[list[str], list[str], list[str]]:
    """String ids and labels; unequal overlap; item 'i9' answered by one annotator only."""
    confusions = np.stack([symmetric(p, 3) for p in (0.9, 0.8, 0.7, 0.6)])
    items, annotators, labels, _ = simulate(rng, confusions, n_items=30, per_item=(1, 4))
    names = np.array(["cat", "dog", "eel"])
    return (
        [*(f"i{i}" for i in items), "i99"],
        [*(f"ann-{a}" for a in annotators), "ann-0"],
        [*names[labels].tolist(), "dog"],
    )


# --- the contract every registered aggregator keeps -------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_init_only_stores_parameters_and_clones(name: str):
    est = make_aggregator(name, random_state=3)
    assert est.get_params()["random_state"] == 3
    assert not [v for v in vars(est) if v.endswith("_")]
    assert clone(est).get_params() == est.get_params()


@pytest.mark.parametrize("name", NAMES)
def test_use_before_fit_raises_not_fitted(name: str):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        make_aggregator(name).results()


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_output_is_indexed_by_item(name: str, small, seed: int):
    items, annotators, labels = small
    est = make_aggregator(name, random_state=seed)
    assert est.fit(items, annotators, labels) is est
    assert est.item_ids_.tolist() == sorted(set(items))
    assert est.annotator_ids_.tolist() == sorted(set(annotators))
    assert est.label_ids_.tolist() == ["cat", "dog", "eel"]
    n_items = len(est.item_ids_)
    assert est.posteriors_.shape == (n_items, 3)
    assert est.labels_.shape == (n_items,)
    out = est.results()
    assert list(out) == ["item", "label", "posterior"]
    assert out["item"].tolist() == est.item_ids_.tolist()
    assert out["label"].tolist() == est.labels_.tolist()
    assert set(est.labels_.tolist()) <= {"cat", "dog", "eel"}


@pytest.mark.parametrize("name", NAMES)
def test_posteriors_are_distributions_and_labels_their_argmax(name: str, small, seed: int):
    est = make_aggregator(name, random_state=seed).fit(*small)
    post = est.posteriors_
    assert np.isfinite(post).all() and (post >= 0).all()
    np.testing.assert_allclose(post.sum(axis=1), 1.0, atol=1e-9)
    chosen = np.searchsorted(est.label_ids_, est.labels_)
    np.testing.assert_allclose(post[np.arange(len(post)), chosen], post.max(axis=1))
    np.testing.assert_allclose(est.results()["posterior"], post.max(axis=1))


@pytest.mark.parametrize("name", NAMES)
def test_unanimous_items_get_their_label(name: str, small, seed: int):
    items, annotators, labels = small
    items = [*items, "u", "u", "u"]
    annotators = [*annotators, "ann-0", "ann-1", "ann-2"]
    labels = [*labels, "eel", "eel", "eel"]
    est = make_aggregator(name, random_state=seed).fit(items, annotators, labels)
    assert est.labels_[est.item_ids_.tolist().index("u")] == "eel"


@pytest.mark.parametrize("name", NAMES)
def test_single_annotator_per_item(name: str, rng: np.random.Generator, seed: int):
    confusions = np.stack([symmetric(0.8, 2)] * 3)
    items, annotators, labels, _ = simulate(rng, confusions, n_items=50, per_item=(1, 1))
    est = make_aggregator(name, random_state=seed).fit(items, annotators, labels)
    # with one answer per item and no evidence against it, every method keeps the answer
    assert (est.labels_ == labels[np.argsort(items)]).all()


@pytest.mark.parametrize("name", NAMES)
def test_single_label_and_single_annotator(name: str):
    est = make_aggregator(name, random_state=0).fit(["a", "b"], ["w", "w"], ["x", "x"])
    assert est.labels_.tolist() == ["x", "x"]
    np.testing.assert_allclose(est.posteriors_, 1.0)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_with_a_seed(name: str, rng: np.random.Generator, seed: int):
    # an even number of binary answers per item makes ties, which the seed must break
    confusions = np.stack([symmetric(0.6, 2)] * 6)
    columns = simulate(rng, confusions, n_items=200, per_item=(2, 2))[:3]
    first = make_aggregator(name, random_state=seed).fit(*columns)
    second = make_aggregator(name, random_state=seed).fit(*columns)
    assert (first.labels_ == second.labels_).all()
    np.testing.assert_array_equal(first.posteriors_, second.posteriors_)


@pytest.mark.parametrize("name", NAMES)
def test_label_ids_fix_the_label_set_and_order(name: str, small, seed: int):
    est = make_aggregator(name, random_state=seed)
    est.fit(*small, label_ids=["eel", "dog", "cat", "yak"])
    assert est.label_ids_.tolist() == ["eel", "dog", "cat", "yak"]
    assert est.posteriors_.shape[1] == 4
    assert "yak" not in est.labels_.tolist()
    with pytest.raises(ConfigError, match="not in the label set"):
        est.fit(*small, label_ids=["cat", "dog"])


@pytest.mark.parametrize("name", NAMES)
def test_bad_tables_raise_config_error(name: str):
    est = make_aggregator(name)
    with pytest.raises(ConfigError, match="empty"):
        est.fit([], [], [])
    with pytest.raises(ConfigError, match="differ in length"):
        est.fit(["a"], ["w", "v"], ["x"])


@pytest.mark.parametrize("name", NAMES)
def test_integer_ids_and_labels(name: str, rng: np.random.Generator, seed: int):
    confusions = np.stack([symmetric(0.85, 4)] * 5)
    items, annotators, labels, truth = simulate(rng, confusions, n_items=200, per_item=(4, 5))
    est = make_aggregator(name, random_state=seed).fit(items + 1000, annotators, labels)
    assert est.item_ids_.tolist() == sorted(set((items + 1000).tolist()))
    assert accuracy_offset(est, truth, 1000) > 0.85


def accuracy_offset(est, truth: np.ndarray, offset: int) -> float:
    return float((est.labels_ == truth[est.item_ids_ - offset]).mean())


def test_make_aggregator_names_the_known_ones():
    known = "Unknown aggregator 'glad'. Known: dawid-skene, majority, one-coin, wawa"
    with pytest.raises(ValueError, match=known):
        make_aggregator("glad")
    assert isinstance(make_aggregator("dawid-skene", alpha=0.5), DawidSkene)


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (DawidSkene, {"max_iter": 0}, "The 'max_iter' parameter of DawidSkene must be an int >= 1"),
        (DawidSkene, {"tol": -1.0}, "The 'tol' parameter of DawidSkene must be a float > 0"),
        (DawidSkene, {"alpha": -0.1}, "The 'alpha' parameter of DawidSkene must be a float >= 0"),
        (OneCoinDawidSkene, {"alpha": float("nan")}, "'alpha' parameter of OneCoinDawidSkene"),
        (MajorityVote, {"weights": {"w": -1.0}}, "'weights' parameter of MajorityVote"),
        (MajorityVote, {"weights": {"v": 1.0}}, "Got none for 'w' instead"),
    ],
)
def test_bad_parameters_are_named_when_fitting(cls, params, message):
    est = cls(**params)  # __init__ does not validate
    with pytest.raises(ValueError, match=message):
        est.fit(["a", "b"], ["w", "w"], ["x", "y"])


# --- majority and weighted vote ---------------------------------------------------------------


def test_majority_posterior_is_the_vote_share():
    est = MajorityVote(random_state=0).fit(
        ["a", "a", "a", "b", "b"], ["1", "2", "3", "1", "2"], ["x", "x", "y", "y", "y"]
    )
    np.testing.assert_allclose(est.posteriors_, [[2 / 3, 1 / 3], [0, 1]])
    assert est.labels_.tolist() == ["x", "y"]


def test_majority_ties_are_broken_at_random_by_the_seed():
    items = np.repeat(np.arange(200), 2)
    annotators = np.tile(["p", "q"], 200)
    labels = np.tile(["x", "y"], 200)
    chosen = {
        tuple(MajorityVote(random_state=s).fit_predict(items, annotators, labels)) for s in (1, 2)
    }
    assert len(chosen) == 2  # different seeds, different tie-breaks
    shares = [
        (MajorityVote(random_state=s).fit_predict(items, annotators, labels) == "x").mean()
        for s in (1, 2)
    ]
    assert all(0.35 < share < 0.65 for share in shares)


def test_weighted_vote_follows_the_weights():
    items, annotators, labels = ["a"] * 3, ["expert", "n1", "n2"], ["x", "y", "y"]
    plain = MajorityVote(random_state=0).fit(items, annotators, labels)
    weighted = MajorityVote(weights={"expert": 3.0, "n1": 1.0, "n2": 1.0}).fit(
        items, annotators, labels
    )
    assert plain.labels_.tolist() == ["y"]
    assert weighted.labels_.tolist() == ["x"]
    np.testing.assert_allclose(weighted.posteriors_, [[0.6, 0.4]])
    np.testing.assert_allclose(weighted.weights_, [3.0, 1.0, 1.0])


def test_wawa_skills_are_agreement_with_the_majority():
    est = Wawa(random_state=0).fit(
        ["a", "a", "a", "b", "b", "b"],
        ["good", "ok", "odd", "good", "ok", "odd"],
        ["x", "x", "y", "y", "y", "x"],
    )
    np.testing.assert_allclose(est.skills_, [1.0, 0.0, 1.0])  # annotator_ids_ sorted
    assert est.annotator_ids_.tolist() == ["good", "odd", "ok"]


# --- EM methods -------------------------------------------------------------------------------


def spam_confusions() -> np.ndarray:
    """Three classes: four decent annotators, one who always says class 0, one adversary."""
    good = [symmetric(p, 3) for p in (0.85, 0.8, 0.75, 0.7)]
    spammer = np.zeros((3, 3))
    spammer[:, 0] = 1.0
    adversary = np.roll(np.eye(3), 1, axis=1) * 0.9 + 0.1 / 3  # says (k + 1) mod 3
    adversary /= adversary.sum(axis=1, keepdims=True)
    return np.stack([*good, spammer, adversary])


def test_dawid_skene_recovers_known_confusion_matrices(rng: np.random.Generator, seed: int):
    truth_conf = spam_confusions()
    items, annotators, labels, truth = simulate(rng, truth_conf, n_items=1500, per_item=(4, 6))
    est = DawidSkene(random_state=seed).fit(items, annotators, labels)
    assert est.confusions_.shape == (6, 3, 3)
    np.testing.assert_allclose(est.confusions_.sum(axis=2), 1.0)
    assert np.abs(est.confusions_ - truth_conf).max() < 0.08
    assert est.confusions_[4, :, 0].min() > 0.95  # the spammer: class 0 whatever the truth
    assert accuracy(est, truth) > 0.95
    assert est.n_iter_ < est.max_iter
    assert est.skills_.shape == (6,) and est.skills_[5] < 0.2


def test_dawid_skene_smoothing_keeps_unseen_labels_above_zero():
    # annotator "w" never says "z" and never sees a "z" item
    est = DawidSkene().fit(
        ["a", "a", "b", "b", "c"], ["w", "v", "w", "v", "v"], ["x", "x", "y", "y", "z"]
    )
    assert (est.confusions_ > 0).all()
    assert np.isfinite(np.log(est.confusions_)).all()
    assert est.labels_.tolist() == ["x", "y", "z"]
    np.testing.assert_allclose(est.priors_.sum(), 1.0)


@pytest.mark.parametrize("name", ["dawid-skene", "one-coin"])
def test_em_beats_majority_with_spammers_and_adversaries(name, rng, seed):
    # binary: four good annotators, three who mostly flip the label; the majority is weak
    confusions = np.stack([symmetric(0.8, 2)] * 4 + [symmetric(0.15, 2)] * 3)
    items, annotators, labels, truth = simulate(rng, confusions, n_items=600, per_item=(5, 7))
    majority = accuracy(MajorityVote(random_state=seed).fit(items, annotators, labels), truth)
    em = make_aggregator(name, random_state=seed).fit(items, annotators, labels)
    assert accuracy(em, truth) > majority + 0.1
    assert accuracy(em, truth) > 0.9
    assert em.skills_[4:].max() < 0.3 < 0.6 < em.skills_[:4].min()


def test_dawid_skene_beats_majority_with_a_class_spammer(rng: np.random.Generator, seed: int):
    items, annotators, labels, truth = simulate(rng, spam_confusions(), n_items=800)
    majority = accuracy(MajorityVote(random_state=seed).fit(items, annotators, labels), truth)
    ds = accuracy(DawidSkene(random_state=seed).fit(items, annotators, labels), truth)
    assert ds > majority + 0.05


def test_one_coin_learns_accuracies(rng: np.random.Generator, seed: int):
    accuracies = np.array([0.95, 0.85, 0.7, 0.55, 0.4])
    confusions = np.stack([symmetric(p, 4) for p in accuracies])
    items, annotators, labels, _ = simulate(rng, confusions, n_items=1500, per_item=(3, 5))
    est = OneCoinDawidSkene(random_state=seed).fit(items, annotators, labels)
    np.testing.assert_allclose(est.skills_, accuracies, atol=0.05)


@pytest.mark.parametrize("name", ["dawid-skene", "one-coin"])
def test_em_records_whether_and_when_it_converged(name: str, rng: np.random.Generator, seed):
    items, annotators, labels, _ = simulate(rng, spam_confusions(), n_items=300)
    done = make_aggregator(name, random_state=seed).fit(items, annotators, labels)
    assert done.converged_ is True and 1 < done.n_iter_ < done.max_iter
    cut = make_aggregator(name, max_iter=2, random_state=seed).fit(items, annotators, labels)
    assert cut.converged_ is False and cut.n_iter_ == 2
    loose = make_aggregator(name, tol=1.0, random_state=seed).fit(items, annotators, labels)
    assert loose.converged_ is True and loose.n_iter_ < done.n_iter_
    refit = clone(cut).fit(items, annotators, labels)  # learned state is not a parameter
    assert (refit.n_iter_, refit.converged_) == (2, False)


def test_one_label_converges_at_once():
    est = OneCoinDawidSkene().fit(["a", "b"], ["w", "v"], ["x", "x"])
    assert (est.n_iter_, est.converged_) == (1, True)


def test_parameters_follow_the_estimator_contract_without_scikit_learn():
    est = DawidSkene(alpha=0.5)
    assert repr(est) == "DawidSkene(alpha=0.5)"
    assert est.set_params(max_iter=7, tol=1e-3) is est
    assert est.get_params() == {"alpha": 0.5, "max_iter": 7, "random_state": None, "tol": 1e-3}
    with pytest.raises(ValueError, match="Invalid parameter 'smoothing' for DawidSkene"):
        est.set_params(smoothing=1.0)


# --- against crowd-kit on real data -----------------------------------------------------------


def read_long(path: Path) -> tuple[list[str], list[str], list[str]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


@pytest.mark.parametrize("name", NAMES)
def test_at_least_as_accurate_as_crowdkit_on_duck(name: str, seed: int):
    crowdkit = pytest.importorskip("crowdkit.aggregation")
    import pandas as pd

    folder = DATA / "zheng_d_duck"
    if not (folder / "answer.csv").exists():
        pytest.skip(f"no {folder}")
    items, annotators, labels = read_long(folder / "answer.csv")
    with (folder / "truth.csv").open(newline="") as f:
        truth = {row[0]: row[1] for row in list(csv.reader(f))[1:]}
    frame = pd.DataFrame({"task": items, "worker": annotators, "label": labels})
    with warnings.catch_warnings():  # crowd-kit 1.4.2 uses pandas idioms pandas 3 deprecates
        warnings.simplefilter("ignore")
        if name == "wawa":  # crowd-kit 1.4.2's Wawa.predict trips on scikit-learn >= 1.6
            skills = crowdkit.Wawa().fit(frame).skills_
            theirs = crowdkit.MajorityVote().fit(frame, skills=skills).labels_
        else:
            cls = {
                "majority": crowdkit.MajorityVote,
                "one-coin": crowdkit.OneCoinDawidSkene,
                "dawid-skene": crowdkit.DawidSkene,
            }[name]
            theirs = cls().fit_predict(frame)
    ours = make_aggregator(name, random_state=seed).fit(items, annotators, labels)
    mine = dict(zip(ours.item_ids_.tolist(), ours.labels_.tolist(), strict=True))
    their_acc = np.mean([theirs[i] == t for i, t in truth.items()])
    our_acc = np.mean([mine[i] == t for i, t in truth.items()])
    assert our_acc >= their_acc

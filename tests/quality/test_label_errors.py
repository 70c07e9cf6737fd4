"""Label errors: honest out-of-fold probabilities, ranked suspects, multi-annotator quality."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from labelloop.errors import ConfigError, ModelError
from labelloop.learn.models import LogisticModel
from labelloop.quality.label_errors import (
    find_label_errors,
    multi_annotator_quality,
    out_of_fold_probabilities,
)


def _blobs(seed: int, n: int = 600, k: int = 3, flip: float = 0.08):
    """Separable Gaussian blobs with a fraction of labels flipped to another class."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, size=n)
    centres = rng.normal(scale=4.0, size=(k, 5))
    X = centres[truth] + rng.normal(size=(n, 5))
    given = truth.copy()
    flipped = rng.choice(n, size=int(flip * n), replace=False)
    given[flipped] = (truth[flipped] + rng.integers(1, k, size=len(flipped))) % k
    return X, truth, given, flipped


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flipped_labels_dominate_the_top_of_the_ranking(seed):
    X, truth, given, flipped = _blobs(seed)
    probs = out_of_fold_probabilities(
        X, given, make_model=lambda: LogisticModel(3, random_state=seed), random_state=seed
    )
    suspects = find_label_errors(given, probs)
    k = len(flipped) // 2
    precision_at_k = np.isin(suspects.indices[:k], flipped).mean()
    assert precision_at_k >= 0.9
    recall = np.isin(flipped, suspects.indices).mean()
    assert recall >= 0.7
    assert np.all(np.diff(suspects.scores) >= 0)  # lowest quality first
    assert np.array_equal(suspects.given, given[suspects.indices])
    assert np.array_equal(suspects.suggested, probs[suspects.indices].argmax(axis=1))
    # the suggestion recovers the true label for most confirmed flips
    hit = np.isin(suspects.indices, flipped)
    assert (suspects.suggested[hit] == truth[suspects.indices[hit]]).mean() >= 0.9


def test_oof_probabilities_are_honest_where_in_sample_memorises():
    X, _, given, _ = _blobs(0, flip=0.15)

    def one_nn():
        return KNeighborsClassifier(n_neighbors=1)

    in_sample = one_nn().fit(X, given).predict_proba(X)
    assert (in_sample.argmax(axis=1) == given).mean() == 1.0
    oof = out_of_fold_probabilities(X, given, make_model=one_nn, random_state=0)
    assert oof.shape == (len(given), 3)
    assert np.allclose(oof.sum(axis=1), 1.0)
    assert (oof.argmax(axis=1) == given).mean() < 0.9


def test_oof_columns_stay_aligned_when_a_fold_lacks_a_class():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(20, int), np.ones(20, int), [2, 2]]  # class 2 rarer than n_splits
    X = rng.normal(size=(len(y), 2)) + 3 * y[:, None]
    oof = out_of_fold_probabilities(
        X, y, make_model=lambda: KNeighborsClassifier(n_neighbors=1), n_classes=4, random_state=0
    )
    assert oof.shape == (42, 4)
    assert np.allclose(oof.sum(axis=1), 1.0)
    assert np.all(oof[:, 3] < 1e-5)  # never seen: only the absent-class floor
    assert (oof[:40].argmax(axis=1) == y[:40]).mean() > 0.9


def test_oof_is_reproducible_for_a_random_state():
    X, _, given, _ = _blobs(3, n=120)
    runs = [
        out_of_fold_probabilities(
            X, given, make_model=lambda: LogisticModel(3), n_splits=3, random_state=7
        )
        for _ in range(2)
    ]
    assert np.array_equal(runs[0], runs[1])


def test_oof_rejects_a_model_with_unexplained_columns():
    class TwoColumns:
        def fit(self, X, y):
            return self

        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5)

    X, _, given, _ = _blobs(0, n=60)
    with pytest.raises(ModelError, match="classes_"):
        out_of_fold_probabilities(X, given, make_model=TwoColumns)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"labels": [0, 1, 1]}, ModelError, "labels has 3 rows but probs has 4"),
        ({"labels": [0, 1, 5, 0]}, ModelError, r"\[0, 2\). Got 5 at row 2"),
        ({"labels": [0.5, 1, 1, 0]}, ModelError, "integer class indices"),
        ({"probs": [[0.5, 0.6]] * 4}, ModelError, "row 0 sums to 1.1"),
        ({"probs": [0.5, 0.5]}, ModelError, r"\(n, k >= 2\) matrix"),
        ({"filter_by": "nope"}, ValueError, "'filter_by' parameter of find_label_errors"),
        ({"frac_noise": 1.5}, ValueError, "'frac_noise'"),
    ],
)
def test_find_label_errors_explains_bad_input(kwargs, error, match):
    args = {"labels": [0, 1, 1, 0], "probs": [[0.9, 0.1]] * 4} | kwargs
    labels, probs = args.pop("labels"), args.pop("probs")
    with pytest.raises(error, match=match):
        find_label_errors(labels, probs, **args)


def test_oof_explains_bad_input():
    X = np.zeros((4, 2))
    with pytest.raises(ModelError, match="X has 4 rows but labels has 3"):
        out_of_fold_probabilities(X, [0, 1, 0], make_model=lambda: LogisticModel(2))
    with pytest.raises(ModelError, match="needs at least 5 rows"):
        out_of_fold_probabilities(X, [0, 1, 0, 1], make_model=lambda: LogisticModel(2))
    with pytest.raises(ValueError, match="'n_splits' parameter"):
        out_of_fold_probabilities(X, [0, 1, 0, 1], make_model=lambda: LogisticModel(2), n_splits=1)


def _crowd(seed: int, n: int = 150, k: int = 3):
    """Four careful annotators (90 %, 80 % coverage each) and one careless one (35 %, all items)."""
    rng = np.random.default_rng(seed)
    names = np.array(["cat", "dog", "eel"])
    truth = rng.integers(0, k, size=n)
    items, annotators, labels = [], [], []
    for a, accuracy in enumerate([0.9, 0.9, 0.9, 0.9, 0.35]):
        for i in range(n):
            if a == 4 or rng.random() < 0.8:
                right = rng.random() < accuracy
                label = truth[i] if right else (truth[i] + rng.integers(1, k)) % k
                items.append(f"item-{i:03d}")
                annotators.append(f"ann-{a}")
                labels.append(names[label])
    probs = np.full((n, k), 0.25)
    probs[np.arange(n), truth] = 0.5  # a weak but honest model
    return items, annotators, labels, probs, names[truth]


@pytest.mark.parametrize("seed", [0, 1])
def test_multi_annotator_quality_finds_consensus_and_the_careless_annotator(seed):
    items, annotators, labels, probs, truth = _crowd(seed)
    result = multi_annotator_quality(items, annotators, labels, probs)
    assert result.item_ids.tolist() == sorted(set(items))
    assert result.consensus.shape == result.consensus_quality.shape == (150,)
    assert (result.consensus == truth).mean() > 0.95
    assert np.all((result.consensus_quality >= 0) & (result.consensus_quality <= 1))
    assert result.annotator_ids.tolist() == [f"ann-{a}" for a in range(5)]
    assert result.annotator_ids[np.argmin(result.annotator_quality)] == "ann-4"


def test_multi_annotator_quality_explains_bad_input():
    items, annotators, labels, probs, _ = _crowd(0)
    with pytest.raises(ModelError, match=r"expected \(150, 3\)"):
        multi_annotator_quality(
            items, annotators, labels, probs[:, :2] / probs[:, :2].sum(1)[:, None]
        )
    with pytest.raises(ConfigError, match="more than once"):
        multi_annotator_quality(
            items + items[:1], annotators + annotators[:1], labels + labels[:1], probs
        )
    with pytest.raises(ConfigError, match="differ in length"):
        multi_annotator_quality(items, annotators[:-1], labels, probs)

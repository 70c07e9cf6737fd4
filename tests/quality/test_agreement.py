"""Agreement measures: published reference values, the krippendorff and scikit-learn oracles."""

from __future__ import annotations

import csv
import os
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from labelloop.errors import ConfigError
from labelloop.quality.agreement import (
    alpha_interval,
    bootstrap_interval,
    by_slice,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_cohen,
    per_label_agreement,
)
from labelloop.quality.long_table import encode

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def reference_dir() -> Path:
    """``agreement_reference`` under ``$LABELLOOP_DATA`` or ``<repo>/../shared/data``, or skip."""
    env = os.environ.get("LABELLOOP_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "data"
    folder = root / "agreement_reference"
    if not folder.is_dir():
        pytest.skip(f"agreement reference data not found at {folder}")
    return folder


def read_reliability(name: str) -> tuple[list[str], list[str], list[int]]:
    """A coders x units CSV (blank = missing) as a long table."""
    with open(reference_dir() / name, newline="") as f:
        header, *rows = csv.reader(f)
    items, annotators, labels = [], [], []
    for coder, *values in rows:
        for unit, value in zip(header[1:], values, strict=True):
            if value:
                items.append(unit)
                annotators.append(coder)
                labels.append(int(value))
    return items, annotators, labels


def random_table(
    seed: int, n_items: int = 60, n_annotators: int = 6, missing: float = 0.4, noise: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Long table of noisy copies of a true label from {1, 2, 4, 7, 11}, some cells missing."""
    rng = np.random.default_rng(seed)
    values = np.array([1, 2, 4, 7, 11])
    truth = rng.integers(len(values), size=n_items)
    item, annotator = np.meshgrid(np.arange(n_items), np.arange(n_annotators), indexing="ij")
    shift = rng.integers(-1, 2, size=item.shape) * (rng.random(item.shape) < noise)
    label = values[np.clip(truth[:, None] + shift, 0, len(values) - 1)]
    present = rng.random(item.shape) >= missing
    return item[present], annotator[present], label[present]


def reliability_matrix(items, annotators, labels) -> np.ndarray:
    """(n_annotators, n_items) matrix with NaN for missing, for the krippendorff package."""
    table = encode(items, annotators, labels)
    data = np.full((table.n_annotators, table.n_items), np.nan)
    data[table.annotators, table.items] = labels
    return data


# ---------------------------------------------------------------- published reference values


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_alpha_reproduces_krippendorff_2011(level: str, expected: float) -> None:
    table = read_reliability("krippendorff2011_example.csv")
    assert krippendorff_alpha(*table, level=level) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.691), ("interval", 0.811)])
def test_alpha_reproduces_wikipedia_example(level: str, expected: float) -> None:
    table = read_reliability("wikipedia_krippendorff_example.csv")
    assert krippendorff_alpha(*table, level=level) == pytest.approx(expected, abs=5e-4)


def test_fleiss_reproduces_wikipedia_example() -> None:
    counts = np.loadtxt(
        reference_dir() / "wikipedia_fleiss_kappa_example.csv", delimiter=",", skiprows=1
    )[:, 1:].astype(np.int64)
    result = fleiss_kappa(counts)
    assert result.kappa == pytest.approx(0.210, abs=5e-4)
    assert result.p_bar == pytest.approx(0.378, abs=5e-4)
    assert result.p_e == pytest.approx(0.213, abs=5e-4)


# ---------------------------------------------------------------- oracles


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(5))
def test_alpha_matches_krippendorff_package_with_missing_values(level: str, seed: int) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    table = random_table(seed)
    expected = krippendorff.alpha(
        reliability_data=reliability_matrix(*table), level_of_measurement=level
    )
    assert krippendorff_alpha(*table, level=level) == pytest.approx(expected, abs=1e-10)


def test_alpha_ordinal_follows_label_order() -> None:
    krippendorff = pytest.importorskip("krippendorff")
    items, annotators, labels = random_table(7)
    names = np.array(["a", "b", "c", "d", "e"])[np.searchsorted([1, 2, 4, 7, 11], labels)]
    order = ["e", "c", "a", "b", "d"]
    codes = np.array([order.index(n) for n in names])
    expected = krippendorff.alpha(
        reliability_data=reliability_matrix(items, annotators, codes),
        level_of_measurement="ordinal",
    )
    ours = krippendorff_alpha(items, annotators, names, level="ordinal", label_order=order)
    assert ours == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", range(5))
def test_cohen_matches_sklearn(weights: str | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(5, size=200)
    b = np.where(rng.random(200) < 0.6, a, rng.integers(5, size=200))
    assert cohen_kappa(a, b, weights=weights) == pytest.approx(
        cohen_kappa_score(a, b, weights=weights), abs=1e-12
    )


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_label_order_matches_sklearn_labels(weights: str | None) -> None:
    rng = np.random.default_rng(0)
    a = rng.choice(["low", "mid", "high"], size=100)
    b = np.where(rng.random(100) < 0.5, a, rng.choice(["low", "mid", "high"], size=100))
    order = ["low", "mid", "high"]
    expected = cohen_kappa_score(a, b, labels=order, weights=weights)
    assert cohen_kappa(a, b, weights=weights, label_order=order) == pytest.approx(expected)


# ---------------------------------------------------------------- breakdowns


@pytest.mark.parametrize("weights", [None, "quadratic"])
def test_pairwise_cohen_is_cohen_on_shared_items(weights: str | None) -> None:
    items, annotators, labels = random_table(3, n_items=80, n_annotators=5)
    result = pairwise_cohen(items, annotators, labels, weights=weights, min_overlap=1)
    assert len(result.kappa) == 10
    for a, b, kappa, n in zip(
        result.annotator_a, result.annotator_b, result.kappa, result.n_items, strict=True
    ):
        by_a = dict(zip(items[annotators == a], labels[annotators == a], strict=True))
        by_b = dict(zip(items[annotators == b], labels[annotators == b], strict=True))
        shared = sorted(by_a.keys() & by_b.keys())
        assert a < b and n == len(shared)
        expected = cohen_kappa(
            [by_a[i] for i in shared],
            [by_b[i] for i in shared],
            weights=weights,
            label_order=[1, 2, 4, 7, 11],
        )
        assert kappa == pytest.approx(expected, abs=1e-12)


def test_pairwise_cohen_drops_pairs_below_min_overlap() -> None:
    items = [1, 1, 2, 2, 3, 3, 3]
    annotators = ["x", "y", "x", "y", "x", "y", "z"]
    labels = [0, 0, 1, 1, 0, 1, 1]
    result = pairwise_cohen(items, annotators, labels, min_overlap=2)
    assert list(zip(result.annotator_a, result.annotator_b, strict=True)) == [("x", "y")]
    assert list(result.n_items) == [3]


def test_per_label_agreement_is_one_vs_rest_alpha() -> None:
    items, annotators, labels = random_table(5)
    result = per_label_agreement(items, annotators, labels, label_order=[1, 2, 4, 7, 11, 99])
    assert list(result) == [1, 2, 4, 7, 11, 99]
    for label in [1, 2, 4, 7, 11]:
        expected = krippendorff_alpha(items, annotators, labels == label)
        assert result[label] == pytest.approx(expected, abs=1e-12)
    assert np.isnan(result[99])


def test_by_slice_computes_the_measure_per_slice() -> None:
    items, annotators, labels = random_table(2)
    slices = np.where(items % 2 == 0, "even", "odd")
    result = by_slice(krippendorff_alpha, slices, items, annotators, labels)
    odd = items % 2 == 1
    assert result.keys() == {"even", "odd"}
    assert result["odd"] == krippendorff_alpha(items[odd], annotators[odd], labels[odd])
    with pytest.raises(ConfigError, match="differ in length"):
        by_slice(krippendorff_alpha, slices[:-1], items, annotators, labels)


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_interval_contains_estimate_and_is_reproducible() -> None:
    table = random_table(0, n_items=200)
    measure = partial(krippendorff_alpha, level="interval")
    first = bootstrap_interval(measure, *table, n_resamples=200, random_state=42)
    assert first.estimate == krippendorff_alpha(*table, level="interval")
    assert first.low < first.estimate < first.high
    assert bootstrap_interval(measure, *table, n_resamples=200, random_state=42) == first
    generator = bootstrap_interval(
        measure, *table, n_resamples=200, random_state=np.random.default_rng(42)
    )
    assert generator == first
    assert bootstrap_interval(measure, *table, n_resamples=200, random_state=7) != first


def test_bootstrap_interval_narrows_with_more_items() -> None:
    small = bootstrap_interval(krippendorff_alpha, *random_table(1, n_items=50), random_state=0)
    large = bootstrap_interval(krippendorff_alpha, *random_table(1, n_items=800), random_state=0)
    assert large.high - large.low < 0.5 * (small.high - small.low)


def test_bootstrap_interval_validates_parameters() -> None:
    table = random_table(0)
    with pytest.raises(ValueError, match="'n_resamples' parameter of bootstrap_interval"):
        bootstrap_interval(krippendorff_alpha, *table, n_resamples=0)
    with pytest.raises(ValueError, match="'confidence' parameter of bootstrap_interval"):
        bootstrap_interval(krippendorff_alpha, *table, confidence=95)


@pytest.mark.parametrize("level", LEVELS)
def test_alpha_interval_is_the_bootstrap_of_alpha(level: str) -> None:
    """The weighted-coincidence resampling gives the generic bootstrap's interval exactly."""
    items, annotators, labels = random_table(3, n_items=300)
    fast = alpha_interval(items, annotators, labels, level=level, n_resamples=60, random_state=5)
    measure = partial(krippendorff_alpha, level=level)
    slow = bootstrap_interval(measure, items, annotators, labels, n_resamples=60, random_state=5)
    assert fast.estimate == pytest.approx(slow.estimate, abs=1e-12)
    assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high), abs=1e-12)
    assert fast.low < fast.estimate < fast.high


def test_alpha_interval_keeps_single_answer_items_in_the_draw() -> None:
    # Items with one answer cannot be paired, but they are drawn like any item, as the generic
    # bootstrap draws them: the intervals agree only if both count them.
    items, annotators, labels = random_table(4, n_items=200)
    lonely = np.arange(1000, 1100)
    items = np.concatenate([items, lonely])
    annotators = np.concatenate([annotators, np.full(100, annotators[0])])
    labels = np.concatenate([labels, labels[:100]])
    fast = alpha_interval(items, annotators, labels, n_resamples=40, random_state=1)
    slow = bootstrap_interval(
        krippendorff_alpha, items, annotators, labels, n_resamples=40, random_state=1
    )
    assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high), abs=1e-12)


def test_alpha_interval_validates_parameters() -> None:
    table = random_table(0)
    with pytest.raises(ValueError, match="'n_resamples' parameter of alpha_interval"):
        alpha_interval(*table, n_resamples=0)
    with pytest.raises(ValueError, match="'level' parameter of alpha_interval"):
        alpha_interval(*table, level="cardinal")
    with pytest.raises(ConfigError, match="no item has two or more annotations"):
        alpha_interval([1, 2], ["a", "b"], ["x", "y"])


# ---------------------------------------------------------------- missing values and errors


def test_nan_labels_count_as_missing() -> None:
    items, annotators, labels = random_table(4)
    with_nan = np.where(np.arange(len(labels)) % 5 == 0, np.nan, labels)
    kept = ~np.isnan(with_nan)
    assert krippendorff_alpha(items, annotators, with_nan) == krippendorff_alpha(
        items[kept], annotators[kept], labels[kept]
    )


def test_no_variation_gives_nan() -> None:
    assert np.isnan(krippendorff_alpha([1, 1, 2, 2], ["a", "b", "a", "b"], [3, 3, 3, 3]))
    assert np.isnan(cohen_kappa([1, 1], [1, 1]))
    assert np.isnan(fleiss_kappa(np.array([[3, 0], [3, 0]])).kappa)


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ConfigError, match="differ in length"):
        krippendorff_alpha([1, 2], ["a", "b"], [0])
    with pytest.raises(ConfigError, match="differ in length"):
        cohen_kappa([1, 2, 3], [1, 2])
    with pytest.raises(ConfigError, match="differ in length"):
        bootstrap_interval(krippendorff_alpha, [1, 2], ["a"], [0, 1])


def test_one_coder_only_raises() -> None:
    with pytest.raises(ConfigError, match=r"at least two annotators; got 1 \('a'\)"):
        krippendorff_alpha([1, 2, 3], ["a", "a", "a"], [0, 1, 0])
    with pytest.raises(ConfigError, match="at least two annotators"):
        pairwise_cohen([1, 2, 3], ["a", "a", "a"], [0, 1, 0])


def test_no_pairable_unit_raises() -> None:
    with pytest.raises(ConfigError, match="two or more annotations"):
        krippendorff_alpha([1, 2], ["a", "b"], [0, 1])


def test_unknown_level_and_weights_raise() -> None:
    with pytest.raises(ValueError, match="'level' parameter of krippendorff_alpha"):
        krippendorff_alpha([1, 1], ["a", "b"], [0, 1], level="nominall")
    with pytest.raises(ValueError, match="'weights' parameter of cohen_kappa"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")
    with pytest.raises(ValueError, match="'min_overlap' parameter of pairwise_cohen"):
        pairwise_cohen([1, 1], ["a", "b"], [0, 1], min_overlap=0)


def test_interval_level_needs_numeric_labels() -> None:
    with pytest.raises(ConfigError, match="numeric labels"):
        krippendorff_alpha([1, 1], ["a", "b"], ["x", "y"], level="interval")


def test_pairwise_cohen_rejects_repeated_annotation() -> None:
    with pytest.raises(ConfigError, match="'a' labelled item 1 more than once"):
        pairwise_cohen([1, 1, 1], ["a", "a", "b"], [0, 1, 0])


def test_fleiss_needs_equal_raters_per_item() -> None:
    with pytest.raises(ConfigError, match="same number of raters"):
        fleiss_kappa(np.array([[2, 1], [1, 1]]))
    with pytest.raises(ConfigError, match="at least two raters"):
        fleiss_kappa(np.array([[1, 0], [0, 1]]))
    with pytest.raises(ConfigError, match="integer matrix"):
        fleiss_kappa(np.array([0.5, 0.5]))

"""Tests for the exact confidence bounds behind auto-accept certification."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from labelloop.routing.bounds import alpha_for_attempt, clopper_pearson_upper, hypergeometric_upper


def _brute_force_upper(population: int, sample: int, errors: int, alpha: float) -> int:
    """The definition, checked D by D: the largest D with P(X <= errors | D) > alpha."""
    d = np.arange(population + 1)
    cdf = stats.hypergeom.cdf(errors, population, d, sample)
    return int(d[cdf > alpha].max())


# ---------------------------------------------------------------- clopper_pearson_upper


@pytest.mark.parametrize("alpha", [0.2, 0.05, 0.01, 0.001])
@pytest.mark.parametrize("n", [1, 2, 5, 10, 37, 100, 1000])
def test_clopper_pearson_matches_scipy_exact_interval(n: int, alpha: float) -> None:
    # The two-sided exact interval at 1 - 2*alpha has the one-sided bound at alpha as its top.
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n} & set(range(n + 1))):
        expected = (
            stats.binomtest(k, n).proportion_ci(confidence_level=1 - 2 * alpha, method="exact").high
        )
        assert float(clopper_pearson_upper(k, n, alpha)) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("n", [1, 3, 50, 10_000])
def test_clopper_pearson_all_errors_gives_one(n: int) -> None:
    assert float(clopper_pearson_upper(n, n, 0.05)) == 1.0


def test_clopper_pearson_is_vectorised() -> None:
    k = np.array([[0, 1, 2, 3], [10, 4, 0, 7]])
    n = np.array([10, 10, 20, 7])
    got = clopper_pearson_upper(k, n, 0.05)
    assert got.shape == (2, 4)
    for (i, j), value in np.ndenumerate(got):
        assert value == pytest.approx(float(clopper_pearson_upper(int(k[i, j]), int(n[j]), 0.05)))
    assert got[1, 0] == 1.0 and got[1, 3] == 1.0  # k == n
    # More errors in the same trials never lowers the bound.
    row = clopper_pearson_upper(np.arange(51), 50, 0.05)
    assert np.all(np.diff(row) > 0)


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1, True, "0.05"])
def test_clopper_pearson_rejects_bad_alpha(alpha: object) -> None:
    with pytest.raises(
        ValueError,
        match=r"The 'alpha' parameter of clopper_pearson_upper must be a float in \(0, 1\)\. Got",
    ):
        clopper_pearson_upper(1, 10, alpha)  # type: ignore[arg-type]


# ---------------------------------------------------------------- hypergeometric_upper


@pytest.mark.parametrize("alpha", [0.3, 0.05, 0.01])
@pytest.mark.parametrize("population", [1, 2, 3, 5, 8, 13, 21])
def test_hypergeometric_matches_brute_force(population: int, alpha: float) -> None:
    for sample in range(1, population + 1):
        for errors in range(sample + 1):
            got = hypergeometric_upper(population, sample, errors, alpha)
            assert got == _brute_force_upper(population, sample, errors, alpha), (
                population,
                sample,
                errors,
            )


def test_hypergeometric_is_monotone_in_errors_and_alpha() -> None:
    population, sample = 400, 60
    for alpha in (0.1, 0.05, 0.01):
        bounds = [hypergeometric_upper(population, sample, x, alpha) for x in range(sample + 1)]
        assert all(b >= x for x, b in enumerate(bounds))
        # Never more errors than the unseen items plus those seen.
        assert all(b <= population - sample + x for x, b in enumerate(bounds))
        assert np.all(np.diff(bounds) >= 0)
    for x in (0, 3, 20):
        loose = hypergeometric_upper(population, sample, x, 0.2)
        tight = hypergeometric_upper(population, sample, x, 0.01)
        assert tight >= loose


@pytest.mark.parametrize(("population", "errors"), [(1, 0), (1, 1), (10, 0), (10, 4), (500, 7)])
def test_hypergeometric_full_sample_is_exact(population: int, errors: int) -> None:
    assert hypergeometric_upper(population, population, errors, 0.05) == errors


def test_hypergeometric_never_looser_than_clopper_pearson() -> None:
    for population in (10, 100, 2000):
        for sample in np.unique(np.linspace(1, population, 9).round().astype(int)):
            for errors in np.unique(np.linspace(0, sample, 5).round().astype(int)):
                for alpha in (0.2, 0.05, 0.0125):
                    exact = hypergeometric_upper(population, int(sample), int(errors), alpha)
                    binomial = float(clopper_pearson_upper(errors, sample, alpha)) * population
                    assert exact <= binomial + 1e-9


@pytest.mark.parametrize(
    ("args", "name", "rule"),
    [
        ((0, 1, 0, 0.05), "population", "an int >= 1"),
        ((10.0, 1, 0, 0.05), "population", "an int >= 1"),
        ((True, 1, 0, 0.05), "population", "an int >= 1"),
        ((10, 0, 0, 0.05), "sample", "an int >= 1"),
        ((10, 2.5, 0, 0.05), "sample", "an int >= 1"),
        ((10, 5, -1, 0.05), "errors", "an int >= 0"),
        ((10, 5, 1, 0.0), "alpha", r"a float in \(0, 1\)"),
        ((10, 5, 1, 1.0), "alpha", r"a float in \(0, 1\)"),
    ],
)
def test_hypergeometric_rejects_bad_arguments(args: tuple, name: str, rule: str) -> None:
    pattern = rf"The '{name}' parameter of hypergeometric_upper must be {rule}\. Got .* instead\."
    with pytest.raises(ValueError, match=pattern):
        hypergeometric_upper(*args)


@pytest.mark.parametrize(("population", "sample", "errors"), [(10, 11, 0), (10, 5, 6)])
def test_hypergeometric_rejects_inconsistent_counts(
    population: int, sample: int, errors: int
) -> None:
    with pytest.raises(ValueError, match="errors <= sample <= population"):
        hypergeometric_upper(population, sample, errors, 0.05)


# ---------------------------------------------------------------- coverage


COVERAGE_CASES = [
    # (population, sample, true errors D, alpha)
    (50, 10, 5, 0.05),
    (200, 40, 3, 0.05),
    (1000, 100, 20, 0.05),
    (1000, 600, 60, 0.05),
    (5000, 300, 1, 0.1),
    (300, 150, 150, 0.025),
]


@pytest.mark.parametrize(("population", "sample", "true_d", "alpha"), COVERAGE_CASES)
def test_hypergeometric_exact_coverage(
    population: int, sample: int, true_d: int, alpha: float
) -> None:
    # P(bound < D) summed exactly over every possible sample error count.
    x = np.arange(sample + 1)
    pmf = stats.hypergeom.pmf(x, population, true_d, sample)
    misses = [
        p > 0 and hypergeometric_upper(population, sample, int(k), alpha) < true_d
        for k, p in zip(x, pmf, strict=True)
    ]
    assert pmf[np.array(misses)].sum() <= alpha + 1e-12


@pytest.mark.parametrize(("population", "sample", "true_d", "alpha"), COVERAGE_CASES)
def test_hypergeometric_monte_carlo_coverage(
    population: int, sample: int, true_d: int, alpha: float
) -> None:
    rng = np.random.default_rng(20240607 + population + sample + true_d)
    draws = 3000
    seen = rng.hypergeometric(true_d, population - true_d, sample, size=draws)
    bound = {int(k): hypergeometric_upper(population, sample, int(k), alpha) for k in set(seen)}
    miss_rate = np.mean([bound[int(k)] < true_d for k in seen])
    # Standard error at alpha = 0.1 over 3,000 draws is under 0.006.
    assert miss_rate <= alpha + 0.025


# ---------------------------------------------------------------- alpha_for_attempt


def test_alpha_for_attempt_spends_most_first_and_sums_below_budget() -> None:
    for confidence in (0.9, 0.95, 0.99):
        delta = 1 - confidence
        alphas = [alpha_for_attempt(confidence, t) for t in range(1, 51)]
        assert alphas[0] == pytest.approx(0.75 * delta)
        assert all(b == pytest.approx(a / 4) for a, b in itertools.pairwise(alphas))
        assert sum(alphas) <= delta + 1e-15  # delta * (1 - 0.25**50), delta in floating point


@pytest.mark.parametrize(
    ("confidence", "attempt", "name"), [(0.95, 0, "attempt"), (1.0, 1, "confidence")]
)
def test_alpha_for_attempt_rejects_bad_arguments(
    confidence: float, attempt: int, name: str
) -> None:
    with pytest.raises(ValueError, match=rf"The '{name}' parameter of alpha_for_attempt must be"):
        alpha_for_attempt(confidence, attempt)

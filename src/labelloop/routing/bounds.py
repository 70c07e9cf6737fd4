"""Exact confidence bounds for error counts and rates.

All bounds are one-sided upper bounds at level ``1 - alpha``: the probability that the true value
exceeds the bound is at most ``alpha``. SciPy's statistics are imported when a bound is first
computed: they cost about 50 MB and half a second, which a process that only hands out work
never needs.
"""

from __future__ import annotations

import numpy as np

from labelloop._validation import check_fraction, check_int


def clopper_pearson_upper(
    errors: int | np.ndarray, n: int | np.ndarray, alpha: float
) -> np.ndarray:
    """Upper Clopper-Pearson bound on a binomial rate after ``errors`` in ``n`` trials."""
    from scipy import stats

    check_fraction("clopper_pearson_upper", "alpha", alpha)
    k = np.asarray(errors, dtype=float)
    n = np.asarray(n, dtype=float)
    bound = stats.beta.ppf(1.0 - alpha, k + 1.0, np.maximum(n - k, 1e-12))
    return np.where(k >= n, 1.0, bound)


def hypergeometric_upper(population: int, sample: int, errors: int, alpha: float) -> int:
    """Upper bound on the number of errors in a finite population.

    A simple random sample of ``sample`` items drawn without replacement from ``population``
    held ``errors`` errors. Returns the largest error count ``D`` for which seeing ``errors`` or
    fewer still has probability above ``alpha``; the true count exceeds it with probability at most
    ``alpha``. Exact (no normal or binomial approximation); tighter than Clopper-Pearson when the
    sample is a large share of the population.
    """
    from scipy import stats

    check_int("hypergeometric_upper", "population", population, minimum=1)
    check_int("hypergeometric_upper", "sample", sample, minimum=1)
    check_int("hypergeometric_upper", "errors", errors, minimum=0)
    check_fraction("hypergeometric_upper", "alpha", alpha)
    if sample > population or errors > sample:
        raise ValueError(
            f"Need errors <= sample <= population. Got {errors}, {sample}, {population} instead."
        )
    # P(X <= errors | D) falls as D grows, so bisect for the last D where it stays above alpha.
    lo, hi = errors, population - (sample - errors)
    if stats.hypergeom.cdf(errors, population, hi, sample) > alpha:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if stats.hypergeom.cdf(errors, population, mid, sample) > alpha:
            lo = mid
        else:
            hi = mid
    return lo


def alpha_for_attempt(confidence: float, attempt: int, *, ratio: float = 0.25) -> float:
    """Error budget of the ``attempt``-th certification try (1-based).

    ``delta * (1 - ratio) * ratio**(attempt - 1)`` with ``delta = 1 - confidence``: the budgets
    sum to less than ``delta`` over any number of tries, so repeating a failed certification never
    breaks the overall guarantee (a union bound). Most of it goes to the first try, which is
    planned to pass.
    """
    check_fraction("alpha_for_attempt", "confidence", confidence)
    check_int("alpha_for_attempt", "attempt", attempt, minimum=1)
    check_fraction("alpha_for_attempt", "ratio", ratio)
    return (1.0 - confidence) * (1.0 - ratio) * ratio ** (attempt - 1)

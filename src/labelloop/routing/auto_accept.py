"""How many items the model may label alone while the finished dataset meets its target accuracy.

The guarantee comes from acceptance sampling of the auto-accept candidates themselves: a simple
random sample of the candidate set is labelled by people, and an exact hypergeometric bound on the
errors left in the rest must fit in the dataset's error budget. Calibrated confidences are used
only to *plan* (which threshold, how big a sample); they never enter the certificate, so a badly
calibrated model costs labels, not correctness. Human labels are taken as the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from labelloop._validation import check_fraction, check_int
from labelloop.routing.bounds import clopper_pearson_upper, hypergeometric_upper


@dataclass(frozen=True)
class AutoAcceptPlan:
    """The cheapest way, as far as the model's confidences tell, to finish the pool."""

    threshold: float
    n_candidates: int
    sample_size: int
    expected_errors: float
    allowed_errors: int
    humans_left: int

    @property
    def covers_pool(self) -> bool:
        """True when every remaining item is a candidate: time to certify."""
        return self.n_candidates > 0 and self.humans_left == self.sample_size


@dataclass(frozen=True)
class Certificate:
    """The outcome of one acceptance-sampling test."""

    passed: bool
    population: int
    sample_size: int
    sample_errors: int
    error_bound: int
    allowed_errors: int
    alpha: float


def allowed_errors(n_items: int, target_accuracy: float, *, already_bounded: int = 0) -> int:
    """Errors the finished dataset of ``n_items`` may hold, less what earlier rounds may hold."""
    check_int("allowed_errors", "n_items", n_items, minimum=0)
    check_fraction("allowed_errors", "target_accuracy", target_accuracy)
    return math.floor((1.0 - target_accuracy) * n_items + 1e-9) - already_bounded


def acceptance_test(
    population: int, sample_size: int, sample_errors: int, *, allowed: int, alpha: float
) -> Certificate:
    """Accept the unsampled candidates if, at level ``1 - alpha``, their errors fit ``allowed``.

    The sampled items themselves carry human labels, so only the ``D - sample_errors`` errors left
    among the others count, where ``D`` is the exact upper bound on the candidate set's errors.
    """
    bound = hypergeometric_upper(population, sample_size, sample_errors, alpha) - sample_errors
    return Certificate(
        passed=bound <= allowed,
        population=population,
        sample_size=sample_size,
        sample_errors=sample_errors,
        error_bound=bound,
        allowed_errors=allowed,
        alpha=alpha,
    )


def plan_auto_accept(
    confidence: np.ndarray,
    *,
    allowed: int,
    alpha: float,
    pass_probability: float = 0.8,
    max_prefixes: int = 400,
) -> AutoAcceptPlan:
    """Choose the threshold and audit-sample size that leave people the least work.

    ``confidence`` holds the calibrated confidence of the model's label for each unlabelled item
    that may be auto-accepted. For each candidate set (the ``a`` most confident items) the expected
    error rate is the mean of ``1 - confidence``; the audit sample is the smallest that passes
    :func:`acceptance_test` with probability ``pass_probability`` if that rate is right. The cost
    of a plan is the items left outside the set plus the sample.
    """
    check_fraction("plan_auto_accept", "alpha", alpha)
    check_fraction("plan_auto_accept", "pass_probability", pass_probability)
    conf = np.sort(np.asarray(confidence, dtype=float))[::-1]
    if not np.all((conf >= 0.0) & (conf <= 1.0)):
        raise ValueError(
            "The 'confidence' parameter of plan_auto_accept must hold values in "
            "[0, 1]. Got values outside it (or NaN) instead."
        )
    n = len(conf)
    nothing = AutoAcceptPlan(
        threshold=math.inf,
        n_candidates=0,
        sample_size=0,
        expected_errors=0.0,
        allowed_errors=allowed,
        humans_left=n,
    )
    if n == 0 or allowed < 0:
        return nothing
    cum_errors = np.cumsum(1.0 - conf)
    prefixes = np.unique(np.linspace(1, n, min(n, max_prefixes)).round().astype(int))
    rates = np.clip(cum_errors[prefixes - 1] / prefixes, 1e-9, 1.0)
    samples = _sample_sizes(n)
    a = prefixes[:, None]
    m = np.minimum(samples[None, :], a)
    from scipy import stats  # see labelloop.routing.bounds

    k = stats.binom.ppf(pass_probability, m, rates[:, None])
    # The binomial bound is a little looser than the hypergeometric one the test uses: a safe plan.
    left = clopper_pearson_upper(k, m, alpha) * a - k
    ok = (left <= allowed) | (m >= a)
    first_ok = np.where(ok.any(axis=1), ok.argmax(axis=1), len(samples) - 1)
    needed = m[np.arange(len(prefixes)), first_ok]
    cost = (n - prefixes) + needed
    best = int(np.argmin(cost))
    if cost[best] >= n:
        return nothing
    size = int(prefixes[best])
    return AutoAcceptPlan(
        threshold=float(conf[size - 1]),
        n_candidates=size,
        sample_size=int(needed[best]),
        expected_errors=float(cum_errors[size - 1]),
        allowed_errors=allowed,
        humans_left=int(cost[best]),
    )


def _sample_sizes(n: int) -> np.ndarray:
    """Audit sample sizes to consider: dense where small, geometric beyond."""
    return np.unique(
        np.concatenate(
            [
                np.arange(1, min(n, 60) + 1),
                np.geomspace(60, max(n, 60), 80).round().astype(int),
            ]
        )
    )

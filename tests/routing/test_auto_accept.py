"""Tests for auto-accept planning, acceptance-sampling certification and the holdout."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from labelloop.routing.auto_accept import (
    AutoAcceptPlan,
    acceptance_test,
    allowed_errors,
    plan_auto_accept,
)
from labelloop.routing.bounds import alpha_for_attempt
from labelloop.routing.holdout import draw_holdout, holdout_size

ALPHA = alpha_for_attempt(0.95, 1)


def _smallest_passing_sample(population: int, allowed: int, alpha: float) -> int:
    """The smallest audit that certifies ``population`` candidates after zero sample errors."""
    lo, hi = 1, population
    while lo < hi:
        mid = (lo + hi) // 2
        if acceptance_test(population, mid, 0, allowed=allowed, alpha=alpha).passed:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _audit(labels_wrong: np.ndarray, sample_size: int, rng: np.random.Generator) -> int:
    """Errors found by people in a simple random sample of the candidates."""
    picked = rng.choice(len(labels_wrong), size=sample_size, replace=False)
    return int(labels_wrong[picked].sum())


# ---------------------------------------------------------------- allowed_errors


def test_allowed_errors_example() -> None:
    assert allowed_errors(10_003, 0.99) == 100
    assert allowed_errors(10_003, 0.99, already_bounded=30) == 70
    assert allowed_errors(0, 0.99) == 0


@pytest.mark.parametrize("target", [0.9, 0.95, 0.98, 0.99, 0.995, 0.999])
def test_allowed_errors_is_the_exact_floor(target: float) -> None:
    # Floating point must not lose an error at the exact multiples (0.1 * 10 = 0.9999...).
    rate = 1 - Fraction(str(target))
    for n in range(0, 5001, 7):
        assert allowed_errors(n, target) == math.floor(rate * n)
        assert allowed_errors(n, target, already_bounded=2) == math.floor(rate * n) - 2


@pytest.mark.parametrize(
    ("n", "target", "name"), [(-1, 0.99, "n_items"), (10, 1.0, "target_accuracy")]
)
def test_allowed_errors_rejects_bad_arguments(n: int, target: float, name: str) -> None:
    with pytest.raises(ValueError, match=rf"The '{name}' parameter of allowed_errors must be"):
        allowed_errors(n, target)


# -------------------------------------------------------- acceptance_test


def test_acceptance_test_reports_the_remaining_bound() -> None:
    cert = acceptance_test(1000, 300, 2, allowed=10, alpha=0.05)
    assert cert.population == 1000 and cert.sample_size == 300 and cert.sample_errors == 2
    assert cert.allowed_errors == 10 and cert.alpha == 0.05
    assert cert.passed == (cert.error_bound <= 10)
    assert cert.error_bound >= 0
    # Labelling every candidate leaves nothing unchecked.
    full = acceptance_test(50, 50, 7, allowed=0, alpha=0.05)
    assert full.passed and full.error_bound == 0
    # A negative budget (earlier rounds used it all) can never pass.
    assert not acceptance_test(1000, 999, 0, allowed=-1, alpha=0.05).passed


@pytest.mark.parametrize(
    ("population", "allowed", "sample_factor"),
    [
        (1500, 15, 1.0),
        (1500, 15, 2.5),
        (400, 4, 1.0),
        (5000, 50, 1.5),
    ],
)
def test_acceptance_test_guarantee_holds_for_sets_over_budget(
    population: int, allowed: int, sample_factor: float
) -> None:
    # The sharpest audit: the smallest sample that can pass at all (or a few times bigger).
    sample = min(
        population, round(sample_factor * _smallest_passing_sample(population, allowed, ALPHA))
    )
    rng = np.random.default_rng(population + allowed + sample)
    for true_errors in (allowed + 1, allowed + 3, allowed + 10, 3 * allowed + 1):
        wrong = np.zeros(population, dtype=bool)
        wrong[rng.choice(population, size=true_errors, replace=False)] = True
        passed_cache: dict[int, bool] = {}
        bad = 0
        draws = 3000
        for _ in range(draws):
            found = _audit(wrong, sample, rng)
            if found not in passed_cache:
                passed_cache[found] = acceptance_test(
                    population, sample, found, allowed=allowed, alpha=ALPHA
                ).passed
            # A failure of the guarantee: accepted, yet more errors left than allowed.
            bad += passed_cache[found] and true_errors - found > allowed
        # ALPHA = 0.025; the standard error over 3,000 audits is about 0.003.
        assert bad / draws <= ALPHA + 0.015, (true_errors, bad / draws)


def test_acceptance_test_guarantee_is_exact_over_all_outcomes() -> None:
    population, allowed = 1500, 15
    sample = _smallest_passing_sample(population, allowed, ALPHA)
    passes = [
        acceptance_test(population, sample, k, allowed=allowed, alpha=ALPHA).passed
        for k in range(4 * allowed + 1)
    ]
    for true_errors in range(allowed + 1, 4 * allowed + 1):
        found = np.arange(min(sample, true_errors) + 1)
        pmf = stats.hypergeom.pmf(found, population, true_errors, sample)
        bad = [passes[k] and true_errors - k > allowed for k in found]
        assert pmf[np.array(bad)].sum() <= ALPHA + 1e-12


def test_acceptance_test_retries_keep_the_overall_guarantee() -> None:
    # Re-auditing a set over budget with fresh samples and halved alphas: the chance that any try
    # passes stays within 1 - confidence (a union bound).
    confidence, population, allowed, tries = 0.95, 1500, 15, 6
    rng = np.random.default_rng(11)
    wrong = np.zeros(population, dtype=bool)
    wrong[rng.choice(population, size=allowed + 1, replace=False)] = True
    plans = []
    for attempt in range(1, tries + 1):
        alpha = alpha_for_attempt(confidence, attempt)
        plans.append((alpha, _smallest_passing_sample(population, allowed, alpha)))
    passed_cache: dict[tuple[int, int], bool] = {}
    sequences, ever_passed = 2000, 0
    for _ in range(sequences):
        for attempt, (alpha, sample) in enumerate(plans):
            found = _audit(wrong, sample, rng)
            if (attempt, found) not in passed_cache:
                passed_cache[attempt, found] = acceptance_test(
                    population, sample, found, allowed=allowed, alpha=alpha
                ).passed
            if passed_cache[attempt, found]:
                ever_passed += allowed + 1 - found > allowed
                break
    assert ever_passed / sequences <= (1 - confidence) + 0.02


def test_acceptance_test_clean_set_usually_passes() -> None:
    # A third of the budget in errors, and a sample of about half the set.
    population, allowed, true_errors, sample = 1500, 15, 5, 700
    rng = np.random.default_rng(3)
    wrong = np.zeros(population, dtype=bool)
    wrong[rng.choice(population, size=true_errors, replace=False)] = True
    # Whether an audit passes depends only on the errors it finds.
    passes_with = [
        acceptance_test(population, sample, k, allowed=allowed, alpha=ALPHA).passed
        for k in range(true_errors + 1)
    ]
    found = [_audit(wrong, sample, rng) for _ in range(1000)]
    # The exact pass probability is about 0.98; the standard error over 1,000 audits about 0.005.
    assert np.mean([passes_with[k] for k in found]) >= 0.9


# ---------------------------------------------------------------- plan_auto_accept


def _check_plan_invariants(plan: AutoAcceptPlan, confidence: np.ndarray, allowed: int) -> None:
    n = len(confidence)
    assert plan.allowed_errors == allowed
    assert 0 <= plan.sample_size <= plan.n_candidates <= n
    assert plan.humans_left == n - plan.n_candidates + plan.sample_size
    if plan.n_candidates == 0:
        assert plan.humans_left == n and plan.sample_size == 0
        return
    assert plan.humans_left < n  # a plan that saves no one is "nothing"
    top = np.sort(confidence)[::-1][: plan.n_candidates]
    assert plan.threshold == top[-1]
    assert plan.expected_errors == pytest.approx(float(np.sum(1 - top)))


def test_plan_empty_input() -> None:
    plan = plan_auto_accept(np.array([]), allowed=10, alpha=ALPHA)
    assert plan.n_candidates == 0 and plan.humans_left == 0 and plan.sample_size == 0
    assert not plan.covers_pool


def test_plan_all_confident_covers_pool_with_small_sample() -> None:
    n = 10_000
    confidence = np.ones(n)
    allowed = allowed_errors(n, 0.99)
    plan = plan_auto_accept(confidence, allowed=allowed, alpha=ALPHA)
    _check_plan_invariants(plan, confidence, allowed)
    assert plan.covers_pool
    assert plan.n_candidates == n
    assert plan.sample_size <= 0.05 * n
    # The planned audit certifies the pool when it finds what the model promised: no errors.
    assert acceptance_test(n, plan.sample_size, 0, allowed=allowed, alpha=ALPHA).passed


def test_plan_all_uncertain_leaves_everything_to_people() -> None:
    confidence = np.full(1000, 0.5)
    plan = plan_auto_accept(confidence, allowed=0, alpha=ALPHA)
    assert plan.n_candidates == 0 and plan.humans_left == 1000 and not plan.covers_pool
    # With a budget, at most about the budget's worth of coin flips may go unchecked.
    plan = plan_auto_accept(confidence, allowed=10, alpha=ALPHA)
    _check_plan_invariants(plan, confidence, 10)
    assert plan.humans_left >= 1000 - 10


def test_plan_negative_budget_accepts_nothing() -> None:
    plan = plan_auto_accept(np.ones(500), allowed=-1, alpha=ALPHA)
    assert plan.n_candidates == 0 and plan.humans_left == 500 and plan.sample_size == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plan_invariants_on_random_pools(seed: int) -> None:
    rng = np.random.default_rng(seed)
    confidence = 1 - rng.beta(0.3, 30, size=int(rng.integers(200, 3000)))
    allowed = allowed_errors(len(confidence), 0.99)
    _check_plan_invariants(
        plan_auto_accept(confidence, allowed=allowed, alpha=ALPHA), confidence, allowed
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plan_making_items_certain_never_adds_human_work(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(300, 2500))
    confidence = 1 - rng.beta(0.3, 30, size=n)
    allowed = allowed_errors(n, 0.99)
    before = plan_auto_accept(confidence, allowed=allowed, alpha=ALPHA).humans_left
    for fraction in (0.05, 0.3, 1.0):
        surer = confidence.copy()
        surer[rng.choice(n, size=max(1, round(fraction * n)), replace=False)] = 1.0
        after = plan_auto_accept(surer, allowed=allowed, alpha=ALPHA).humans_left
        assert after <= before, (fraction, before, after)


def test_plan_more_budget_never_adds_human_work() -> None:
    rng = np.random.default_rng(8)
    confidence = 1 - rng.beta(0.3, 30, size=1500)
    left = [
        plan_auto_accept(confidence, allowed=allowed, alpha=ALPHA).humans_left
        for allowed in (0, 5, 15, 40, 100)
    ]
    assert left == sorted(left, reverse=True)


@pytest.mark.parametrize(
    ("name", "target"),
    [("beta", 0.99), ("two_groups", 0.99), ("flat", 0.99), ("noisy", 0.98), ("small", 0.95)],
)
def test_plan_sample_passes_when_confidences_are_right(name: str, target: float) -> None:
    rng = np.random.default_rng(sum(map(ord, name)))
    confidence = {
        "beta": lambda: 1 - rng.beta(0.5, 100, size=5000),
        "two_groups": lambda: np.concatenate([np.full(3000, 0.999), np.full(1000, 0.9)]),
        "flat": lambda: np.full(5000, 0.995),
        "noisy": lambda: np.concatenate([np.full(3000, 0.99), np.full(1000, 0.7)]),
        "small": lambda: np.full(400, 0.999),
    }[name]()
    allowed = allowed_errors(len(confidence), target)
    plan = plan_auto_accept(confidence, allowed=allowed, alpha=ALPHA)
    assert plan.n_candidates > 0
    candidates = np.sort(confidence)[::-1][: plan.n_candidates]
    passed_cache: dict[int, bool] = {}
    audits, passes = 1500, 0
    for _ in range(audits):
        wrong = rng.random(plan.n_candidates) < 1 - candidates  # calibrated errors
        found = _audit(wrong, plan.sample_size, rng)
        if found not in passed_cache:
            passed_cache[found] = acceptance_test(
                plan.n_candidates, plan.sample_size, found, allowed=allowed, alpha=ALPHA
            ).passed
        passes += passed_cache[found]
    # Planned for 0.8; the standard error over 1,500 audits is about 0.01.
    assert passes / audits >= 0.7


@pytest.mark.parametrize(("name", "value"), [("alpha", 0.0), ("pass_probability", 1.0)])
def test_plan_rejects_bad_arguments(name: str, value: float) -> None:
    kwargs = {"allowed": 5, "alpha": ALPHA, name: value}
    with pytest.raises(ValueError, match=rf"The '{name}' parameter of plan_auto_accept must be"):
        plan_auto_accept(np.ones(10), **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- holdout


def test_holdout_size_follows_target() -> None:
    assert holdout_size(1_000_000, target_accuracy=0.99, confidence=0.95) == 299
    size = holdout_size(1_000_000, target_accuracy=0.995, confidence=0.99)
    # Zero errors in `size` items certify the target; one item fewer would not.
    assert 0.995**size <= 0.01 < 0.995 ** (size - 1)


def test_holdout_size_capped_and_overridden() -> None:
    assert holdout_size(1000, target_accuracy=0.99, confidence=0.95) == 100
    assert holdout_size(1000, target_accuracy=0.99, confidence=0.95, max_fraction=0.5) == 299
    assert holdout_size(0, target_accuracy=0.99, confidence=0.95) == 0
    assert holdout_size(10_000, target_accuracy=0.99, confidence=0.95, override=50) == 50
    assert holdout_size(1000, target_accuracy=0.99, confidence=0.95, override=700) == 700
    assert holdout_size(30, target_accuracy=0.99, confidence=0.95, override=700) == 30


def test_holdout_size_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"The 'confidence' parameter of holdout_size must be"):
        holdout_size(100, target_accuracy=0.99, confidence=1.0)


def test_draw_holdout_is_a_reproducible_simple_random_sample() -> None:
    candidates = np.random.default_rng(0).permutation(np.arange(10_000, 14_000))[:2500]
    first = draw_holdout(candidates, 299, np.random.default_rng(42))
    assert len(first) == 299
    assert len(np.unique(first)) == 299
    assert np.isin(first, candidates).all()
    np.testing.assert_array_equal(first, draw_holdout(candidates, 299, np.random.default_rng(42)))
    assert not np.array_equal(first, draw_holdout(candidates, 299, np.random.default_rng(43)))
    everything = draw_holdout(candidates, 10_000, np.random.default_rng(1))
    assert sorted(everything) == sorted(candidates)


def test_draw_holdout_is_uniform() -> None:
    rng = np.random.default_rng(5)
    candidates = np.arange(20)
    counts = np.zeros(20)
    for _ in range(2000):
        counts[draw_holdout(candidates, 5, rng)] += 1
    # Each id is expected 500 times (sd about 19).
    assert np.all(np.abs(counts - 500) < 100)

"""Bootstrap confidence intervals over items for any long-table measure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from labelloop._validation import check_fraction, check_int
from labelloop.quality.long_table import encode


@dataclass(frozen=True)
class Interval:
    """A measure on the whole table and the bounds of its confidence interval."""

    estimate: float
    low: float
    high: float


def bootstrap_interval(
    measure: Callable[[np.ndarray, np.ndarray, np.ndarray], float],
    items: Sequence | np.ndarray,
    annotators: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> Interval:
    """Percentile bootstrap interval of ``measure(items, annotators, labels)`` over items.

    Each resample draws as many items as the table has, with replacement, and keeps all their
    annotations (an item drawn twice counts as two items); ``low`` and ``high`` are the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the resampled measure,
    leaving out resamples where it is NaN. ``measure`` is any function of the long table that
    returns a float, e.g. ``functools.partial(krippendorff_alpha, level="ordinal")``.
    ``random_state`` is an int, a ``numpy.random.Generator`` or None (fresh entropy).
    """
    check_int("bootstrap_interval", "n_resamples", n_resamples, minimum=1)
    check_fraction("bootstrap_interval", "confidence", confidence)
    items, annotators, labels = np.asarray(items), np.asarray(annotators), np.asarray(labels)
    codes = encode(items, annotators, labels).items
    estimate = float(measure(items, annotators, labels))
    rng = np.random.default_rng(random_state)
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.cumsum(sizes) - sizes
    values = np.empty(n_resamples)
    for k in range(n_resamples):
        drawn = rng.integers(len(sizes), size=len(sizes))
        size = sizes[drawn]
        ends = np.cumsum(size)
        offset = np.arange(ends[-1]) - np.repeat(ends - size, size)
        rows = order[np.repeat(starts[drawn], size) + offset]
        values[k] = measure(np.repeat(np.arange(len(drawn)), size), annotators[rows], labels[rows])
    return percentile_interval(estimate, values, confidence)


def percentile_interval(estimate: float, values: np.ndarray, confidence: float) -> Interval:
    """The ``confidence`` percentile interval of resampled ``values`` (NaNs left out)."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return Interval(estimate, float("nan"), float("nan"))
    low, high = np.quantile(values, [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    return Interval(estimate, float(low), float(high))

"""Krippendorff's alpha from a long table, through the coincidence matrix.

Krippendorff, K. (2011). *Computing Krippendorff's alpha-reliability*. Annenberg School for
Communication, University of Pennsylvania.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelloop._validation import check_choice, check_fraction, check_int
from labelloop.errors import ConfigError
from labelloop.quality.agreement._coding import encode_observed, pairable_counts
from labelloop.quality.agreement.bootstrap import Interval, percentile_interval

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def krippendorff_alpha(
    items: Sequence | np.ndarray,
    annotators: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    level: str = "nominal",
    label_order: Sequence | np.ndarray | None = None,
) -> float:
    """Krippendorff's alpha, ``1 - D_o / D_e``: observed over expected disagreement.

    Any number of annotators per item; a missing annotation is an absent row (or a NaN label).
    Items with a single value cannot be paired and drop out. ``level`` sets the distance between
    two labels: ``"nominal"`` (equal or not), ``"ordinal"`` (by ranks in ``label_order``, default
    sorted), ``"interval"`` (squared difference) or ``"ratio"`` (squared difference over sum);
    interval and ratio need numeric labels. Returns NaN when all pairable values are equal.

    Raises ``ConfigError`` for columns of different lengths, fewer than two annotators, or no
    item with two values.
    """
    table, counts = _observed("krippendorff_alpha", items, annotators, labels, level, label_order)
    return alpha_of(coincidence_matrix(counts), level, table.label_ids)


def alpha_interval(
    items: Sequence | np.ndarray,
    annotators: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    level: str = "nominal",
    label_order: Sequence | np.ndarray | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int | np.random.Generator | None = None,
) -> Interval:
    """Krippendorff's alpha with a percentile bootstrap interval over items.

    The same resampling as :func:`bootstrap_interval` with :func:`krippendorff_alpha` (draw as
    many items as there are, with replacement; an item drawn twice counts twice), computed
    without rebuilding the table: a resample's coincidence matrix is its items' coincidences
    weighted by how often each was drawn. A resample costs a pass over the items, so a
    thousand of them over a million answers take seconds, not minutes.
    """
    check_int("alpha_interval", "n_resamples", n_resamples, minimum=1)
    check_fraction("alpha_interval", "confidence", confidence)
    table, counts, units = _observed(
        "alpha_interval", items, annotators, labels, level, label_order, with_units=True
    )
    estimate = alpha_of(coincidence_matrix(counts), level, table.label_ids)
    rng = np.random.default_rng(random_state)
    pairs, singles = _unit_coincidences(counts)
    k, n = counts.shape[1], table.n_items
    values = np.empty(n_resamples)
    for r in range(n_resamples):
        w = np.bincount(rng.integers(n, size=n), minlength=n)[units].astype(np.float64)
        coincidence = (pairs @ w).reshape(k, k)
        coincidence[np.diag_indices_from(coincidence)] -= singles @ w
        values[r] = alpha_of(coincidence, level, table.label_ids)
    return percentile_interval(estimate, values, confidence)


def _unit_coincidences(counts: np.ndarray) -> tuple[sp.csr_array, sp.csr_array]:
    """Each unit's part of the coincidence matrix, as sparse columns: ``pairs`` (k*k, units)
    holds ``weighted_u ⊗ counts_u`` flattened, ``singles`` (k, units) holds ``weighted_u``, so
    that weights ``w`` over units give ``(pairs @ w).reshape(k, k) - diag(singles @ w)``."""
    n, k = counts.shape
    weighted = sp.csr_array(counts / (counts.sum(axis=1, keepdims=True) - 1.0))
    seen = sp.csr_array(counts)
    per_unit = np.diff(seen.indptr)  # labels present in each unit
    unit = np.repeat(np.arange(n), per_unit**2)
    within = np.arange(len(unit)) - np.repeat(np.cumsum(per_unit**2) - per_unit**2, per_unit**2)
    first = seen.indptr[unit] + within // per_unit[unit]
    second = seen.indptr[unit] + within % per_unit[unit]
    pairs = sp.csr_array(
        (
            weighted.data[first] * seen.data[second],
            (seen.indices[first] * k + seen.indices[second], unit),
        ),
        shape=(k * k, n),
    )
    return pairs, sp.csr_array(weighted.T)


def _observed(
    owner: str,
    items: Sequence | np.ndarray,
    annotators: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    level: str,
    label_order: Sequence | np.ndarray | None,
    *,
    with_units: bool = False,
) -> Any:
    """The encoded table and its pairable value counts (and, with ``with_units``, the item code
    of each counted row), after checking ``level`` fits the labels."""
    check_choice(owner, "level", level, LEVELS)
    table = encode_observed(items, annotators, labels, label_order)
    if level in ("interval", "ratio") and table.label_ids.dtype.kind not in "biuf":
        raise ConfigError(
            f"level={level!r} needs numeric labels; got {table.label_ids.dtype} labels"
        )
    counts, units = pairable_counts(table, with_units=True)
    return (table, counts, units) if with_units else (table, counts)


def alpha_of(coincidence: np.ndarray, level: str, label_ids: np.ndarray) -> float:
    """``1 - D_o / D_e`` of a coincidence matrix; NaN when nothing can disagree."""
    totals = coincidence.sum(axis=0)
    distance = _distance(level, totals, label_ids)
    expected = totals @ distance @ totals
    if expected == 0:
        return float("nan")
    return float(1.0 - (totals.sum() - 1.0) * np.sum(coincidence * distance) / expected)


def coincidence_matrix(counts: np.ndarray) -> np.ndarray:
    """(n_labels, n_labels) coincidences of pairable value counts: each unit adds its ordered
    pairs of values, weighted ``1 / (m_u - 1)``."""
    weighted = counts / (counts.sum(axis=1, keepdims=True) - 1.0)
    coincidence = weighted.T @ counts
    coincidence[np.diag_indices_from(coincidence)] -= weighted.sum(axis=0)
    return coincidence


def _distance(level: str, totals: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Squared distance between every two labels at ``level``."""
    if level == "nominal":
        return 1.0 - np.eye(len(totals))
    if level == "ordinal":
        # Distance c..k is the count of values from c to k less half of each end: midpoint ranks.
        ranks = np.cumsum(totals) - totals / 2.0
        return (ranks[:, None] - ranks[None, :]) ** 2
    v = values.astype(float)
    diff = v[:, None] - v[None, :]
    if level == "interval":
        return diff**2
    total = v[:, None] + v[None, :]
    return np.divide(diff, total, out=np.zeros_like(diff), where=total != 0) ** 2

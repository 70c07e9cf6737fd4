"""Krippendorff's alpha from a long table, through the coincidence matrix.

Krippendorff, K. (2011). *Computing Krippendorff's alpha-reliability*. Annenberg School for
Communication, University of Pennsylvania.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelloop._validation import check_choice
from labelloop.errors import ConfigError
from labelloop.quality.agreement._coding import encode_observed, pairable_counts

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
    check_choice("krippendorff_alpha", "level", level, LEVELS)
    table = encode_observed(items, annotators, labels, label_order)
    if level in ("interval", "ratio") and table.label_ids.dtype.kind not in "biuf":
        raise ConfigError(
            f"level={level!r} needs numeric labels; got {table.label_ids.dtype} labels"
        )
    coincidence = coincidence_matrix(pairable_counts(table))
    totals = coincidence.sum(axis=0)
    distance = _distance(level, totals, table.label_ids)
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

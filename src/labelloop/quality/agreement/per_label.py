"""Agreement on each label: one-vs-rest Krippendorff's alpha (nominal), all labels at once."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from labelloop.quality.agreement._coding import encode_observed, pairable_counts


def per_label_agreement(
    items: Sequence | np.ndarray,
    annotators: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    label_order: Sequence | np.ndarray | None = None,
) -> dict[Hashable, float]:
    """``{label: alpha}``: nominal Krippendorff's alpha of "this label or not" for each label.

    Equals ``krippendorff_alpha`` on the labels recoded to ``label == l``, so it shares its
    handling of missing values and unequal annotators per item; close to Fleiss' per-category
    kappa when every item has the same raters. NaN for a label no pairable value (or every one)
    carries. ``label_order`` also lists labels nobody used (they get NaN).
    """
    table = encode_observed(items, annotators, labels, label_order)
    counts = pairable_counts(table)
    values = counts.sum(axis=1, keepdims=True)
    # Binary coincidences: o_01 = o_10 = sum_u n_uj (m_u - n_uj) / (m_u - 1).
    disagree = np.sum(counts * (values - counts) / (values - 1.0), axis=0)
    n = float(values.sum())
    with_label = counts.sum(axis=0).astype(float)
    expected = with_label * (n - with_label)
    alpha = 1.0 - (n - 1.0) * np.divide(
        disagree, expected, out=np.full_like(expected, np.nan), where=expected > 0
    )
    return dict(zip(table.label_ids.tolist(), alpha.tolist(), strict=True))

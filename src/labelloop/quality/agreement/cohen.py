"""Cohen's kappa for two raters on the same items, unweighted or weighted.

Cohen, J. (1960, 1968). Equals ``sklearn.metrics.cohen_kappa_score``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from labelloop._validation import check_choice
from labelloop.errors import ConfigError
from labelloop.quality.long_table import encode

WEIGHTS = ("linear", "quadratic")


def cohen_kappa(
    labels_a: Sequence | np.ndarray,
    labels_b: Sequence | np.ndarray,
    *,
    weights: str | None = None,
    label_order: Sequence | np.ndarray | None = None,
) -> float:
    """Cohen's kappa between ``labels_a[i]`` and ``labels_b[i]``, two raters' labels of item ``i``.

    ``weights`` ``None`` counts any disagreement as 1; ``"linear"`` and ``"quadratic"`` weigh it by
    the distance (or squared distance) between the labels' positions in ``label_order`` (default:
    sorted labels). NaN when chance agreement is perfect. Raises ``ConfigError`` for columns of
    different lengths or empty columns.
    """
    if weights is not None:
        check_choice("cohen_kappa", "weights", weights, WEIGHTS)
    labels_a, labels_b = np.asarray(labels_a), np.asarray(labels_b)
    if len(labels_a) != len(labels_b):
        raise ConfigError(
            f"labels_a and labels_b differ in length: {len(labels_a)}, {len(labels_b)}"
        )
    n = len(labels_a)
    table = encode(
        np.tile(np.arange(n), 2),
        np.repeat([0, 1], n),
        np.concatenate([labels_a, labels_b]),
        label_ids=label_order,
    )
    n_labels = table.n_labels
    codes_a, codes_b = table.labels[:n], table.labels[n:]
    confusion = np.bincount(codes_a * n_labels + codes_b, minlength=n_labels**2)
    confusion = confusion.reshape(n_labels, n_labels)
    weight = weight_matrix(weights, n_labels)
    observed = np.array([np.sum(weight * confusion)])
    kappa = kappa_from_counts(
        observed, confusion.sum(axis=1)[None], confusion.sum(axis=0)[None], weight
    )
    return float(kappa[0])


def weight_matrix(weights: str | None, n_labels: int) -> np.ndarray:
    """(n_labels, n_labels) disagreement weights of label positions: None, linear, quadratic."""
    positions = np.arange(n_labels)
    distance = np.abs(positions[:, None] - positions[None, :]).astype(float)
    if weights is None:
        return (distance > 0).astype(float)
    return distance if weights == "linear" else distance**2


def kappa_from_counts(
    observed: np.ndarray, margins_a: np.ndarray, margins_b: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Kappa of many rater pairs at once: ``1 - observed / expected`` weighted disagreement.

    ``observed[p]`` is pair ``p``'s summed weighted disagreement, ``margins_a[p]`` and
    ``margins_b[p]`` its raters' label counts; NaN where the expected disagreement is 0.
    """
    n = margins_a.sum(axis=1)
    expected = np.sum((margins_a @ weight) * margins_b, axis=1) / n
    ratio = np.divide(observed, expected, out=np.full(len(expected), np.nan), where=expected > 0)
    return 1.0 - ratio

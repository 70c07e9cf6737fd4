"""Cohen's kappa of every pair of annotators over the items they both labelled."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labelloop._validation import check_choice, check_int
from labelloop.errors import ConfigError
from labelloop.quality.agreement._coding import encode_observed
from labelloop.quality.agreement.cohen import WEIGHTS, kappa_from_counts, weight_matrix


@dataclass(frozen=True)
class PairwiseKappa:
    """One row per annotator pair (``annotator_a < annotator_b``): kappa and shared items."""

    annotator_a: np.ndarray
    annotator_b: np.ndarray
    kappa: np.ndarray
    n_items: np.ndarray


def pairwise_cohen(
    items: Sequence | np.ndarray,
    annotators: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    weights: str | None = None,
    label_order: Sequence | np.ndarray | None = None,
    min_overlap: int = 10,
) -> PairwiseKappa:
    """Cohen's kappa of each annotator pair that shares at least ``min_overlap`` items.

    Each pair's kappa equals ``cohen_kappa`` on their shared items with the full ``label_order``
    (weights use label positions in the whole label set), NaN where chance agreement is perfect.
    Raises ``ConfigError`` when an
    annotator labelled an item twice or fewer than two annotators appear.
    """
    if weights is not None:
        check_choice("pairwise_cohen", "weights", weights, WEIGHTS)
    check_int("pairwise_cohen", "min_overlap", min_overlap, minimum=1)
    table = encode_observed(items, annotators, labels, label_order)
    weight = weight_matrix(weights, table.n_labels)
    n_annotators, n_labels = table.n_annotators, table.n_labels
    order = np.argsort(table.items * n_annotators + table.annotators, kind="stable")
    item, annotator, label = table.items[order], table.annotators[order], table.labels[order]
    twice = (item[1:] == item[:-1]) & (annotator[1:] == annotator[:-1])
    if twice.any():
        k = int(np.argmax(twice))
        raise ConfigError(
            f"annotator {table.annotator_ids[annotator[k]].item()!r} labelled item "
            f"{table.item_ids[item[k]].item()!r} more than once"
        )
    left, right = _pairs_within_items(item)
    # Rows are sorted by annotator within an item, so annotator[left] < annotator[right].
    pair_key = annotator[left] * n_annotators + annotator[right]
    keys, pair, shared = np.unique(pair_key, return_inverse=True, return_counts=True)
    kept = shared >= min_overlap
    new_index = np.cumsum(kept) - 1
    rows = kept[pair]
    pair, label_a, label_b = new_index[pair[rows]], label[left[rows]], label[right[rows]]
    keys, n_pairs = keys[kept], int(kept.sum())
    margins_a = np.bincount(pair * n_labels + label_a, minlength=n_pairs * n_labels)
    margins_b = np.bincount(pair * n_labels + label_b, minlength=n_pairs * n_labels)
    kappa = kappa_from_counts(
        np.bincount(pair, weights=weight[label_a, label_b], minlength=n_pairs),
        margins_a.reshape(n_pairs, n_labels).astype(float),
        margins_b.reshape(n_pairs, n_labels).astype(float),
        weight,
    )
    return PairwiseKappa(
        annotator_a=table.annotator_ids[keys // n_annotators],
        annotator_b=table.annotator_ids[keys % n_annotators],
        kappa=kappa,
        n_items=shared[kept],
    )


def _pairs_within_items(item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(left, right)``, ``left < right``, of every two rows of the same item.

    ``item`` must be sorted.
    """
    sizes = np.bincount(item)
    starts = np.cumsum(sizes) - sizes
    after = sizes[item] - (np.arange(len(item)) - starts[item]) - 1
    left = np.repeat(np.arange(len(item)), after)
    first = np.cumsum(after) - after
    right = left + 1 + np.arange(len(left)) - np.repeat(first, after)
    return left, right

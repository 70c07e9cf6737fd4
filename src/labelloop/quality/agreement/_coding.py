"""Shared steps of the long-table measures: encode the observed rows, count values per item."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labelloop.errors import ConfigError
from labelloop.quality.long_table import LongTable, encode


def encode_observed(
    items: Sequence | np.ndarray,
    annotators: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    label_order: Sequence | np.ndarray | None,
) -> LongTable:
    """Encode the rows whose label is present (a NaN label is missing); need two annotators."""
    items, annotators, labels = np.asarray(items), np.asarray(annotators), np.asarray(labels)
    if labels.dtype.kind == "f" and len(items) == len(annotators) == len(labels):
        present = ~np.isnan(labels)
        items, annotators, labels = items[present], annotators[present], labels[present]
    table = encode(items, annotators, labels, label_ids=label_order)
    if table.n_annotators < 2:
        raise ConfigError(
            f"agreement needs at least two annotators; got {table.n_annotators} "
            f"({table.annotator_ids[0].item()!r})"
        )
    return table


def pairable_counts(table: LongTable, *, with_units: bool = False) -> Any:
    """(n_units, n_labels) value counts of the items with two or more values (pairable units);
    with ``with_units``, also each unit's item code."""
    counts = np.bincount(
        table.items * table.n_labels + table.labels, minlength=table.n_items * table.n_labels
    ).reshape(table.n_items, table.n_labels)
    units = np.flatnonzero(counts.sum(axis=1) >= 2)
    if len(units) == 0:
        raise ConfigError("no item has two or more annotations: agreement is undefined")
    return (counts[units], units) if with_units else counts[units]

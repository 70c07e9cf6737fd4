"""Annotations as a long table — one row per (item, annotator, label) — encoded to integer codes.

Every quality function takes the three columns as equal-length sequences of any hashable values
(they map straight onto the ``annotations`` SQL table) and works on the integer codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from labelloop.errors import ConfigError


def check_columns(columns: Mapping[str, str]) -> None:
    """Raise ``ConfigError`` when two roles name one column of a file (``columns``: the option
    or argument that sets each role -> the column it names)."""
    by_column: dict[str, list[str]] = {}
    for option, column in columns.items():
        by_column.setdefault(column, []).append(option)
    for column, options in by_column.items():
        if len(options) > 1:
            named = f"{', '.join(options[:-1])} and {options[-1]}"
            raise ConfigError(
                f"{named} name the same column {column!r}; item, annotator and label must each "
                "be a column of their own"
            )


@dataclass(frozen=True)
class LongTable:
    """Integer-coded annotations. ``item_ids[items[k]]`` is the original id of row ``k``'s item."""

    items: np.ndarray
    annotators: np.ndarray
    labels: np.ndarray
    item_ids: np.ndarray
    annotator_ids: np.ndarray
    label_ids: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_annotators(self) -> int:
        return len(self.annotator_ids)

    @property
    def n_labels(self) -> int:
        return len(self.label_ids)

    def counts(self) -> np.ndarray:
        """(n_items, n_labels) matrix: how many annotators gave each label to each item."""
        out = np.zeros((self.n_items, self.n_labels), dtype=np.int64)
        np.add.at(out, (self.items, self.labels), 1)
        return out


def encode(
    items: Sequence | np.ndarray,
    annotators: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    *,
    label_ids: Sequence | np.ndarray | None = None,
) -> LongTable:
    """Encode a long table. ``label_ids`` fixes the label set and its order (else sorted values).

    Raises ``ConfigError`` when the columns differ in length, the table is empty, or a label is
    outside ``label_ids``.
    """
    items, annotators, labels = np.asarray(items), np.asarray(annotators), np.asarray(labels)
    if not len(items) == len(annotators) == len(labels):
        raise ConfigError(
            f"item, annotator and label columns differ in length: "
            f"{len(items)}, {len(annotators)}, {len(labels)}"
        )
    if len(items) == 0:
        raise ConfigError("no annotations: the long table is empty")
    item_ids, item_codes = np.unique(items, return_inverse=True)
    annotator_ids, annotator_codes = np.unique(annotators, return_inverse=True)
    if label_ids is None:
        known, label_codes = np.unique(labels, return_inverse=True)
    else:
        known = np.asarray(label_ids)
        order = np.argsort(known, kind="stable")
        pos = np.searchsorted(known[order], labels)
        pos = np.clip(pos, 0, len(known) - 1)
        found = known[order][pos] == labels
        if not found.all():
            unknown = sorted({str(v) for v in labels[~found]})[:5]
            raise ConfigError(f"labels not in the label set: {', '.join(unknown)}")
        label_codes = order[pos]
    return LongTable(
        items=item_codes.astype(np.int64),
        annotators=annotator_codes.astype(np.int64),
        labels=label_codes.astype(np.int64),
        item_ids=item_ids,
        annotator_ids=annotator_ids,
        label_ids=known,
    )

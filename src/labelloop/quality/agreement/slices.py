"""Any long-table measure computed per slice of the rows (data source, language, batch...)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

import numpy as np

from labelloop.errors import ConfigError

T = TypeVar("T")


def by_slice(
    measure: Callable[[np.ndarray, np.ndarray, np.ndarray], T],
    slices: Sequence | np.ndarray,
    items: Sequence | np.ndarray,
    annotators: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
) -> dict[Hashable, T]:
    """``{slice: measure(items, annotators, labels)}`` on the rows of each slice value.

    ``slices[k]`` is row ``k``'s slice: a metadata value of its item (source, language) or of its
    annotator (team, tier). ``measure`` is any long-table function — ``krippendorff_alpha``,
    ``pairwise_cohen``, ``per_label_agreement``, or ``bootstrap_interval`` through
    ``functools.partial``. A slice the measure cannot handle raises as the measure does.
    """
    slices, items = np.asarray(slices), np.asarray(items)
    annotators, labels = np.asarray(annotators), np.asarray(labels)
    if not len(slices) == len(items) == len(annotators) == len(labels):
        raise ConfigError(
            f"slice, item, annotator and label columns differ in length: "
            f"{len(slices)}, {len(items)}, {len(annotators)}, {len(labels)}"
        )
    values, codes = np.unique(slices, return_inverse=True)
    return {
        value: measure(items[codes == k], annotators[codes == k], labels[codes == k])
        for k, value in enumerate(values.tolist())
    }

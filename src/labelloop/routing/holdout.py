"""Size and draw of the random human-labelled holdout."""

from __future__ import annotations

import math

import numpy as np

from labelloop._validation import check_fraction, check_int


def holdout_size(
    n_items: int,
    *,
    target_accuracy: float,
    confidence: float,
    max_fraction: float = 0.1,
    override: int | None = None,
) -> int:
    """Holdout size that follows from the target.

    The smallest sample whose zero observed errors would alone certify the target error rate at the
    confidence, ``ceil(ln(1 - confidence) / ln(target_accuracy))`` (299 for 99 % at 95 %), capped
    at ``max_fraction`` of the pool. ``override`` wins when given.
    """
    check_int("holdout_size", "n_items", n_items, minimum=0)
    check_fraction("holdout_size", "target_accuracy", target_accuracy)
    check_fraction("holdout_size", "confidence", confidence)
    check_fraction("holdout_size", "max_fraction", max_fraction, closed=True)
    if override is not None:
        return min(check_int("holdout_size", "override", override, minimum=0), n_items)
    needed = math.ceil(math.log(1.0 - confidence) / math.log(target_accuracy))
    return min(needed, int(max_fraction * n_items))


def draw_holdout(candidates: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A simple random sample of ``size`` ids from ``candidates`` (never chosen by a model)."""
    size = min(size, len(candidates))
    return rng.choice(candidates, size=size, replace=False)

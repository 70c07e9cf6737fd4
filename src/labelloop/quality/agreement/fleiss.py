"""Fleiss' kappa over an (n_items, n_labels) count matrix with the same raters per item.

Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. *Psychological
Bulletin*, 76(5), 378-382.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelloop.errors import ConfigError


@dataclass(frozen=True)
class FleissKappa:
    """``kappa = (p_bar - p_e) / (1 - p_e)``: mean observed agreement over chance agreement."""

    kappa: float
    p_bar: float
    p_e: float


def fleiss_kappa(counts: np.ndarray) -> FleissKappa:
    """Fleiss' kappa of ``counts[i, j]``, the number of raters who gave item ``i`` label ``j``.

    Every item needs the same number of raters, at least two (from a long table:
    ``encode(items, annotators, labels).counts()``). ``kappa`` is NaN when ``p_e`` is 1 (a single
    label used throughout). Raises ``ConfigError`` otherwise.
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] == 0 or counts.dtype.kind not in "iu":
        raise ConfigError(
            f"counts must be a non-empty (n_items, n_labels) integer matrix; "
            f"got shape {counts.shape}, dtype {counts.dtype}"
        )
    if (counts < 0).any():
        raise ConfigError("counts must not be negative")
    raters = counts.sum(axis=1)
    if (raters != raters[0]).any():
        raise ConfigError(
            f"Fleiss' kappa needs the same number of raters per item; got {raters.min()} to "
            f"{raters.max()} (use krippendorff_alpha for unequal numbers)"
        )
    r = int(raters[0])
    if r < 2:
        raise ConfigError(f"Fleiss' kappa needs at least two raters per item; got {r}")
    p_bar = float(np.mean((np.sum(counts.astype(float) ** 2, axis=1) - r) / (r * (r - 1))))
    p_e = float(np.sum((counts.sum(axis=0) / counts.sum()) ** 2))
    kappa = (p_bar - p_e) / (1.0 - p_e) if p_e < 1.0 else float("nan")
    return FleissKappa(kappa=kappa, p_bar=p_bar, p_e=p_e)

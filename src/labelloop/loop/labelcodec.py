"""Conversions between stored labels (JSON) and model targets (class indices / indicators)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labelloop.config import ProjectConfig
from labelloop.errors import ConfigError

Label = str | list[str]


def normalise_label(config: ProjectConfig, label: Any) -> Label:
    """Check ``label`` against the schema; multi-label sets come back sorted and unique."""
    known = set(config.labels)
    if config.multi_label:
        values = [label] if isinstance(label, str) else list(label)
        unknown = [v for v in values if v not in known]
        if unknown:
            raise ConfigError(f"label: unknown label(s) {unknown}; allowed: {list(config.labels)}")
        return sorted(set(values))
    if not isinstance(label, str) or label not in known:
        raise ConfigError(f"label: {label!r} is not one of {list(config.labels)}")
    return label


def encode(config: ProjectConfig, labels: Sequence[Label]) -> np.ndarray:
    """Class indices (single-label) or a 0/1 indicator matrix (multi-label)."""
    index = {name: i for i, name in enumerate(config.labels)}
    if config.multi_label:
        y = np.zeros((len(labels), len(config.labels)), dtype=np.int64)
        for row, label in enumerate(labels):
            y[row, [index[name] for name in label]] = 1
        return y
    return np.array([index[str(label)] for label in labels], dtype=np.int64)


def decode(config: ProjectConfig, proba: np.ndarray) -> tuple[list[Label], np.ndarray]:
    """The model's label per row and the calibrated probability that it is exactly right.

    Multi-label: labels with p >= 0.5, confidence the product of per-label ``max(p, 1 - p)``.
    """
    names = np.asarray(config.labels, dtype=object)
    if config.multi_label:
        chosen = proba >= 0.5
        confidence = np.prod(np.where(chosen, proba, 1.0 - proba), axis=1)
        return [sorted(names[row].tolist()) for row in chosen], confidence
    best = proba.argmax(axis=1)
    return names[best].tolist(), proba[np.arange(len(proba)), best]

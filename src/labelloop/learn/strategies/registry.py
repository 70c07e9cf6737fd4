"""The registry of query strategies by name, and :func:`make_strategy`."""

from __future__ import annotations

from typing import Any

from labelloop.learn.strategies.base import QueryStrategy
from labelloop.learn.strategies.density import DensityClusterMargin
from labelloop.learn.strategies.expected_change import ExpectedGradientLength
from labelloop.learn.strategies.hybrid import MarginKCenter
from labelloop.learn.strategies.kcenter import KCenterGreedy
from labelloop.learn.strategies.random_sampling import RandomSampling
from labelloop.learn.strategies.uncertainty import Entropy, LeastConfidence, Margin

STRATEGIES: dict[str, type[QueryStrategy]] = {
    "random": RandomSampling,
    "least_confidence": LeastConfidence,
    "margin": Margin,
    "entropy": Entropy,
    "kcenter": KCenterGreedy,
    "hybrid": MarginKCenter,
    "expected_change": ExpectedGradientLength,
    "density_cluster": DensityClusterMargin,
}


def make_strategy(name: str, **params: Any) -> QueryStrategy:
    """Build the strategy registered as ``name`` with ``params``."""
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown query strategy {name!r}. Known strategies: {', '.join(sorted(STRATEGIES))}."
        )
    return STRATEGIES[name](**params)

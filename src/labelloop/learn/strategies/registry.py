"""The registry of query strategies by name, and :func:`make_strategy`.

A third-party strategy registers itself under the entry-point group ``labelloop.strategies``.
"""

from __future__ import annotations

from typing import Any

from labelloop.learn.strategies.base import QueryStrategy
from labelloop.learn.strategies.density import DensityClusterMargin
from labelloop.learn.strategies.expected_change import ExpectedGradientLength
from labelloop.learn.strategies.hybrid import MarginKCenter
from labelloop.learn.strategies.kcenter import KCenterGreedy
from labelloop.learn.strategies.random_sampling import RandomSampling
from labelloop.learn.strategies.uncertainty import Entropy, LeastConfidence, Margin
from labelloop.registry import Registry

STRATEGIES: Registry[type[QueryStrategy]] = Registry(
    "query strategy", entry_point_group="labelloop.strategies"
)
STRATEGIES.add("random", RandomSampling)
STRATEGIES.add("least_confidence", LeastConfidence)
STRATEGIES.add("margin", Margin)
STRATEGIES.add("entropy", Entropy)
STRATEGIES.add("kcenter", KCenterGreedy)
STRATEGIES.add("hybrid", MarginKCenter)
STRATEGIES.add("expected_change", ExpectedGradientLength)
STRATEGIES.add("density_cluster", DensityClusterMargin)


def make_strategy(name: str, **params: Any) -> QueryStrategy:
    """Build the strategy registered as ``name`` with ``params`` (ValueError naming the known
    ones when there is none)."""
    return STRATEGIES.get_or_raise(name)(**params)

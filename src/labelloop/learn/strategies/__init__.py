"""Query strategies: choose which unlabelled candidates to label next, most valuable first.

Each takes a :class:`Pool` of arrays (probabilities, embeddings, features) and needs no server.
"""

from labelloop.learn.strategies.base import Pool, QueryStrategy, top_n
from labelloop.learn.strategies.density import DensityClusterMargin, knn_density
from labelloop.learn.strategies.expected_change import ExpectedGradientLength
from labelloop.learn.strategies.hybrid import MarginKCenter
from labelloop.learn.strategies.kcenter import KCenterGreedy, k_center_greedy
from labelloop.learn.strategies.random_sampling import RandomSampling
from labelloop.learn.strategies.registry import STRATEGIES, make_strategy
from labelloop.learn.strategies.uncertainty import (
    Entropy,
    LeastConfidence,
    Margin,
    UncertaintySampling,
)

__all__ = [
    "STRATEGIES",
    "DensityClusterMargin",
    "Entropy",
    "ExpectedGradientLength",
    "KCenterGreedy",
    "LeastConfidence",
    "Margin",
    "MarginKCenter",
    "Pool",
    "QueryStrategy",
    "RandomSampling",
    "UncertaintySampling",
    "k_center_greedy",
    "knn_density",
    "make_strategy",
    "top_n",
]

"""The registry of truth-inference methods by name, and :func:`make_aggregator`."""

from __future__ import annotations

from typing import Any

from labelloop.quality.aggregation.base import Aggregator
from labelloop.quality.aggregation.dawid_skene import DawidSkene
from labelloop.quality.aggregation.majority import MajorityVote
from labelloop.quality.aggregation.one_coin import OneCoinDawidSkene
from labelloop.quality.aggregation.wawa import Wawa

AGGREGATORS: dict[str, type[Aggregator]] = {
    "majority": MajorityVote,
    "wawa": Wawa,
    "one-coin": OneCoinDawidSkene,
    "dawid-skene": DawidSkene,
}


def make_aggregator(name: str, **params: Any) -> Aggregator:
    """Build the aggregator registered as ``name`` with ``params``."""
    if name not in AGGREGATORS:
        raise ValueError(
            f"Unknown aggregator {name!r}. Known aggregators: {', '.join(sorted(AGGREGATORS))}."
        )
    return AGGREGATORS[name](**params)

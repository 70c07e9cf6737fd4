"""The registry of truth-inference methods by name, and :func:`make_aggregator`.

A third-party aggregator registers itself under the entry-point group ``labelloop.aggregators``.
"""

from __future__ import annotations

from typing import Any

from labelloop.quality.aggregation.base import Aggregator
from labelloop.quality.aggregation.dawid_skene import DawidSkene
from labelloop.quality.aggregation.majority import MajorityVote
from labelloop.quality.aggregation.one_coin import OneCoinDawidSkene
from labelloop.quality.aggregation.wawa import Wawa
from labelloop.registry import Registry

AGGREGATORS: Registry[type[Aggregator]] = Registry(
    "aggregator", entry_point_group="labelloop.aggregators"
)
AGGREGATORS.add("majority", MajorityVote)
AGGREGATORS.add("wawa", Wawa)
AGGREGATORS.add("one-coin", OneCoinDawidSkene)
AGGREGATORS.add("dawid-skene", DawidSkene)


def make_aggregator(name: str, **params: Any) -> Aggregator:
    """Build the aggregator registered as ``name`` with ``params`` (ValueError naming the known
    ones when there is none)."""
    return AGGREGATORS.get_or_raise(name)(**params)

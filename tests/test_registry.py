"""The registry of named things: built-in entries, clear errors, and plug-ins found through entry
points (the query-strategy and aggregator registries)."""

from __future__ import annotations

import uuid
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from labelloop.config import parse_config
from labelloop.learn.strategies import STRATEGIES, Margin, make_strategy
from labelloop.quality.aggregation import AGGREGATORS, MajorityVote, make_aggregator
from labelloop.registry import Registry

PLUGIN_SOURCE = '''
from labelloop.learn.strategies import Margin
from labelloop.quality.aggregation import MajorityVote


class PluggedStrategy(Margin):
    """A query strategy from a third-party package."""


class PluggedVote(MajorityVote):
    """An aggregator from a third-party package."""
'''


@pytest.fixture
def plugin_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed-looking package whose entry points add 'plugged' to both registries.

    Only the stdlib's entry-point listing is faked; our lookup, the import and the
    registration are the real ones."""
    module = f"llplugin_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    points = {
        group: [EntryPoint("plugged", f"{module}:{cls}", group)]
        for group, cls in [
            ("labelloop.strategies", "PluggedStrategy"),
            ("labelloop.aggregators", "PluggedVote"),
        ]
    }
    monkeypatch.setattr("labelloop.registry.entry_points", lambda group: points.get(group, []))
    for registry in (STRATEGIES, AGGREGATORS):  # a fresh look-up; restored after the test
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
        monkeypatch.setattr(registry, "_plugins_loaded", False)
    return module


def test_a_strategy_plugin_is_found_through_its_entry_point(plugin_package: str) -> None:
    strategy = make_strategy("plugged")
    assert type(strategy).__module__ == plugin_package and isinstance(strategy, Margin)
    assert "plugged" in STRATEGIES and "margin" in STRATEGIES
    assert parse_config({"name": "p", "labels": ["a", "b"], "query": {"strategy": "plugged"}})


def test_an_aggregator_plugin_is_found_through_its_entry_point(plugin_package: str) -> None:
    est = make_aggregator("plugged")
    assert type(est).__module__ == plugin_package and isinstance(est, MajorityVote)
    with pytest.raises(ValueError, match="Known: dawid-skene, majority, one-coin, plugged, wawa"):
        make_aggregator("glad")


def test_a_name_is_registered_once_and_unknown_names_list_the_known() -> None:
    colours: Registry[str] = Registry("colour")
    colours.add("red", "#f00")
    colours.add("red", "#f00")  # the same entry again is harmless
    with pytest.raises(ValueError, match="a colour called 'red' is registered already"):
        colours.add("red", "#e00")
    assert colours.register("blue")("#00f") == "#00f"
    assert dict(colours) == {"red": "#f00", "blue": "#00f"}
    with pytest.raises(ValueError, match=r"Unknown colour 'green'\. Known: blue, red\."):
        colours.get_or_raise("green")
    with pytest.raises(KeyError, match="Unknown colour 'green'"):
        colours["green"]

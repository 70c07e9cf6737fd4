"""Work tiers: one ordered list, ranks and the tiers up to one."""

from __future__ import annotations

import pytest

from labelloop.tiers import TIERS, tier_rank, tiers_up_to


def test_tiers_are_ordered_lowest_first() -> None:
    assert [tier_rank(tier) for tier in TIERS] == [0, 1, 2]
    assert tiers_up_to("annotator") == ("annotator",)
    assert tiers_up_to("expert") == TIERS


def test_an_unknown_tier_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown tier 'admin'; expected one of annotator, "):
        tier_rank("admin")

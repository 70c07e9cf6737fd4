"""Work tiers, lowest first: who may take a task. Annotators label, reviewers check doubtful or
risky items, experts adjudicate what reviewers escalate.

The one place tier names are spelled; the config, the rule compiler, roles, the queue, the API
and the pages take them from here.
"""

from __future__ import annotations

from typing import Literal

Tier = Literal["annotator", "reviewer", "expert"]

#: Every tier, lowest first.
TIERS: tuple[Tier, ...] = ("annotator", "reviewer", "expert")


def tier_rank(tier: str) -> int:
    """The position of ``tier`` in :data:`TIERS` (0 for annotators); ValueError if unknown."""
    try:
        return TIERS.index(tier)
    except ValueError:
        raise ValueError(f"unknown tier {tier!r}; expected one of {', '.join(TIERS)}") from None


def tiers_up_to(tier: str) -> tuple[Tier, ...]:
    """``tier`` and every tier below it, lowest first."""
    return TIERS[: tier_rank(tier) + 1]

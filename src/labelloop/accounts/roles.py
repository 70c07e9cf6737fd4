"""Roles and what each may do: the one permission table of labelloop.

Roles are ordered: admin > expert > reviewer > annotator. A user may work at their own tier and
every tier below it (an expert can also review and annotate).
"""

from __future__ import annotations

from labelloop.tiers import TIERS, Tier, tiers_up_to

# The roles that work are the tiers; an admin also works at the top one.
ROLES: tuple[str, ...] = (*TIERS, "admin")
RANK = {role: n for n, role in enumerate(ROLES)}
TIER_OF_ROLE: dict[str, Tier] = {**{tier: tier for tier in TIERS}, "admin": TIERS[-1]}

# The lowest role allowed to perform each action. Every API endpoint names one of these.
PERMISSIONS: dict[str, str] = {
    "project.read": "annotator",
    "task.work": "annotator",
    "task.review": "reviewer",
    "task.adjudicate": "expert",
    "item.read": "reviewer",
    "annotation.read": "reviewer",
    "model.read": "reviewer",
    "metrics.read": "reviewer",
    "project.create": "admin",
    "project.manage": "admin",
    "item.import": "admin",
    "model.train": "admin",
    "dataset.export": "admin",
    "user.manage": "admin",
    "audit.read": "admin",
    "server.metrics": "admin",
}


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may perform ``action``."""
    return RANK[role] >= RANK[PERMISSIONS[action]]


def tiers_for(role: str) -> tuple[Tier, ...]:
    """Work tiers a role may take tasks from."""
    return tiers_up_to(TIER_OF_ROLE[role])

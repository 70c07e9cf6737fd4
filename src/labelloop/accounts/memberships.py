"""Who works on a project, at which tier, with which skills; and who is paused for low accuracy.

A membership narrows what a user's role allows on one project: its tier caps the tiers they take
work from, and its skills open the items that skill rules reserve. A user without a membership
works at their role's tier with no skills. An annotator whose estimated accuracy fell under the
project's floor is *flagged*: they get no new work there until an admin clears the flag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from labelloop.accounts.roles import RANK, TIER_OF_ROLE, tiers_for
from labelloop.config import TIERS
from labelloop.errors import ConfigError, NotFoundError
from labelloop.store import tables as t
from labelloop.store.engine import writer
from labelloop.store.events import append_event


@dataclass(frozen=True)
class Membership:
    """One user's standing on one project."""

    username: str
    role: str
    tier: str
    skills: tuple[str, ...]
    flagged_at: datetime | None = None
    flag_reason: str | None = None

    @property
    def tiers(self) -> tuple[str, ...]:
        """Tiers this person may take tasks from on the project."""
        return tuple(tier for tier in tiers_for(self.role) if RANK[tier] <= RANK[self.tier])


def _user(conn: Connection, username: str) -> tuple[int, str]:
    row = conn.execute(
        select(t.users.c.id, t.users.c.role).where(
            t.users.c.username == username, t.users.c.is_active
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no user called {username!r}")
    return row.id, row.role


def _from_row(row: Row[Any], username: str, role: str) -> Membership:
    return Membership(username, role, row.tier, tuple(row.skills), row.flagged_at, row.flag_reason)


def _clean_skills(skills: Iterable[str]) -> tuple[str, ...]:
    out = sorted({s.strip() for s in skills if s.strip()})
    for skill in out:
        if len(skill) > 64:
            raise ConfigError(f"skills: {skill[:20]!r}... is longer than 64 characters")
    return tuple(out)


def membership(conn: Connection, *, project_id: int, username: str) -> Membership:
    """``username``'s membership of the project (the role's defaults where none is stored)."""
    user_id, role = _user(conn, username)
    m = t.memberships
    row = conn.execute(
        select(m).where(m.c.project_id == project_id, m.c.user_id == user_id)
    ).first()
    if row is None:
        return Membership(username, role, TIER_OF_ROLE[role], ())
    return _from_row(row, username, role)


def get_membership(engine: Engine, *, project_id: int, username: str) -> Membership:
    """:func:`membership` in its own connection."""
    with engine.connect() as conn:
        return membership(conn, project_id=project_id, username=username)


def list_memberships(engine: Engine, *, project_id: int) -> list[Membership]:
    """Stored memberships of the project, by username."""
    m, u = t.memberships, t.users
    with engine.connect() as conn:
        rows = conn.execute(
            select(m, u.c.username, u.c.role)
            .join(u, u.c.id == m.c.user_id)
            .where(m.c.project_id == project_id)
            .order_by(u.c.username)
        ).all()
    return [_from_row(r, r.username, r.role) for r in rows]


def set_membership(
    engine: Engine,
    *,
    project_id: int,
    username: str,
    tier: str | None = None,
    skills: Iterable[str] = (),
    actor: str,
) -> Membership:
    """Store ``username``'s tier (at most their role's) and skills on the project; clears a flag."""
    if tier is not None and tier not in TIERS:
        raise ConfigError(f"tier: {tier!r} is not one of {', '.join(TIERS)}")
    clean = _clean_skills(skills)
    m = t.memberships
    with writer(engine).begin() as conn:
        user_id, role = _user(conn, username)
        top = TIER_OF_ROLE[role]
        tier = tier or top
        if RANK[tier] > RANK[top]:
            raise ConfigError(f"tier: a {role} cannot work at the {tier} tier")
        values = {"tier": tier, "skills": list(clean), "flagged_at": None, "flag_reason": None}
        done = conn.execute(
            m.update().where(m.c.project_id == project_id, m.c.user_id == user_id).values(**values)
        ).rowcount
        if not done:
            conn.execute(m.insert().values(project_id=project_id, user_id=user_id, **values))
        append_event(
            conn,
            actor=actor,
            action="membership.set",
            project_id=project_id,
            payload={"username": username, "tier": tier, "skills": list(clean)},
        )
    return Membership(username, role, tier, clean)


def flag_member(
    conn: Connection, *, project_id: int, username: str, reason: str, now: datetime
) -> None:
    """Pause ``username`` on the project (inside the caller's write transaction)."""
    user_id, role = _user(conn, username)
    m = t.memberships
    values = {"flagged_at": now, "flag_reason": reason}
    done = conn.execute(
        m.update().where(m.c.project_id == project_id, m.c.user_id == user_id).values(**values)
    ).rowcount
    if not done:
        conn.execute(
            m.insert().values(
                project_id=project_id,
                user_id=user_id,
                tier=TIER_OF_ROLE[role],
                skills=[],
                **values,
            )
        )
    append_event(
        conn,
        actor="labelloop",
        action="membership.flag",
        project_id=project_id,
        payload={"username": username, "reason": reason},
    )

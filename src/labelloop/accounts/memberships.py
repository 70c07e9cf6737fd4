"""Who works on a project, at which tier, with which skills; and who is paused for low accuracy.

Memberships are the access list: an admin may see and act on every project, anyone else only on
projects where they have a membership. A membership narrows what a user's role allows there: its
tier caps the role (a reviewer at the annotator tier may do on that project only what an annotator
may, reads included) and the tiers they take work from, and its skills open the items that skill
rules reserve. An annotator whose estimated accuracy fell under the project's floor is *flagged*:
they get no new work there until an admin clears the flag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from labelloop.accounts.roles import RANK, TIER_OF_ROLE, allowed, tiers_for
from labelloop.errors import ConfigError, NotFoundError
from labelloop.store import tables as t
from labelloop.store.engine import writer
from labelloop.store.events import append_event
from labelloop.tiers import TIERS


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

    @property
    def capped_role(self) -> str:
        """The role this person acts with on the project: their role, capped at the tier (tier
        names are role names). Admins keep their role: the tier caps only the work they take."""
        if sees_every_project(self.role) or RANK[self.role] <= RANK[self.tier]:
            return self.role
        return self.tier

    def may(self, action: str) -> bool:
        """Whether this person may perform ``action`` on the project."""
        return allowed(self.capped_role, action)


def sees_every_project(role: str) -> bool:
    """Whether a user of ``role`` may see and act on projects without a membership (admins)."""
    return role == "admin"


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
    """``username``'s membership of the project; an admin without one works at their role's
    tier with no skills. Anyone else without one is not on the project: :class:`NotFoundError`."""
    user_id, role = _user(conn, username)
    m = t.memberships
    row = conn.execute(
        select(m).where(m.c.project_id == project_id, m.c.user_id == user_id)
    ).first()
    if row is not None:
        return _from_row(row, username, role)
    if sees_every_project(role):
        return Membership(username, role, TIER_OF_ROLE[role], ())
    raise NotFoundError(f"{username!r} is not a member of this project")


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


def join(conn: Connection, *, project_id: int, username: str, actor: str) -> bool:
    """Make ``username`` a member at their role's tier (inside the caller's write transaction);
    ``False``, changing nothing, if they are one already or no active user has that name."""
    m = t.memberships
    try:
        user_id, role = _user(conn, username)
    except NotFoundError:
        return False
    if conn.execute(
        select(m.c.id).where(m.c.project_id == project_id, m.c.user_id == user_id)
    ).first():
        return False
    tier = TIER_OF_ROLE[role]
    conn.execute(m.insert().values(project_id=project_id, user_id=user_id, tier=tier, skills=[]))
    append_event(
        conn,
        actor=actor,
        action="membership.set",
        project_id=project_id,
        payload={"username": username, "tier": tier, "skills": []},
    )
    return True


def remove_membership(conn: Connection, *, project_id: int, username: str, actor: str) -> None:
    """Take ``username`` off the project (inside the caller's write transaction)."""
    m = t.memberships
    user_id, _role = _user(conn, username)
    gone = conn.execute(
        m.delete().where(m.c.project_id == project_id, m.c.user_id == user_id)
    ).rowcount
    if not gone:
        raise NotFoundError(f"{username!r} is not a member of this project")
    append_event(
        conn,
        actor=actor,
        action="membership.remove",
        project_id=project_id,
        payload={"username": username},
    )


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
    """Pause ``username`` on the project (inside the caller's write transaction). A flag never
    makes a member: someone off the project (answers stored through the library) stays off it."""
    user_id, role = _user(conn, username)
    m = t.memberships
    values = {"flagged_at": now, "flag_reason": reason}
    done = conn.execute(
        m.update().where(m.c.project_id == project_id, m.c.user_id == user_id).values(**values)
    ).rowcount
    if not done and sees_every_project(role):
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

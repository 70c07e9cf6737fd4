"""Who works on a project: tiers and skills per person (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from labelloop.accounts.memberships import Membership, list_memberships, set_membership
from labelloop.server.deps import EngineDep, ProjectDep, ProjectManager
from labelloop.server.schemas import MembershipIn, MembershipOut

router = APIRouter(prefix="/projects/{name}/members", tags=["members"])


def _out(m: Membership) -> MembershipOut:
    return MembershipOut(
        username=m.username,
        role=m.role,
        tier=m.tier,
        skills=list(m.skills),
        flagged_at=m.flagged_at,
        flag_reason=m.flag_reason,
    )


@router.get("")
def members(_user: ProjectManager, project: ProjectDep, engine: EngineDep) -> list[MembershipOut]:
    """Stored memberships (users without one work at their role's tier, with no skills)."""
    return [_out(m) for m in list_memberships(engine, project_id=project.id)]


@router.put("/{username}")
def set_member(
    username: str, body: MembershipIn, user: ProjectManager, project: ProjectDep, engine: EngineDep
) -> MembershipOut:
    """Set a person's tier (at most their role's) and skills on the project; clears a flag."""
    member = set_membership(
        engine,
        project_id=project.id,
        username=username,
        tier=body.tier,
        skills=body.skills,
        actor=user.username,
    )
    return _out(member)

"""Who works on a project: members, their tiers and skills (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from labelloop.accounts.memberships import (
    Membership,
    list_memberships,
    set_membership,
)
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
    """The project's members (admins see every project without one)."""
    return [_out(m) for m in list_memberships(engine, project_id=project.id)]


@router.put("/{username}")
def set_member(
    username: str, body: MembershipIn, user: ProjectManager, project: ProjectDep, engine: EngineDep
) -> MembershipOut:
    """Add a person to the project or change their tier (at most their role's) and skills;
    clears a flag."""
    member = set_membership(
        engine,
        project_id=project.id,
        username=username,
        tier=body.tier,
        skills=body.skills,
        actor=user.username,
    )
    return _out(member)


@router.delete("/{username}", status_code=204)
def remove_member(username: str, user: ProjectManager, project: ProjectDep) -> None:
    """Take a person off the project: it disappears for them, and their leases go back."""
    project.remove_member(username, actor=user.username)

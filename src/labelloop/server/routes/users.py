"""Managing users (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from labelloop.accounts.users import create_user, list_users, set_role
from labelloop.server.deps import EngineDep, UserManager
from labelloop.server.schemas import RoleIn, UserIn, UserOut

router = APIRouter(prefix="/users", tags=["users"])


@router.get("")
def users(_user: UserManager, engine: EngineDep) -> list[UserOut]:
    """Every active user."""
    return [UserOut(username=u.username, role=u.role) for u in list_users(engine)]


@router.post("", status_code=201)
def add_user(body: UserIn, user: UserManager, engine: EngineDep) -> UserOut:
    """Create a user."""
    new = create_user(engine, body.username, body.password, body.role, actor=user.username)
    return UserOut(username=new.username, role=new.role)


@router.put("/{username}/role")
def change_role(username: str, body: RoleIn, user: UserManager, engine: EngineDep) -> UserOut:
    """Change a user's role."""
    set_role(engine, username, body.role, actor=user.username)
    return UserOut(username=username, role=body.role)

"""Managing users (admins): accounts, roles, deactivation, password resets, API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from labelloop.accounts.credentials import log_out_everywhere, set_active, set_password
from labelloop.accounts.users import (
    create_user,
    hash_password,
    list_tokens,
    list_users,
    revoke_token,
    set_role,
)
from labelloop.errors import ConflictError
from labelloop.server.deps import EngineDep, PasswordsDep, RowId, UserManager
from labelloop.server.routes.auth import ended_out
from labelloop.server.schemas import (
    AccountOut,
    ActiveIn,
    LoggedOutOut,
    PasswordIn,
    RoleIn,
    TokenInfoOut,
    UserIn,
    UserOut,
)

router = APIRouter(prefix="/users", tags=["users"])

# A username in a path: what create_user allows, so that no NUL or oddity reaches the store.
Username = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[\w.-]+$")]


@router.get("")
def users(
    _user: UserManager, engine: EngineDep, include_inactive: bool = False
) -> list[AccountOut]:
    """Every active user; deactivated ones too with ``include_inactive``."""
    found = list_users(engine, include_inactive=include_inactive)
    return [AccountOut(username=u.username, role=u.role, active=u.active) for u in found]


@router.post("", status_code=201)
def add_user(body: UserIn, user: UserManager, engine: EngineDep) -> UserOut:
    """Create a user."""
    new = create_user(engine, body.username, body.password, body.role, actor=user.username)
    return UserOut(username=new.username, role=new.role)


@router.put("/{username}/role")
def change_role(username: Username, body: RoleIn, user: UserManager, engine: EngineDep) -> UserOut:
    """Change a user's role."""
    set_role(engine, username, body.role, actor=user.username)
    return UserOut(username=username, role=body.role)


@router.put("/{username}/active")
def change_active(
    username: Username, body: ActiveIn, user: UserManager, engine: EngineDep
) -> LoggedOutOut:
    """Deactivate a user (they can no longer log in; every session and API token of theirs
    ends) or activate them again. Not one's own account, nor the last active admin (409)."""
    ended = set_active(engine, username, body.active, actor=user.username)
    if ended is None:  # activated, or already as asked
        return LoggedOutOut(username=username, sessions_ended=0, tokens_revoked=0)
    return ended_out(ended)


@router.put("/{username}/password")
async def reset_password(
    username: Username,
    body: PasswordIn,
    user: UserManager,
    engine: EngineDep,
    passwords: PasswordsDep,
) -> LoggedOutOut:
    """Set a user's password (an admin's reset); every session and API token of theirs ends.
    One's own password is changed with ``POST /auth/password``, which asks for the old one."""
    if username == user.username:
        raise ConflictError("use POST /api/v1/auth/password to change your own password")
    new_hash = await passwords.hash(hash_password, body.password)
    ended = await run_in_threadpool(
        set_password, engine, username, new_hash, actor=user.username, reason="reset"
    )
    return ended_out(ended)


@router.post("/{username}/logout-everywhere")
def logout_user_everywhere(
    username: Username, user: UserManager, engine: EngineDep
) -> LoggedOutOut:
    """End every session and API token of a user."""
    return ended_out(log_out_everywhere(engine, username, actor=user.username))


@router.get("/{username}/tokens")
def user_tokens(username: Username, _user: UserManager, engine: EngineDep) -> list[TokenInfoOut]:
    """A user's API tokens (never the tokens themselves), expired ones included."""
    tokens = list_tokens(engine, username=username)
    return [TokenInfoOut.model_validate(info, from_attributes=True) for info in tokens]


@router.delete("/{username}/tokens/{token_id}", status_code=204)
def revoke_user_token(
    username: Username, token_id: RowId, user: UserManager, engine: EngineDep
) -> None:
    """Revoke one of a user's API tokens."""
    revoke_token(engine, token_id=token_id, username=username, actor=user.username)

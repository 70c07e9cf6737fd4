"""Logging in and out (session cookie + CSRF token), who am I, one's password and API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from labelloop.accounts.credentials import Ended, log_out_everywhere, set_password
from labelloop.accounts.users import (
    create_session,
    end_session,
    hash_password,
    issue_token,
    list_tokens,
    revoke_token,
)
from labelloop.errors import AuthError, PermissionDenied
from labelloop.server.deps import (
    SESSION_COOKIE,
    CurrentUser,
    EngineDep,
    PasswordsDep,
    RowId,
    SettingsDep,
    client_address,
)
from labelloop.server.schemas import (
    LoggedOutOut,
    LoginIn,
    LoginOut,
    PasswordChangeIn,
    TokenIn,
    TokenInfoOut,
    TokenOut,
    UserOut,
)

router = APIRouter(prefix="/auth", tags=["auth"])


def clear_cookie(response: Response) -> None:
    """Tell the browser to forget the session cookie."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def ended_out(ended: Ended) -> LoggedOutOut:
    """The answer to a "log out everywhere"."""
    return LoggedOutOut(
        username=ended.username, sessions_ended=ended.sessions, tokens_revoked=ended.tokens
    )


@router.post("/login")
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    engine: EngineDep,
    passwords: PasswordsDep,
) -> LoginOut:
    """Check the password, open a session, set its HttpOnly cookie, return the CSRF token.

    Too many failed logins for the account from this address, too many logins from this
    address, or too many passwords being checked at once: 429 with ``Retry-After``, and the
    password is not checked (see ``labelloop.server.passwords``)."""
    request.state.audit = {"kind": "auth.login", "username": body.username}
    user = await passwords.login(body.username, body.password, ip=client_address(request))
    session = await run_in_threadpool(create_session, engine, user)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        expires=session.expires_at,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return LoginOut(username=user.username, role=user.role, csrf_token=session.csrf_token)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, engine: EngineDep, _user: CurrentUser) -> None:
    """End the session of the cookie (if any) and clear the cookie."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        end_session(engine, cookie)
    clear_cookie(response)


@router.post("/logout-everywhere")
def logout_everywhere(response: Response, engine: EngineDep, user: CurrentUser) -> LoggedOutOut:
    """End every session and API token of the current user, this one included."""
    ended = log_out_everywhere(engine, user.username, actor=user.username)
    clear_cookie(response)
    return ended_out(ended)


@router.post("/password")
async def change_password(
    body: PasswordChangeIn,
    request: Request,
    response: Response,
    user: CurrentUser,
    engine: EngineDep,
    passwords: PasswordsDep,
) -> LoggedOutOut:
    """Change one's own password (the old one is checked within the login limits), then log
    out everywhere: every session and API token of the user ends, this one included."""
    request.state.audit = {"kind": "auth.password", "username": user.username}
    try:
        await passwords.login(user.username, body.old_password, ip=client_address(request))
    except AuthError:
        raise PermissionDenied("old_password: wrong password") from None
    new_hash = await passwords.hash(hash_password, body.new_password)
    ended = await run_in_threadpool(
        set_password, engine, user.username, new_hash, actor=user.username, reason="change"
    )
    clear_cookie(response)
    return ended_out(ended)


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    """Who is asking."""
    return UserOut(username=user.username, role=user.role)


@router.get("/tokens")
def my_tokens(user: CurrentUser, engine: EngineDep) -> list[TokenInfoOut]:
    """The current user's API tokens (never the tokens themselves), expired ones included."""
    tokens = list_tokens(engine, username=user.username)
    return [TokenInfoOut.model_validate(info, from_attributes=True) for info in tokens]


@router.post("/tokens", status_code=201)
def new_token(
    body: TokenIn, user: CurrentUser, engine: EngineDep, settings: SettingsDep
) -> TokenOut:
    """A new API token for the current user, shown once; it expires after ``days`` (default
    ``LABELLOOP_TOKEN_DAYS``); 409 when the user holds ``LABELLOOP_MAX_TOKENS_PER_USER``."""
    token, info = issue_token(
        engine,
        user,
        body.name,
        days=body.days or settings.token_days,
        max_tokens=settings.max_tokens_per_user,
    )
    return TokenOut(id=info.id, name=info.name, token=token, expires_at=info.expires_at)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_my_token(token_id: RowId, user: CurrentUser, engine: EngineDep) -> None:
    """Revoke one of the current user's API tokens (404 for anyone else's)."""
    revoke_token(engine, token_id=token_id, username=user.username, actor=user.username)

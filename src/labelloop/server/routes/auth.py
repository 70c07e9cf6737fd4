"""Logging in and out (session cookie + CSRF token), who am I, API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from labelloop.accounts import throttle
from labelloop.accounts.users import create_session, create_token, end_session
from labelloop.server.deps import SESSION_COOKIE, CurrentUser, EngineDep, SettingsDep
from labelloop.server.schemas import LoginIn, LoginOut, TokenIn, TokenOut, UserOut

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login")
def login(
    body: LoginIn, request: Request, response: Response, engine: EngineDep, settings: SettingsDep
) -> LoginOut:
    """Check the password, open a session, set its HttpOnly cookie, return the CSRF token.

    Too many failed logins for the username or from the client IP: 429 with ``Retry-After``."""
    request.state.audit = {"kind": "auth.login", "username": body.username}
    user = throttle.login(
        engine,
        body.username,
        body.password,
        ip=request.client.host if request.client else "unknown",
        limits=throttle.LoginLimits.from_settings(settings),
    )
    session = create_session(engine, user)
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
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    """Who is asking."""
    return UserOut(username=user.username, role=user.role)


@router.post("/tokens", status_code=201)
def new_token(body: TokenIn, user: CurrentUser, engine: EngineDep) -> TokenOut:
    """A new API token for the current user, shown once."""
    return TokenOut(name=body.name, token=create_token(engine, user, body.name))

"""Ending credentials: deactivating a user, changing or resetting a password, logging out
everywhere.

Each of these logs the user out everywhere, in one write transaction: it raises their credentials
epoch and deletes their browser sessions and API tokens. The epoch covers the race the deletes
cannot: a login or a token request that checked the old credentials a moment before stores a
session or token with the old epoch, which never authenticates
(:func:`~labelloop.accounts.users.session_for`, :func:`~labelloop.accounts.users.user_for_token`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, Engine, select

from labelloop.errors import ConflictError, NotFoundError
from labelloop.store import tables as t
from labelloop.store.engine import writer
from labelloop.store.events import append_event


@dataclass(frozen=True)
class Ended:
    """What logging a user out everywhere ended."""

    username: str
    sessions: int
    tokens: int


@dataclass(frozen=True)
class _Locked:
    id: int
    role: str
    is_active: bool


def _locked_user(conn: Connection, username: str) -> _Locked:
    row = conn.execute(
        select(t.users.c.id, t.users.c.role, t.users.c.is_active)
        .where(t.users.c.username == username)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFoundError(f"no user called {username!r}")
    return _Locked(row.id, row.role, row.is_active)


def _end_all(conn: Connection, user_id: int, username: str) -> Ended:
    u = t.users
    conn.execute(
        u.update().where(u.c.id == user_id).values(credentials_epoch=u.c.credentials_epoch + 1)
    )
    sessions = conn.execute(t.web_sessions.delete().where(t.web_sessions.c.user_id == user_id))
    tokens = conn.execute(t.api_tokens.delete().where(t.api_tokens.c.user_id == user_id))
    return Ended(username, sessions.rowcount, tokens.rowcount)


def _event(conn: Connection, actor: str, action: str, ended: Ended) -> None:
    payload = {"username": ended.username, "sessions": ended.sessions, "tokens": ended.tokens}
    append_event(conn, actor=actor, action=action, payload=payload)


def log_out_everywhere(engine: Engine, username: str, *, actor: str) -> Ended:
    """End every session and API token of ``username``."""
    with writer(engine).begin() as conn:
        user = _locked_user(conn, username)
        ended = _end_all(conn, user.id, username)
        _event(conn, actor, "user.logout_everywhere", ended)
    return ended


def set_password(
    engine: Engine,
    username: str,
    password_hash: str,
    *,
    actor: str,
    reason: Literal["change", "reset"],
) -> Ended:
    """Store a new password hash (from :func:`~labelloop.accounts.users.hash_password`) for
    ``username`` and log them out everywhere; ``reason``: the user changed it, or an admin reset
    it."""
    with writer(engine).begin() as conn:
        user = _locked_user(conn, username)
        conn.execute(
            t.users.update().where(t.users.c.id == user.id).values(password_hash=password_hash)
        )
        ended = _end_all(conn, user.id, username)
        _event(conn, actor, f"user.password.{reason}", ended)
    return ended


def set_active(engine: Engine, username: str, active: bool, *, actor: str) -> Ended | None:
    """Deactivate ``username`` (they cannot log in, and are logged out everywhere) or activate
    them again. Refused (:class:`ConflictError`) for one's own account and for the last active
    admin. What deactivating ended, or None when nothing changed."""
    u = t.users
    with writer(engine).begin() as conn:
        # The admins first, in one order, so that two admins deactivating each other wait in
        # turn (and the second finds the last admin) instead of deadlocking.
        admins = conn.execute(
            select(u.c.id)
            .where(u.c.role == "admin", u.c.is_active)
            .order_by(u.c.id)
            .with_for_update()
        ).all()
        user = _locked_user(conn, username)
        if user.is_active == active:
            return None
        if active:
            conn.execute(u.update().where(u.c.id == user.id).values(is_active=True))
            append_event(conn, actor=actor, action="user.activate", payload={"username": username})
            return None
        if actor == username:
            raise ConflictError("you cannot deactivate your own account")
        if user.role == "admin" and len(admins) <= 1:
            raise ConflictError(f"{username} is the last active admin")
        conn.execute(u.update().where(u.c.id == user.id).values(is_active=False))
        ended = _end_all(conn, user.id, username)
        _event(conn, actor, "user.deactivate", ended)
    return ended

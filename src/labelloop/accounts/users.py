"""Users, their passwords (argon2id), API tokens and browser sessions, in the store.

Secrets are never stored: passwords as argon2id hashes, tokens and session ids as SHA-256
digests (they are long random strings, so a fast hash is enough to make a stolen table useless).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, select

from labelloop.accounts.roles import ROLES
from labelloop.errors import AuthError, ConfigError, NotFoundError
from labelloop.store import tables as t
from labelloop.store.engine import writer
from labelloop.store.events import append_event

_hasher = PasswordHasher()
TOKEN_PREFIX = "ll_"
MIN_PASSWORD = 8


@dataclass(frozen=True)
class User:
    """Who is acting, as the server sees them."""

    id: int
    username: str
    role: str


@dataclass(frozen=True)
class Session:
    """A browser session: the cookie value (only returned once) and its CSRF token."""

    token: str
    csrf_token: str
    user: User
    expires_at: datetime


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(
    engine: Engine, username: str, password: str, role: str, *, actor: str = "admin"
) -> User:
    """Add a user; the username must be new, the role known, the password 8+ characters."""
    if role not in ROLES:
        raise ConfigError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password: must have at least {MIN_PASSWORD} characters")
    if (
        not username
        or len(username) > 100
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise ConfigError("username: letters, digits, '-', '_' and '.' only (1-100 characters)")
    with writer(engine).begin() as conn:
        if conn.execute(select(t.users.c.id).where(t.users.c.username == username)).first():
            raise ConfigError(f"username: {username!r} exists already")
        user_id = t.inserted_id(
            conn.execute(
                t.users.insert().values(
                    username=username,
                    password_hash=_hasher.hash(password),
                    role=role,
                    is_active=True,
                )
            )
        )
        append_event(
            conn,
            actor=actor,
            action="user.create",
            payload={"user_id": user_id, "username": username, "role": role},
        )
    return User(user_id, username, role)


def set_role(engine: Engine, username: str, role: str, *, actor: str) -> None:
    """Change a user's role."""
    if role not in ROLES:
        raise ConfigError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    with writer(engine).begin() as conn:
        done = conn.execute(
            t.users.update().where(t.users.c.username == username).values(role=role)
        ).rowcount
        if not done:
            raise NotFoundError(f"no user called {username!r}")
        append_event(
            conn, actor=actor, action="user.role", payload={"username": username, "role": role}
        )


def list_users(engine: Engine) -> list[User]:
    """Every active user."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.users.c.id, t.users.c.username, t.users.c.role)
            .where(t.users.c.is_active)
            .order_by(t.users.c.username)
        ).all()
    return [User(r.id, r.username, r.role) for r in rows]


def authenticate(engine: Engine, username: str, password: str) -> User:
    """The user whose password this is; :class:`AuthError` otherwise (same message for both)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(t.users).where(t.users.c.username == username, t.users.c.is_active)
        ).first()
    try:
        if row is None:
            _hasher.hash(password)  # spend the same time: do not reveal which usernames exist
            raise VerificationError
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise AuthError("wrong username or password") from None
    return User(row.id, row.username, row.role)


def create_token(engine: Engine, user: User, name: str) -> str:
    """A new API token for ``user``; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with writer(engine).begin() as conn:
        conn.execute(
            t.api_tokens.insert().values(user_id=user.id, name=name, token_hash=_digest(token))
        )
        append_event(conn, actor=user.username, action="token.create", payload={"name": name})
    return token


def user_for_token(engine: Engine, token: str) -> User:
    """The user an API token belongs to."""
    with engine.connect() as conn:
        row = conn.execute(
            select(t.users.c.id, t.users.c.username, t.users.c.role)
            .join(t.api_tokens, t.api_tokens.c.user_id == t.users.c.id)
            .where(t.api_tokens.c.token_hash == _digest(token), t.users.c.is_active)
        ).first()
    if row is None:
        raise AuthError("unknown or revoked API token")
    return User(row.id, row.username, row.role)


def create_session(engine: Engine, user: User, *, hours: float = 12) -> Session:
    """Open a browser session; the cookie value and CSRF token are returned once."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = t.utcnow() + timedelta(hours=hours)
    with writer(engine).begin() as conn:
        conn.execute(
            t.web_sessions.insert().values(
                user_id=user.id, token_hash=_digest(token), csrf_token=csrf, expires_at=expires
            )
        )
        append_event(conn, actor=user.username, action="session.open", payload={})
    return Session(token, csrf, user, expires)


def session_for(engine: Engine, token: str) -> Session:
    """The live session behind a cookie value (its ``token`` field is blank)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                t.users.c.id,
                t.users.c.username,
                t.users.c.role,
                t.web_sessions.c.csrf_token,
                t.web_sessions.c.expires_at,
            )
            .join(t.web_sessions, t.web_sessions.c.user_id == t.users.c.id)
            .where(t.web_sessions.c.token_hash == _digest(token), t.users.c.is_active)
        ).first()
    if row is None:
        raise AuthError("not logged in")
    expires = (
        row.expires_at
        if row.expires_at.tzinfo
        else row.expires_at.replace(tzinfo=t.utcnow().tzinfo)
    )
    if expires < t.utcnow():
        raise AuthError("session expired; log in again")
    return Session("", row.csrf_token, User(row.id, row.username, row.role), expires)


def end_session(engine: Engine, token: str) -> None:
    """Log out: the cookie stops working."""
    with writer(engine).begin() as conn:
        conn.execute(t.web_sessions.delete().where(t.web_sessions.c.token_hash == _digest(token)))

"""Users, their passwords (argon2id), API tokens and browser sessions, in the store.

Secrets are never stored: passwords as argon2id hashes, tokens and session ids as SHA-256
digests (they are long random strings, so a fast hash is enough to make a stolen table useless).
A session or token is valid while its user is active, it has not expired, and it carries its
user's credentials epoch (raised by :mod:`labelloop.accounts.credentials` to log out everywhere).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, select

from labelloop.accounts.roles import ROLES
from labelloop.errors import AuthError, ConfigError, ConflictError, NotFoundError
from labelloop.store import tables as t
from labelloop.store.engine import writer
from labelloop.store.events import append_event

_hasher = PasswordHasher()
TOKEN_PREFIX = "ll_"
MIN_PASSWORD = 8
MAX_TOKEN_DAYS = 3650
# How stale a token's last_used_at may get before a use writes it again (one write per hour).
LAST_USED_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class User:
    """Who is acting, as the server sees them; ``epoch``: the credentials epoch they were
    authenticated in."""

    id: int
    username: str
    role: str
    epoch: int = 0
    active: bool = True


@dataclass(frozen=True)
class Session:
    """A browser session: the cookie value (only returned once) and its CSRF token."""

    token: str
    csrf_token: str
    user: User
    expires_at: datetime


@dataclass(frozen=True)
class TokenInfo:
    """An API token as its owner and admins see it: never the token itself."""

    id: int
    username: str
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None

    @property
    def expired(self) -> bool:
        """Whether the token no longer authenticates."""
        return self.expires_at <= t.utcnow()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    """The argon2id hash of a new password (8+ characters)."""
    if len(password) < MIN_PASSWORD:
        raise ConfigError(f"password: must have at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def create_user(
    engine: Engine, username: str, password: str, role: str, *, actor: str = "admin"
) -> User:
    """Add a user; the username must be new, the role known, the password 8+ characters."""
    if role not in ROLES:
        raise ConfigError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if (
        not username
        or len(username) > 100
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise ConfigError("username: letters, digits, '-', '_' and '.' only (1-100 characters)")
    password_hash = hash_password(password)
    with writer(engine).begin() as conn:
        if conn.execute(select(t.users.c.id).where(t.users.c.username == username)).first():
            raise ConfigError(f"username: {username!r} exists already")
        user_id = t.inserted_id(
            conn.execute(
                t.users.insert().values(
                    username=username, password_hash=password_hash, role=role, is_active=True
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
    """Change a user's role; :class:`ConflictError` for taking the role of the last active admin
    (nobody could manage users, projects or the audit log through the server any more)."""
    if role not in ROLES:
        raise ConfigError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    u = t.users
    with writer(engine).begin() as conn:
        if role != "admin":
            # Locked in one order, as set_active does: two admins demoting each other wait in
            # turn, and the second finds the last admin.
            admins = (
                conn.execute(
                    select(u.c.username)
                    .where(u.c.role == "admin", u.c.is_active)
                    .order_by(u.c.id)
                    .with_for_update()
                )
                .scalars()
                .all()
            )
            if list(admins) == [username]:
                raise ConflictError(f"{username} is the last active admin")
        done = conn.execute(
            t.users.update().where(t.users.c.username == username).values(role=role)
        ).rowcount
        if not done:
            raise NotFoundError(f"no user called {username!r}")
        append_event(
            conn, actor=actor, action="user.role", payload={"username": username, "role": role}
        )


def list_users(engine: Engine, *, include_inactive: bool = False) -> list[User]:
    """Every active user (and the deactivated ones too with ``include_inactive``)."""
    u = t.users
    query = select(u.c.id, u.c.username, u.c.role, u.c.credentials_epoch, u.c.is_active)
    if not include_inactive:
        query = query.where(u.c.is_active)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(u.c.username)).all()
    return [User(r.id, r.username, r.role, r.credentials_epoch, r.is_active) for r in rows]


def authenticate(engine: Engine, username: str, password: str) -> User:
    """The active user whose password this is; :class:`AuthError` otherwise (same message for
    both). Computes exactly one argon2 hash either way."""
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
    return User(row.id, row.username, row.role, row.credentials_epoch)


def create_token(
    engine: Engine,
    user: User,
    name: str,
    *,
    days: int = 90,
    max_tokens: int | None = None,
    actor: str | None = None,
) -> str:
    """A new API token for ``user`` (see :func:`issue_token`): the plain token, shown once."""
    token, _info = issue_token(engine, user, name, days=days, max_tokens=max_tokens, actor=actor)
    return token


def issue_token(
    engine: Engine,
    user: User,
    name: str,
    *,
    days: int = 90,
    max_tokens: int | None = None,
    actor: str | None = None,
) -> tuple[str, TokenInfo]:
    """A new API token for ``user``, valid for ``days``, and what is kept of it; the plain token
    is returned once and never stored. Refused (:class:`ConflictError`) when the user already
    holds ``max_tokens`` unexpired tokens, or when their credentials were revoked since ``user``
    was read."""
    if not name or len(name) > 100 or "\x00" in name:
        raise ConfigError("name: 1-100 characters, no NUL")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ConfigError(f"days: must be an integer in [1, {MAX_TOKEN_DAYS}]. Got {days}.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = t.utcnow()
    expires = now + timedelta(days=days)
    u, k = t.users, t.api_tokens
    with writer(engine).begin() as conn:
        owner = conn.execute(
            select(u.c.credentials_epoch, u.c.is_active).where(u.c.id == user.id).with_for_update()
        ).first()
        if owner is None or not owner.is_active or owner.credentials_epoch != user.epoch:
            raise ConflictError(f"{user.username}'s credentials were revoked; log in again")
        if max_tokens is not None:
            live = conn.execute(
                select(func.count()).where(k.c.user_id == user.id, k.c.expires_at > now)
            ).scalar_one()
            if live >= max_tokens:
                raise ConflictError(
                    f"{user.username} holds {live} unexpired API tokens, the most allowed "
                    f"(LABELLOOP_MAX_TOKENS_PER_USER={max_tokens}); revoke one first"
                )
        token_id = t.inserted_id(
            conn.execute(
                k.insert().values(
                    user_id=user.id,
                    name=name,
                    token_hash=_digest(token),
                    created_at=now,
                    expires_at=expires,
                    epoch=user.epoch,
                )
            )
        )
        append_event(
            conn,
            actor=actor or user.username,
            action="token.create",
            payload={"token_id": token_id, "username": user.username, "name": name, "days": days},
        )
    return token, TokenInfo(token_id, user.username, name, now, expires, None)


def user_for_token(engine: Engine, token: str) -> User:
    """The user an API token belongs to, if the token is live."""
    u, k = t.users, t.api_tokens
    with engine.connect() as conn:
        row = conn.execute(
            select(
                u.c.id,
                u.c.username,
                u.c.role,
                u.c.credentials_epoch,
                k.c.id.label("token_id"),
                k.c.expires_at,
                k.c.last_used_at,
            )
            .join(k, k.c.user_id == u.c.id)
            .where(
                k.c.token_hash == _digest(token), u.c.is_active, k.c.epoch == u.c.credentials_epoch
            )
        ).first()
    if row is None:
        raise AuthError("unknown or revoked API token")
    now = t.utcnow()
    if t.aware(row.expires_at) <= now:
        raise AuthError("API token expired; create a new one")
    if row.last_used_at is None or t.aware(row.last_used_at) < now - LAST_USED_EVERY:
        with writer(engine).begin() as conn:
            conn.execute(k.update().where(k.c.id == row.token_id).values(last_used_at=now))
    return User(row.id, row.username, row.role, row.credentials_epoch)


def list_tokens(engine: Engine, *, username: str | None = None) -> list[TokenInfo]:
    """The API tokens of ``username`` (every user's when None), expired ones included, newest
    first; :class:`NotFoundError` for an unknown username."""
    u, k = t.users, t.api_tokens
    query = select(k, u.c.username).join(u, u.c.id == k.c.user_id)
    with engine.connect() as conn:
        if username is not None:
            if conn.execute(select(u.c.id).where(u.c.username == username)).first() is None:
                raise NotFoundError(f"no user called {username!r}")
            query = query.where(u.c.username == username)
        rows = conn.execute(query.order_by(k.c.id.desc())).all()
    return [
        TokenInfo(
            r.id,
            r.username,
            r.name,
            t.aware(r.created_at),
            t.aware(r.expires_at),
            t.aware(r.last_used_at) if r.last_used_at else None,
        )
        for r in rows
    ]


def revoke_token(
    engine: Engine, *, token_id: int, actor: str, username: str | None = None
) -> TokenInfo:
    """Delete API token ``token_id`` (only if it is ``username``'s, when given): it stops
    working at once. :class:`NotFoundError` otherwise, worded the same whoever owns it."""
    u, k = t.users, t.api_tokens
    with writer(engine).begin() as conn:
        query = select(k, u.c.username).join(u, u.c.id == k.c.user_id).where(k.c.id == token_id)
        if username is not None:
            query = query.where(u.c.username == username)
        row = conn.execute(query).first()
        if row is None:
            whose = f" of {username!r}" if username is not None else ""
            raise NotFoundError(f"no API token {token_id}{whose}")
        conn.execute(k.delete().where(k.c.id == token_id))
        append_event(
            conn,
            actor=actor,
            action="token.revoke",
            payload={"token_id": token_id, "username": row.username, "name": row.name},
        )
    last = t.aware(row.last_used_at) if row.last_used_at else None
    return TokenInfo(
        row.id, row.username, row.name, t.aware(row.created_at), t.aware(row.expires_at), last
    )


def create_session(engine: Engine, user: User, *, hours: float = 12) -> Session:
    """Open a browser session; the cookie value and CSRF token are returned once. A session
    opened for a ``user`` whose credentials were revoked since it was read never works."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = t.utcnow() + timedelta(hours=hours)
    with writer(engine).begin() as conn:
        conn.execute(
            t.web_sessions.insert().values(
                user_id=user.id,
                token_hash=_digest(token),
                csrf_token=csrf,
                expires_at=expires,
                epoch=user.epoch,
            )
        )
        append_event(conn, actor=user.username, action="session.open", payload={})
    return Session(token, csrf, user, expires)


def session_for(engine: Engine, token: str) -> Session:
    """The live session behind a cookie value (its ``token`` field is blank)."""
    u, s = t.users, t.web_sessions
    with engine.connect() as conn:
        row = conn.execute(
            select(
                u.c.id,
                u.c.username,
                u.c.role,
                u.c.credentials_epoch,
                s.c.csrf_token,
                s.c.expires_at,
            )
            .join(s, s.c.user_id == u.c.id)
            .where(
                s.c.token_hash == _digest(token),
                u.c.is_active,
                s.c.epoch == u.c.credentials_epoch,
            )
        ).first()
    if row is None:
        raise AuthError("not logged in")
    expires = t.aware(row.expires_at)
    if expires < t.utcnow():
        raise AuthError("session expired; log in again")
    user = User(row.id, row.username, row.role, row.credentials_epoch)
    return Session("", row.csrf_token, user, expires)


def end_session(engine: Engine, token: str) -> None:
    """Log out: the cookie stops working."""
    with writer(engine).begin() as conn:
        conn.execute(t.web_sessions.delete().where(t.web_sessions.c.token_hash == _digest(token)))

"""Login rate limiting across every worker process: the failures are counted in the store.

At most ``max_failures`` failed logins per username and per client IP within a sliding window
(table ``login_failures``). Over the limit, :func:`login` raises :class:`RateLimited` before the
password is even looked at; its ``retry_after`` is when the oldest counted failure leaves the
window. A successful login forgets the failures of that username from that IP only, so it does
not reset what other IPs have tried. Several workers checking at the same instant may let a few
attempts more through than the limit; none can go on for long.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select

from labelloop.accounts.users import User, authenticate
from labelloop.errors import AuthError, RateLimited
from labelloop.settings import Settings
from labelloop.store import tables as t
from labelloop.store.engine import writer


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins (per username, per IP) a window of ``window_seconds`` allows."""

    max_failures: int
    window_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        """The limits of ``login_max_failures`` and ``login_window_seconds``."""
        return cls(settings.login_max_failures, settings.login_window_seconds)

    @property
    def window(self) -> timedelta:
        """The window as a duration."""
        return timedelta(seconds=self.window_seconds)


def _aware(at: datetime) -> datetime:
    # SQLite gives naive UTC datetimes back, PostgreSQL aware ones.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def check(engine: Engine, *, username: str, ip: str, limits: LoginLimits, now: datetime) -> None:
    """Raise :class:`RateLimited` if ``username`` or ``ip`` used up its failures."""
    since = now - limits.window
    keys = ((t.login_failures.c.username, username, "username"), (t.login_failures.c.ip, ip, "IP"))
    with engine.connect() as conn:
        for column, value, what in keys:
            recent = list(
                conn.execute(
                    select(t.login_failures.c.at)
                    .where(column == value, t.login_failures.c.at > since)
                    .order_by(t.login_failures.c.at.desc())
                    .limit(limits.max_failures)
                ).scalars()
            )
            if len(recent) >= limits.max_failures:
                frees_at = _aware(recent[-1]) + limits.window
                wait = max(1, math.ceil((frees_at - now).total_seconds()))
                raise RateLimited(
                    f"too many failed logins for this {what} "
                    f"({limits.max_failures} in {limits.window_seconds} s)",
                    retry_after=wait,
                )


def record_failure(
    engine: Engine, *, username: str, ip: str, limits: LoginLimits, now: datetime
) -> None:
    """Count one failed login; failures older than the window are dropped on the way."""
    with writer(engine).begin() as conn:
        conn.execute(delete(t.login_failures).where(t.login_failures.c.at <= now - limits.window))
        conn.execute(t.login_failures.insert().values(username=username, ip=ip, at=now))


def forget(engine: Engine, *, username: str, ip: str) -> None:
    """A successful login: drop this username's failures from this IP (and no others)."""
    with writer(engine).begin() as conn:
        conn.execute(
            delete(t.login_failures).where(
                t.login_failures.c.username == username, t.login_failures.c.ip == ip
            )
        )


def login(
    engine: Engine,
    username: str,
    password: str,
    *,
    ip: str,
    limits: LoginLimits,
    now: datetime | None = None,
) -> User:
    """:func:`~labelloop.accounts.users.authenticate`, within the limits; failures are counted."""
    now = now or t.utcnow()
    ip = ip[:64]
    check(engine, username=username, ip=ip, limits=limits, now=now)
    try:
        user = authenticate(engine, username, password)
    except AuthError:
        record_failure(engine, username=username, ip=ip, limits=limits, now=now)
        raise
    forget(engine, username=username, ip=ip)
    return user

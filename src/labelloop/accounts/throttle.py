"""Login limits across every worker process, counted in the store *before* a password is hashed.

:func:`reserve` records an attempt (table ``login_failures``) while it holds the store's one
login lock (SQLite's write lock; a PostgreSQL advisory lock), so concurrent guesses are counted
one after the other and no more than the limit of them reach the password hash. It refuses with
:class:`RateLimited` (and a ``retry_after``: when the oldest counted attempt leaves the window)
when, within the sliding window,

- the account had ``max_failures`` failed logins *from this client address*, or
- this address made ``max_attempts`` logins, failed or not, whatever the accounts.

No limit is kept per account alone: then anyone could lock the real user out by failing on
purpose. Failures from elsewhere instead earn the account a short delay before each check
(:attr:`Reservation.delay`: from ``max_failures`` failures on, doubling from
:data:`BACKOFF_START` up to ``backoff_max_seconds``). The delay slows a guesser spread over
many addresses and costs the real user, logging in from their own address, that moment only.

A reserved attempt counts as a failure until :func:`succeeded` marks it (and that account's
earlier failures from that address) ok; a success still counts as an attempt of its address.
:func:`release` drops an attempt whose password was never checked.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, text

from labelloop.errors import RateLimited
from labelloop.settings import Settings
from labelloop.store import tables as t
from labelloop.store.engine import writer

BACKOFF_START = 0.1  # seconds of delay at the max_failures-th failure of an account
_LOCK_KEY = 7_314_160  # PostgreSQL advisory lock serialising the login counts
MAX_ADDRESS = 64
IPV6_PREFIX = 64  # one IPv6 client, as limits see it: a /64 (one subscriber's usual share)


def address_key(ip: str) -> str:
    """The client ``ip`` as the limits count it: an IPv6 address as its /64 network, since
    whoever holds one address of a /64 usually holds all 2**64 of them and could otherwise
    rotate through them past every per-address limit; an IPv4-mapped one as its IPv4 address;
    anything else as it is."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)


@dataclass(frozen=True)
class LoginLimits:
    """The login limits within a sliding window of ``window_seconds``."""

    max_failures: int
    window_seconds: int
    max_attempts: int = 100
    backoff_max_seconds: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        """The limits of the ``login_*`` settings."""
        return cls(
            settings.login_max_failures,
            settings.login_window_seconds,
            settings.login_max_attempts,
            settings.login_backoff_max_seconds,
        )

    @property
    def window(self) -> timedelta:
        """The window as a duration."""
        return timedelta(seconds=self.window_seconds)

    def backoff(self, failures: int) -> float:
        """Seconds to wait before checking a password of an account with ``failures`` recent
        failures (from anywhere)."""
        over = failures - self.max_failures
        if over < 0:
            return 0.0
        return min(self.backoff_max_seconds, BACKOFF_START * 2 ** min(over, 32))


@dataclass(frozen=True)
class Reservation:
    """One counted login attempt; check the password after waiting ``delay`` seconds."""

    id: int
    username: str
    ip: str
    delay: float


def _lock(conn: Connection) -> None:
    # SQLite: the write transaction (BEGIN IMMEDIATE) already excludes every other writer.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


def _refuse_if_full(
    conn: Connection, what: str, limit: int, limits: LoginLimits, now: datetime, *where: Any
) -> None:
    """Raise :class:`RateLimited` if ``limit`` attempts match ``where`` in the window."""
    lf = t.login_failures
    recent = list(
        conn.execute(
            select(lf.c.at)
            .where(lf.c.at > now - limits.window, *where)
            .order_by(lf.c.at.desc())
            .limit(limit)
        ).scalars()
    )
    if len(recent) >= limit:
        frees_at = t.aware(recent[-1]) + limits.window
        wait = max(1, math.ceil((frees_at - now).total_seconds()))
        raise RateLimited(f"{what} ({limit} in {limits.window_seconds} s)", retry_after=wait)


def reserve(
    engine: Engine, *, username: str, ip: str, limits: LoginLimits, now: datetime | None = None
) -> Reservation:
    """Count a login attempt for ``username`` from ``ip``, or raise :class:`RateLimited`."""
    now = now or t.utcnow()
    ip = address_key(ip)[:MAX_ADDRESS]
    lf = t.login_failures
    with writer(engine).begin() as conn:
        _lock(conn)
        conn.execute(delete(lf).where(lf.c.at <= now - limits.window))
        _refuse_if_full(
            conn,
            "too many failed logins for this account from this address",
            limits.max_failures,
            limits,
            now,
            lf.c.username == username,
            lf.c.ip == ip,
            ~lf.c.ok,
        )
        _refuse_if_full(
            conn,
            "too many logins from this address",
            limits.max_attempts,
            limits,
            now,
            lf.c.ip == ip,
        )
        failures = conn.execute(
            select(func.count()).where(
                lf.c.username == username, ~lf.c.ok, lf.c.at > now - limits.window
            )
        ).scalar_one()
        attempt = t.inserted_id(
            conn.execute(lf.insert().values(username=username, ip=ip, at=now, ok=False))
        )
    return Reservation(attempt, username, ip, limits.backoff(failures))


def succeeded(engine: Engine, reservation: Reservation) -> None:
    """The password was right: this account's failures from this address are forgiven (they
    still count as attempts of the address)."""
    lf = t.login_failures
    with writer(engine).begin() as conn:
        conn.execute(
            lf.update()
            .where(lf.c.username == reservation.username, lf.c.ip == reservation.ip, ~lf.c.ok)
            .values(ok=True)
        )


def release(engine: Engine, reservation: Reservation) -> None:
    """The password was never checked (the server was busy, the client left): uncount it."""
    with writer(engine).begin() as conn:
        conn.execute(delete(t.login_failures).where(t.login_failures.c.id == reservation.id))

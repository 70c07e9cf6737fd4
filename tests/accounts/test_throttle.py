"""Login limits in the store (SQLite and PostgreSQL), with the clock passed in."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from labelloop.accounts import throttle, users
from labelloop.errors import AuthError, RateLimited
from labelloop.store import tables as t
from labelloop.store.engine import current_revision, head_revision, make_engine, upgrade

PASSWORD = "correct horse battery"
LIMITS = throttle.LoginLimits(
    max_failures=3, window_seconds=60, max_attempts=6, backoff_max_seconds=2.0
)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(store_url: str):
    engine = make_engine(store_url)
    upgrade(engine)
    for name in ("ana", "bob", "cy"):
        users.create_user(engine, name, PASSWORD, "annotator")
    yield engine
    engine.dispose()


def _login(engine, username: str, password: str, *, ip: str, at: datetime) -> users.User:
    """A login as the server makes it: count the attempt, check the password, settle."""
    reservation = throttle.reserve(engine, username=username, ip=ip, limits=LIMITS, now=at)
    user = users.authenticate(engine, username, password)
    throttle.succeeded(engine, reservation)
    return user


def _fail(engine, *, ip: str, at: datetime, username: str = "ana") -> None:
    with pytest.raises(AuthError):
        _login(engine, username, "wrong password", ip=ip, at=at)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_an_account_is_limited_per_address_until_the_window_slides(engine) -> None:
    for i in range(3):
        _fail(engine, ip="10.0.0.1", at=_at(10 * i))
    with pytest.raises(RateLimited) as caught:
        throttle.reserve(engine, username="ana", ip="10.0.0.1", limits=LIMITS, now=_at(25))
    assert caught.value.retry_after == 35  # the oldest failure (t=0) leaves the window at t=60
    assert "this account from this address" in str(caught.value)
    assert _login(engine, "ana", PASSWORD, ip="10.0.0.1", at=_at(61)).username == "ana"


def test_a_strangers_failures_never_lock_the_owner_out_only_slow_the_account(engine) -> None:
    # A guesser spread over many addresses: each is refused after 3, none refuses ana.
    for i in range(30):
        ip = f"203.0.113.{i // 3}"
        _fail(engine, ip=ip, at=_at(i))
    with pytest.raises(RateLimited):
        throttle.reserve(engine, username="ana", ip="203.0.113.0", limits=LIMITS, now=_at(31))
    owner = throttle.reserve(engine, username="ana", ip="198.51.100.7", limits=LIMITS, now=_at(31))
    assert owner.delay == LIMITS.backoff_max_seconds  # 30 failures: the capped delay, no refusal
    assert users.authenticate(engine, "ana", PASSWORD).username == "ana"
    throttle.succeeded(engine, owner)
    # Other accounts are not slowed by ana's failures.
    bob = throttle.reserve(engine, username="bob", ip="198.51.100.7", limits=LIMITS, now=_at(32))
    assert bob.delay == 0


def test_the_delay_grows_from_the_limit_and_is_capped() -> None:
    assert [LIMITS.backoff(n) for n in (0, 2)] == [0, 0]
    assert [LIMITS.backoff(n) for n in (3, 4, 5)] == [0.1, 0.2, 0.4]
    assert LIMITS.backoff(10**6) == LIMITS.backoff_max_seconds


def test_an_address_is_limited_in_all_its_logins_valid_ones_too(engine) -> None:
    for i in range(6):
        name = ("ana", "bob", "cy")[i % 3]
        _login(engine, name, PASSWORD, ip="10.0.0.2", at=_at(i))
    with pytest.raises(RateLimited, match="too many logins from this address"):
        throttle.reserve(engine, username="ana", ip="10.0.0.2", limits=LIMITS, now=_at(7))
    # Another address is not concerned.
    assert _login(engine, "ana", PASSWORD, ip="10.0.0.3", at=_at(7)).username == "ana"


def test_a_success_forgives_that_accounts_failures_from_that_address_only(engine) -> None:
    _fail(engine, ip="10.0.0.4", at=_at(0))
    _fail(engine, ip="10.0.0.4", at=_at(1))
    _fail(engine, ip="10.0.0.5", at=_at(2))
    _login(engine, "ana", PASSWORD, ip="10.0.0.4", at=_at(3))
    for i in range(3):  # 10.0.0.4 starts again from zero
        _fail(engine, ip="10.0.0.4", at=_at(4 + i))
    with pytest.raises(RateLimited):
        throttle.reserve(engine, username="ana", ip="10.0.0.4", limits=LIMITS, now=_at(8))
    _fail(engine, ip="10.0.0.5", at=_at(9))  # 10.0.0.5 keeps its failure: this is its second
    _fail(engine, ip="10.0.0.5", at=_at(10))
    with pytest.raises(RateLimited):
        throttle.reserve(engine, username="ana", ip="10.0.0.5", limits=LIMITS, now=_at(11))


def test_a_released_attempt_is_not_counted(engine) -> None:
    for i in range(10):
        reservation = throttle.reserve(
            engine, username="ana", ip="10.0.0.6", limits=LIMITS, now=_at(i)
        )
        throttle.release(engine, reservation)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.login_failures)).scalar() == 0


def test_concurrent_attempts_never_pass_the_limit(engine) -> None:
    """30 threads guess at once: exactly the limit of them get to check a password."""
    start = threading.Barrier(30)
    admitted: list[throttle.Reservation] = []
    refused: list[RateLimited] = []

    def guess() -> None:
        start.wait()
        try:
            admitted.append(
                throttle.reserve(engine, username="ana", ip="10.0.0.7", limits=LIMITS, now=_at(0))
            )
        except RateLimited as exc:
            refused.append(exc)

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == LIMITS.max_failures
    assert len(refused) == 30 - LIMITS.max_failures


def test_old_attempts_are_pruned(engine) -> None:
    _fail(engine, ip="10.0.0.7", at=T0)
    _fail(engine, ip="10.0.0.8", at=T0 + timedelta(seconds=120))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.login_failures)).scalar() == 1


def test_the_migrations_go_down_and_up_keeping_tokens(engine) -> None:
    from alembic import command

    from labelloop.store.engine import alembic_config

    users.create_token(engine, users.list_users(engine)[0], "kept")
    command.downgrade(alembic_config(engine), "0007")
    with engine.connect() as conn:  # going down drops no token (nor anything tied to a user)
        assert conn.execute(select(func.count()).select_from(t.api_tokens)).scalar() == 1
    upgrade(engine)
    with engine.connect() as conn:  # a token made before expiry existed gets one
        expires = conn.execute(select(t.api_tokens.c.expires_at)).scalar_one()
    assert t.aware(expires) > t.utcnow() + timedelta(days=89)
    command.downgrade(alembic_config(engine), "0004")
    assert current_revision(engine) == "0004"
    upgrade(engine)
    assert current_revision(engine) == head_revision()

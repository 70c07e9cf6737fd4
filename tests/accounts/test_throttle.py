"""Login rate limiting in the store (SQLite and PostgreSQL), with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from labelloop.accounts import throttle, users
from labelloop.errors import AuthError, RateLimited
from labelloop.store import tables as t
from labelloop.store.engine import current_revision, head_revision, make_engine, upgrade

PASSWORD = "correct horse battery"
LIMITS = throttle.LoginLimits(max_failures=3, window_seconds=60)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(store_url: str):
    engine = make_engine(store_url)
    upgrade(engine)
    users.create_user(engine, "ana", PASSWORD, "annotator")
    yield engine
    engine.dispose()


def _fail(engine, *, ip: str, at: datetime, username: str = "ana") -> None:
    with pytest.raises(AuthError):
        throttle.login(engine, username, "wrong password", ip=ip, limits=LIMITS, now=at)


def test_over_the_limit_no_password_is_checked_until_the_window_slides(engine) -> None:
    for i in range(3):
        _fail(engine, ip="10.0.0.1", at=T0 + timedelta(seconds=10 * i))
    with pytest.raises(RateLimited) as caught:
        throttle.login(
            engine, "ana", PASSWORD, ip="10.0.0.9", limits=LIMITS, now=T0 + timedelta(seconds=25)
        )
    assert caught.value.retry_after == 35  # the oldest failure (t=0) leaves the window at t=60
    assert "username" in str(caught.value)
    later = T0 + timedelta(seconds=61)
    assert (
        throttle.login(engine, "ana", PASSWORD, ip="10.0.0.9", limits=LIMITS, now=later).username
        == "ana"
    )


def test_an_ip_is_limited_across_usernames(engine) -> None:
    for i, name in enumerate(["ana", "bob", "cy"]):
        _fail(engine, ip="10.0.0.2", at=T0 + timedelta(seconds=i), username=name)
    with pytest.raises(RateLimited, match="IP"):
        throttle.login(
            engine, "ana", PASSWORD, ip="10.0.0.2", limits=LIMITS, now=T0 + timedelta(seconds=5)
        )
    # Another IP may still log in as ana (her own count is 1).
    ok = throttle.login(
        engine, "ana", PASSWORD, ip="10.0.0.3", limits=LIMITS, now=T0 + timedelta(seconds=5)
    )
    assert ok.username == "ana"


def test_a_success_does_not_reset_other_ips_counters(engine) -> None:
    _fail(engine, ip="10.0.0.4", at=T0)
    _fail(engine, ip="10.0.0.5", at=T0 + timedelta(seconds=1))
    at = T0 + timedelta(seconds=2)
    throttle.login(engine, "ana", PASSWORD, ip="10.0.0.4", limits=LIMITS, now=at)
    # 10.0.0.4's failure is forgotten, 10.0.0.5's is not: two more make three.
    _fail(engine, ip="10.0.0.5", at=T0 + timedelta(seconds=3))
    _fail(engine, ip="10.0.0.6", at=T0 + timedelta(seconds=4))
    with pytest.raises(RateLimited):
        at = T0 + timedelta(seconds=5)
        throttle.login(engine, "ana", PASSWORD, ip="10.0.0.4", limits=LIMITS, now=at)


def test_old_failures_are_pruned(engine) -> None:
    _fail(engine, ip="10.0.0.7", at=T0)
    _fail(engine, ip="10.0.0.8", at=T0 + timedelta(seconds=120))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.login_failures)).scalar() == 1


def test_the_migration_goes_down_and_up(engine) -> None:
    from alembic import command

    from labelloop.store.engine import alembic_config

    command.downgrade(alembic_config(engine), "0004")
    assert current_revision(engine) == "0004"
    upgrade(engine)
    assert current_revision(engine) == head_revision()

"""Users, passwords, tokens and sessions in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from labelloop.accounts import users
from labelloop.accounts.roles import PERMISSIONS, ROLES, allowed, tiers_for
from labelloop.errors import AuthError, ConfigError
from labelloop.store import tables as t
from labelloop.store.engine import make_engine, upgrade


@pytest.fixture
def engine(store_url: str):
    engine = make_engine(store_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_passwords_are_hashed_with_argon2_and_checked(engine) -> None:
    user = users.create_user(engine, "ana", "correct horse", "annotator")
    with engine.connect() as conn:
        stored = conn.execute(select(t.users.c.password_hash)).scalar()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert users.authenticate(engine, "ana", "correct horse") == user
    with pytest.raises(AuthError, match="wrong username or password"):
        users.authenticate(engine, "ana", "wrong horse")
    with pytest.raises(AuthError, match="wrong username or password"):
        users.authenticate(engine, "nobody", "correct horse")


def test_bad_accounts_are_refused_naming_the_field(engine) -> None:
    with pytest.raises(ConfigError, match="role"):
        users.create_user(engine, "x", "long enough", "boss")
    with pytest.raises(ConfigError, match="password"):
        users.create_user(engine, "x", "short", "annotator")
    with pytest.raises(ConfigError, match="username"):
        users.create_user(engine, "bad name!", "long enough", "annotator")
    users.create_user(engine, "x", "long enough", "annotator")
    with pytest.raises(ConfigError, match="exists already"):
        users.create_user(engine, "x", "long enough", "admin")


def test_tokens_are_stored_hashed_and_resolve_to_their_user(engine) -> None:
    user = users.create_user(engine, "bot", "long enough", "admin")
    token = users.create_token(engine, user, "ci")
    with engine.connect() as conn:
        stored = conn.execute(select(t.api_tokens.c.token_hash)).scalar()
    assert token.startswith("ll_") and token not in stored
    assert users.user_for_token(engine, token) == user
    with pytest.raises(AuthError):
        users.user_for_token(engine, token + "x")


def test_sessions_expire_and_end(engine) -> None:
    user = users.create_user(engine, "rev", "long enough", "reviewer")
    session = users.create_session(engine, user)
    assert users.session_for(engine, session.token).csrf_token == session.csrf_token
    users.end_session(engine, session.token)
    with pytest.raises(AuthError, match="not logged in"):
        users.session_for(engine, session.token)
    old = users.create_session(engine, user, hours=-1)
    with pytest.raises(AuthError, match="expired"):
        users.session_for(engine, old.token)
    assert old.expires_at < t.utcnow() + timedelta(seconds=1)


def test_the_role_table_is_ordered_and_complete() -> None:
    assert all(allowed("admin", action) for action in PERMISSIONS)
    assert [a for a in PERMISSIONS if allowed("annotator", a)] == ["project.read", "task.work"]
    for lower, higher in itertools.pairwise(ROLES):
        assert {a for a in PERMISSIONS if allowed(lower, a)} <= {
            a for a in PERMISSIONS if allowed(higher, a)
        }
    assert tiers_for("annotator") == ("annotator",)
    assert tiers_for("admin") == ("annotator", "reviewer", "expert")

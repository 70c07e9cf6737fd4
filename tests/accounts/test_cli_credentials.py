"""Credentials from the shell (SQLite and PostgreSQL): tokens listed, revoked, expiring and
capped; users deactivated, reset and logged out everywhere."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelloop.accounts import users
from labelloop.cli.main import app
from labelloop.errors import AuthError
from labelloop.loop.project import connect
from labelloop.settings import Settings
from labelloop.store import tables as t

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, store_url: str) -> dict[str, str]:
    return {
        "LABELLOOP_DATA_DIR": str(tmp_path / "data"),
        "LABELLOOP_DATABASE_URL": store_url,
        "LABELLOOP_MAX_TOKENS_PER_USER": "2",
        "COLUMNS": "200",
    }


def _engine(env: dict[str, str]):
    """The store the commands use, opened as they open it (with its audit key)."""
    data_dir = Path(env["LABELLOOP_DATA_DIR"])
    return connect(Settings(data_dir=data_dir, database_url=env["LABELLOOP_DATABASE_URL"]))


def invoke(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_tokens_are_listed_revoked_expiring_and_capped(env: dict[str, str]) -> None:
    invoke(env, "user", "add", "ana", "--role", "annotator", "--password", "long enough pw")
    week = invoke(env, "token", "create", "ana", "--name", "ci", "--days", "7").strip()
    other = invoke(env, "token", "create", "ana", "--name", "laptop").strip()
    capped = invoke(env, "token", "create", "ana", "--name", "third", code=2)
    assert "LABELLOOP_MAX_TOKENS_PER_USER" in capped
    listed = invoke(env, "token", "list", "ana")
    assert "ci" in listed and "laptop" in listed and week not in listed and other not in listed
    engine = _engine(env)
    try:
        tokens = {info.name: info for info in users.list_tokens(engine, username="ana")}
        left = tokens["ci"].expires_at - t.utcnow()
        assert timedelta(days=6, hours=23) < left <= timedelta(days=7)
        assert tokens["laptop"].expires_at - t.utcnow() > timedelta(days=89)  # the default
        out = invoke(env, "token", "revoke", str(tokens["ci"].id))
        assert re.search(r"revoked token \d+ \('ci'\) of ana", out)
        with pytest.raises(AuthError):
            users.user_for_token(engine, week)
        assert users.user_for_token(engine, other).username == "ana"
        assert "no API token" in invoke(env, "token", "revoke", str(tokens["ci"].id), code=2)
    finally:
        engine.dispose()


def test_users_are_deactivated_reset_and_logged_out(env: dict[str, str]) -> None:
    invoke(env, "user", "add", "root", "--role", "admin", "--password", "long enough pw")
    invoke(env, "user", "add", "bob", "--role", "reviewer", "--password", "long enough pw")
    token = invoke(env, "token", "create", "bob", "--name", "ci").strip()
    engine = _engine(env)
    try:
        out = invoke(env, "user", "deactivate", "bob")
        assert "bob: 0 sessions ended, 1 API tokens revoked" in out
        assert "bob" not in invoke(env, "user", "list")
        assert re.search(r"bob\s+reviewer\s+deactivated", invoke(env, "user", "list", "--all"))
        with pytest.raises(AuthError):
            users.authenticate(engine, "bob", "long enough pw")
        invoke(env, "user", "activate", "bob")
        users.authenticate(engine, "bob", "long enough pw")
        with pytest.raises(AuthError):
            users.user_for_token(engine, token)
        assert "last active admin" in invoke(env, "user", "deactivate", "root", code=2)

        token = invoke(env, "token", "create", "bob", "--name", "ci").strip()
        out = invoke(env, "user", "password", "bob", "--password", "a new password")
        assert "1 API tokens revoked" in out
        users.authenticate(engine, "bob", "a new password")
        with pytest.raises(AuthError):
            users.authenticate(engine, "bob", "long enough pw")
        assert "password" in invoke(env, "user", "password", "bob", "--password", "short", code=2)

        token = invoke(env, "token", "create", "bob", "--name", "ci").strip()
        session = users.create_session(engine, users.authenticate(engine, "bob", "a new password"))
        out = invoke(env, "user", "logout", "bob")
        assert "bob: 1 sessions ended, 1 API tokens revoked" in out
        with pytest.raises(AuthError):
            users.session_for(engine, session.token)
        with pytest.raises(AuthError):
            users.user_for_token(engine, token)
    finally:
        engine.dispose()

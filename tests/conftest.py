"""Shared fixtures: every store-backed test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get(
    "LABELLOOP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
STORES = os.environ.get("LABELLOOP_TEST_STORES", "sqlite,postgresql").split(",")


def _pg_available() -> bool:
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_available() -> bool:
    """Whether PostgreSQL answers; CI requires it (LABELLOOP_REQUIRE_PG=1)."""
    ok = _pg_available()
    if not ok and os.environ.get("LABELLOOP_REQUIRE_PG") == "1":
        pytest.fail(f"PostgreSQL is required but does not answer at {PG_ADMIN_URL}")
    return ok


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool) -> Iterator[str]:
    """A fresh, empty store: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if not pg_available:
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    name = f"labelloop_test_{uuid.uuid4().hex[:12]}"
    # pre-ping: the durability tests restart PostgreSQL between CREATE and DROP
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

"""Shared fixtures: every store-backed test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
import warnings
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


def _stop_leaked_worker(url: str, test: str) -> None:
    """A job worker still attached to a store about to be dropped (a Project handle the test did
    not close) would poll the dropped database for the rest of the run: stop it, and say so."""
    from labelloop.jobs import worker

    with worker._workers_lock:
        database = url.rsplit("/", 1)[-1]
        leaked = [w for key, w in worker._workers.items() if key[1].endswith(f"/{database}")]
    for found in leaked:
        warnings.warn(f"{test} left a job worker attached to its store", stacklevel=1)
        found._users = 1
        worker.detach(found)


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
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        _stop_leaked_worker(url, request.node.nodeid)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

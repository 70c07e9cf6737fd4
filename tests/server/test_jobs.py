"""Background jobs outlive the worker that ran them: an orphaned job (its worker died, so its
heartbeat stopped) is taken over and run again from its parameters, a bounded number of times."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from labelloop.accounts.users import create_token, create_user
from labelloop.loop.project import Project
from labelloop.server import jobs
from labelloop.server.app import create_app
from labelloop.settings import Settings
from labelloop.store import tables as t

BEAT = 0.2  # seconds: orphans are found within a few beats


@pytest.fixture
def app(store_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=store_url, job_heartbeat_seconds=BEAT
    )
    with TestClient(create_app(settings)) as client:
        engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
        admin = create_user(engine, "boss", "a long enough password", "admin")
        Project.create(
            {"name": "demo", "labels": ["neg", "pos"], "retrain": {"every": 1000}},
            engine=engine,
            settings=settings,
            retrain="off",
        ).close()
        yield client, {"Authorization": f"Bearer {create_token(engine, admin, 'test')}"}


def _engine(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def _orphan(engine: Engine, kind: str, params: dict[str, Any], *, attempts: int = 1) -> int:
    """A job left "running" by a worker that died a minute ago."""
    with engine.begin() as conn:
        project_id = conn.execute(select(t.projects.c.id)).scalar_one()
        return t.inserted_id(
            conn.execute(
                t.jobs.insert().values(
                    project_id=project_id,
                    kind=kind,
                    status="running",
                    progress=0,
                    params=params,
                    owner="gone:4242:dead",
                    heartbeat_at=t.utcnow() - timedelta(minutes=1),
                    attempts=attempts,
                    created_by="boss",
                )
            )
        )


def _finished(client: TestClient, auth: dict[str, str], job_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=auth).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_an_orphaned_import_is_run_again_and_imports_once(app, tmp_path: Path) -> None:
    client, auth = app
    upload = tmp_path / "items.jsonl"
    upload.write_text("".join(f'{{"id": {k}, "text": "item {k}"}}\n' for k in range(50)))
    params = {"path": str(upload), "format": None, "skip_invalid": False, "gold": False}
    job_id = _orphan(_engine(client), "import", params)
    job = _finished(client, auth, job_id)
    assert job["status"] == "done", job
    assert job["attempts"] == 2 and job["result"]["added"] == 50
    with _engine(client).connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.items)).scalar_one() == 50


def test_an_orphaned_label_error_check_is_run_again_with_its_parameters(app) -> None:
    client, auth = app
    params = {"top": 3, "route": False, "n_splits": 3}
    job = _finished(client, auth, _orphan(_engine(client), "label-errors", params))
    # It ran (with its own parameters) and failed for a reason of the project, not the crash.
    assert job["status"] == "failed" and "has 0 decided items" in job["error"]
    assert job["attempts"] == 2


def test_a_job_interrupted_too_often_is_given_up(app) -> None:
    client, auth = app
    job_id = _orphan(_engine(client), "train", {}, attempts=jobs.MAX_ATTEMPTS)
    job = _finished(client, auth, job_id)
    assert job["status"] == "failed"
    assert job["error"] == (
        f"interrupted {jobs.MAX_ATTEMPTS} times, given up: "
        "its worker (gone:4242:dead) stopped while it ran"
    )


def test_a_job_of_an_unknown_kind_is_failed_not_run(app) -> None:
    client, auth = app
    job = _finished(client, auth, _orphan(_engine(client), "from-a-newer-version", {}))
    assert job["status"] == "failed"
    assert job["error"].startswith("interrupted: its worker (gone:4242:dead)")


def test_a_beating_job_is_left_alone_and_an_orphan_is_claimed_once(store_url: str) -> None:
    from labelloop.store.engine import make_engine, upgrade

    engine = make_engine(store_url)
    upgrade(engine)
    try:
        with engine.begin() as conn:
            conn.execute(t.projects.insert().values(name="p", config={}))
            project_id = conn.execute(select(t.projects.c.id)).scalar_one()
            for beat_age, owner in ((timedelta(0), "alive:1:x"), (timedelta(hours=1), "gone:2:y")):
                conn.execute(
                    t.jobs.insert().values(
                        project_id=project_id,
                        kind="train",
                        status="running",
                        progress=0,
                        params={},
                        owner=owner,
                        heartbeat_at=t.utcnow() - beat_age,
                        attempts=1,
                        created_by="x",
                    )
                )
        first = jobs.claim_orphans(engine, interval=60)
        assert [name for _id, name in first] == ["p"]
        assert jobs.claim_orphans(engine, interval=60) == []  # now ours, with a fresh beat
        with engine.connect() as conn:
            owners = dict(conn.execute(select(t.jobs.c.owner, t.jobs.c.status)).all())
        assert owners == {"alive:1:x": "running", jobs.owner(): "queued"}
    finally:
        engine.dispose()


def test_the_job_heartbeat_migration_goes_down_and_up(store_url: str) -> None:
    from alembic import command

    from labelloop.store.engine import (
        alembic_config,
        current_revision,
        head_revision,
        make_engine,
        upgrade,
    )

    engine = make_engine(store_url)
    try:
        upgrade(engine)
        command.downgrade(alembic_config(engine), "0005")
        assert current_revision(engine) == "0005"
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.begin() as conn:  # the new columns are there, with their defaults
            conn.execute(
                t.jobs.insert().values(kind="train", status="queued", progress=0, created_by="x")
            )
            assert conn.execute(select(t.jobs.c.attempts, t.jobs.c.params)).one() == (0, None)
    finally:
        engine.dispose()

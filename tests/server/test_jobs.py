"""Background jobs outlive the worker that ran them: an orphaned job (its worker died, so its
heartbeat stopped) is taken over and run again from its parameters, a bounded number of times. A
failed job, a retrain after new labels included, is listed with its reason for those who may see
it: admins every job of the project, anyone else their own."""

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
from labelloop.jobs import queue, runner
from labelloop.loop.project import Project
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


def test_an_orphaned_import_is_run_again_and_imports_once(
    app, finished_job, tmp_path: Path
) -> None:
    client, auth = app
    upload = tmp_path / "items.jsonl"
    upload.write_text("".join(f'{{"id": {k}, "text": "item {k}"}}\n' for k in range(50)))
    params = {"path": str(upload), "format": None, "skip_invalid": False, "gold": False}
    job_id = _orphan(_engine(client), "import", params)
    job = finished_job(client, job_id, auth)
    assert job["status"] == "done", job
    assert job["attempts"] == 2 and job["result"]["added"] == 50
    with _engine(client).connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.items)).scalar_one() == 50


def test_an_orphaned_label_error_check_is_run_again_with_its_parameters(app, finished_job) -> None:
    client, auth = app
    params = {"top": 3, "route": False, "n_splits": 3}
    job = finished_job(client, _orphan(_engine(client), "label-errors", params), auth)
    # It ran (with its own parameters) and failed for a reason of the project, not the crash.
    assert job["status"] == "failed" and "has 0 decided items" in job["error"]
    assert job["attempts"] == 2


def test_a_job_interrupted_too_often_is_given_up(app, finished_job) -> None:
    client, auth = app
    job_id = _orphan(_engine(client), "train", {}, attempts=runner.MAX_ATTEMPTS)
    job = finished_job(client, job_id, auth)
    assert job["status"] == "failed"
    assert job["error"] == (
        f"interrupted {runner.MAX_ATTEMPTS} times, given up: "
        "its worker (gone:4242:dead) stopped while it ran"
    )


def test_a_job_of_an_unknown_kind_is_failed_not_run(app, finished_job) -> None:
    client, auth = app
    job = finished_job(client, _orphan(_engine(client), "from-a-newer-version", {}), auth)
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
        first = runner.claim_orphans(engine, interval=60)
        assert len(first) == 1
        assert runner.claim_orphans(engine, interval=60) == []  # queued again: no orphan
        with engine.connect() as conn:
            jobs = {row.id: (row.owner, row.status) for row in conn.execute(select(t.jobs))}
        assert jobs == {first[0]: (queue.owner(), "queued"), first[0] - 1: ("alive:1:x", "running")}
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


class FailingModel:
    """A plug-in model whose training always breaks."""

    def __init__(self, n_classes: int, multi_label: bool = False) -> None:
        self.n_classes = n_classes

    def fit(self, X: Any, y: Any) -> FailingModel:
        raise RuntimeError("fit broke on purpose")

    def predict_proba(self, X: Any) -> Any:
        raise AssertionError("never fitted")


def _failed(server: Any, role: str) -> list[dict[str, Any]]:
    answer = server.client.get(
        "/api/v1/projects/demo/jobs", params={"status": "failed"}, headers=server.auth(role)
    )
    assert answer.status_code == 200, answer.text
    jobs: list[dict[str, Any]] = answer.json()
    return jobs


def _dashboard(server: Any, username: str) -> str:
    server.client.cookies.clear()
    login = {"username": username, "password": server.password}
    assert server.client.post("/api/v1/auth/login", json=login).status_code == 200
    page = server.client.get("/projects/demo/dashboard")
    server.client.cookies.clear()
    assert page.status_code == 200, page.text
    return page.text


def test_a_failed_retrain_is_listed_with_its_reason_for_those_who_may_see_it(server) -> None:
    rows = server.texts(40)
    truth = {r["text"]: r["truth"] for r in rows}
    server.add_project(
        rows,
        model={"kind": "plugin", "plugin": "test_jobs:FailingModel"},
        retrain={"every": 4, "min_labels": 2},
    )
    annotator = server.auth("annotator")
    for _ in range(5):  # 20 answers: 10 on holdout items, 10 that retraining counts
        for task in server.client.post(
            "/api/v1/projects/demo/tasks/next", json={"n": 4}, headers=annotator
        ).json():
            answered = server.client.post(
                f"/api/v1/projects/demo/tasks/{task['task_id']}/submit",
                json={"label": truth[task["data"]["text"]]},
                headers=annotator,
            )
            assert answered.status_code == 200, answered.text
    deadline = time.monotonic() + 120
    while not (failed := _failed(server, "admin")):
        assert time.monotonic() < deadline, "no retrain failed"
        time.sleep(0.05)
    retrain = failed[-1]
    assert (retrain["kind"], retrain["project"], retrain["created_by"]) == (
        "train",
        "demo",
        "system",
    )
    assert retrain["error"] == "RuntimeError: fit broke on purpose"
    assert retrain["finished_at"] is not None and retrain["attempts"] == 1
    for role in ("annotator", "reviewer", "expert"):  # not their jobs
        assert _failed(server, role) == []
        read = server.client.get(f"/api/v1/jobs/{retrain['id']}", headers=server.auth(role))
        assert read.status_code == 404

    assert "fit broke on purpose" in _dashboard(server, "admin")
    assert 'id="failed-jobs-card"' not in _dashboard(server, "reviewer")

    # Someone who may no longer see every job still sees their own.
    boss = {"Authorization": f"Bearer {server.add_user('boss', 'admin')}"}
    server.join("demo", "boss")
    job_id = server.client.post("/api/v1/projects/demo/models/train", headers=boss).json()["job_id"]
    assert server.finished_job(job_id)["status"] == "failed"
    demoted = server.client.put(
        "/api/v1/users/boss/role", json={"role": "expert"}, headers=server.auth("admin")
    )
    assert demoted.status_code == 200
    server.tokens["boss"] = boss["Authorization"].removeprefix("Bearer ")
    assert [job["id"] for job in _failed(server, "boss")] == [job_id]
    assert job_id in {job["id"] for job in _failed(server, "admin")}

"""Retraining as a durable job: queued once per project however many labels arrive at once, run
by the process's worker, rerun by another worker when its own is killed, and, when it fails,
failed with its reason for :meth:`Project.wait`, the CLI and the API to show."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from labelloop.cli.main import app
from labelloop.errors import JobFailed
from labelloop.jobs import queue
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings
from labelloop.store import tables as t
from labelloop.store.engine import make_engine

BEAT = 0.2  # seconds between heartbeats: a killed worker's job is orphaned after three
FIT_SECONDS = "LABELLOOP_TEST_FIT_SECONDS"  # how long SlowModel.fit sleeps
HERE = Path(__file__).parent


class SlowModel:
    """A plug-in model that takes ``$LABELLOOP_TEST_FIT_SECONDS`` to fit: 'pos' on 'good'."""

    def __init__(self, n_classes: int, multi_label: bool = False) -> None:
        self.n_classes = n_classes

    def fit(self, X: Any, y: np.ndarray) -> SlowModel:
        time.sleep(float(os.environ.get(FIT_SECONDS, "0")))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        good = np.array(["good" in item["text"] for item in X])
        return np.where(good[:, None], [[0.1, 0.9]], [[0.9, 0.1]])


class FailingModel(SlowModel):
    """A plug-in model whose training always breaks."""

    def fit(self, X: Any, y: np.ndarray) -> FailingModel:
        raise RuntimeError("fit broke on purpose")


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=store_url, job_heartbeat_seconds=BEAT)


@pytest.fixture
def make(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    """``make(model, retrain=...)``: a project of 80 reviews whose plug-in model is ``model``
    and that retrains every 4 labels; closed (and its store released) after the test."""
    opened: list[Project] = []

    def create(model: str, *, retrain: str = "background") -> Project:
        config = {
            "name": "demo",
            "labels": ["neg", "pos"],
            "model": {"kind": "plugin", "plugin": f"test_background_jobs:{model}"},
            "routing": {"holdout_size": 10, "holdout_max_fraction": 0.2},
            "retrain": {"every": 4, "min_labels": 2},
        }
        project = Project.create(
            config, engine=connect(settings), settings=settings, retrain=retrain
        )
        items = tmp_path / "items.jsonl"
        items.write_text(
            "".join(
                json.dumps({"id": k, "text": f"{'good' if k % 2 else 'bad'} film {k}"}) + "\n"
                for k in range(80)
            )
        )
        project.import_file(items)
        opened.append(project)
        return project

    yield create
    for project in opened:
        project.close()
        project.engine.dispose()


def _label(project: Project, item_ids: list[int], annotator: str = "ann") -> None:
    with project.engine.connect() as conn:
        rows = conn.execute(
            select(t.items.c.id, t.items.c.data).where(t.items.c.id.in_(item_ids))
        ).all()
    texts = {row.id: row.data for row in rows}
    for item_id in item_ids:
        label = "pos" if "good" in texts[item_id]["text"] else "neg"
        project.annotate(item_id, label, annotator=annotator)


def _item_ids(project: Project) -> list[int]:
    with project.engine.connect() as conn:
        return list(
            conn.execute(
                select(t.items.c.id)
                .where(t.items.c.project_id == project.id, ~t.items.c.is_holdout)
                .order_by(t.items.c.id)
            ).scalars()
        )


def _train_jobs(engine: Engine) -> list[Any]:
    j = t.jobs
    with engine.connect() as conn:
        return conn.execute(
            select(j.c.id, j.c.status, j.c.attempts, j.c.error, j.c.created_at, j.c.finished_at)
            .where(j.c.kind == "train")
            .order_by(j.c.id)
        ).all()


def test_a_retrain_that_raises_is_a_failed_job_with_its_reason(make, settings) -> None:
    project = make("FailingModel")
    _label(project, _item_ids(project)[:4])
    with pytest.raises(JobFailed, match=r"job \d+ \(train\) failed: RuntimeError: fit broke"):
        project.wait()
    [job] = _train_jobs(project.engine)
    assert (job.status, job.attempts) == ("failed", 1)
    assert job.error == "RuntimeError: fit broke on purpose"
    project.wait()  # reported once; nothing else is waiting

    env = {
        "LABELLOOP_DATA_DIR": str(settings.data_dir),
        "LABELLOOP_DATABASE_URL": str(settings.database_url),
    }
    shown = CliRunner().invoke(app, ["jobs", "demo", "--status", "failed"], env=env)
    assert shown.exit_code == 0, shown.output
    row = shown.output.split()
    assert {str(job.id), "train", "failed", "system", "fit", "broke", "on", "purpose"} <= set(row)
    listed = CliRunner().invoke(app, ["jobs", "demo", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [(j["id"], j["status"], j["error"]) for j in json.loads(listed.output)] == [
        (job.id, "failed", "RuntimeError: fit broke on purpose")
    ]
    none_done = CliRunner().invoke(app, ["jobs", "demo", "--status", "done"], env=env)
    assert "no done jobs in project 'demo'" in none_done.output
    assert CliRunner().invoke(app, ["jobs", "demo", "--status", "lost"], env=env).exit_code == 2


def test_sync_trains_before_annotate_returns_and_off_queues_nothing(make) -> None:
    synced = make("SlowModel", retrain="sync")
    _label(synced, _item_ids(synced)[:4])
    assert synced.status()["models"], "trained before the fourth label's annotate returned"
    synced.retrain = "off"
    _label(synced, _item_ids(synced)[4:12])
    assert len(synced.status()["models"]) == 1
    assert _train_jobs(synced.engine) == []


def test_concurrent_labels_keep_one_train_job_queued_or_running(make, monkeypatch) -> None:
    """Eight threads label at once through one project (as the server's requests do): a train
    job is queued whenever four new labels wait, but never while another is queued or running."""
    monkeypatch.setenv(FIT_SECONDS, "0.1")
    project = make("SlowModel")
    ids = _item_ids(project)[:64]
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def label(share: list[int], who: str) -> None:
        try:
            start.wait()
            _label(project, share, annotator=who)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=label, args=(ids[k::8], f"ann{k}")) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    project.wait()
    jobs = _train_jobs(project.engine)
    assert jobs and all(job.status == "done" for job in jobs)
    for before, after in itertools.pairwise(jobs):
        assert t.aware(after.created_at) >= t.aware(before.finished_at), (before, after)


def test_threads_of_many_processes_queue_one_train_job(make, store_url: str) -> None:
    """Twelve writers, each with its own engine (as separate processes have), asking at once."""
    project = make("SlowModel", retrain="off")
    start = threading.Barrier(12)
    got: list[int] = []

    def ask() -> None:
        engine = make_engine(store_url)
        try:
            start.wait()
            got.append(
                queue.enqueue(
                    engine,
                    kind="train",
                    project_id=project.id,
                    params={},
                    created_by="system",
                    once="active",
                )
            )
        finally:
            engine.dispose()

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [job] = _train_jobs(project.engine)
    assert got == [job.id] * 12 and job.status == "queued"


WORKER = """
import sys
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings

settings = Settings(data_dir=sys.argv[1], database_url=sys.argv[2], job_heartbeat_seconds=0.2)
project = Project.open("demo", engine=connect(settings), settings=settings, retrain="off")
project.wait()  # starts this process's worker, which takes the queued job
"""


def test_a_killed_workers_train_job_is_run_again_by_another_worker(make, settings) -> None:
    project = make("SlowModel", retrain="off")
    _label(project, _item_ids(project)[:8])
    job_id = queue.enqueue(
        project.engine, kind="train", project_id=project.id, params={}, created_by="system"
    )
    env = {
        **os.environ,
        FIT_SECONDS: "600",  # still training when killed
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    other = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(settings.data_dir), settings.database_url], env=env
    )
    try:
        deadline = time.monotonic() + 120
        while queue.get(project.engine, job_id=job_id)["status"] != "running":
            assert other.poll() is None, "the other worker exited"
            assert time.monotonic() < deadline, "the other worker never took the job"
            time.sleep(0.1)
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
    project.wait()  # this process's worker finds the job orphaned and runs it again
    job = queue.get(project.engine, job_id=job_id)
    assert (job["status"], job["attempts"]) == ("done", 2), job
    assert job["result"]["version"] == 1
    assert [m["version"] for m in project.status()["models"]] == [1]

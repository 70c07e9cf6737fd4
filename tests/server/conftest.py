"""An app on a fresh store (SQLite and PostgreSQL), with a user and an API token per role."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from labelloop.accounts.memberships import join
from labelloop.accounts.roles import ROLES
from labelloop.accounts.users import User, create_token, create_user
from labelloop.loop.project import Project
from labelloop.server.app import create_app
from labelloop.settings import Settings
from labelloop.store import tables as t
from labelloop.store.engine import writer

WORDS = {
    "pos": ["great", "lovely", "excellent", "fun", "superb", "enjoyable"],
    "neg": ["awful", "boring", "terrible", "dull", "poor", "tedious"],
}
PASSWORD = "a long enough password"
JOB_TIMEOUT = 120  # seconds: a job runs on the server's worker thread, on two shared cores


def texts(n: int) -> list[dict[str, Any]]:
    """``n`` review-like items; ``truth`` is the right answer (not imported)."""
    rows = []
    for i in range(n):
        truth = "pos" if i % 2 else "neg"
        words = [WORDS[truth][(i * 7 + k) % 6] for k in range(3)]
        rows.append({"id": i, "text": " ".join([*words, "film", "plot"]), "truth": truth})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "truth"}) + "\n" for r in rows)
    )
    return path


def config(name: str = "demo", **overrides: Any) -> dict[str, Any]:
    """A small two-label project that retrains only when asked."""
    return {
        "name": name,
        "labels": ["neg", "pos"],
        "guidelines": "Is the review positive?",
        "routing": {"target_accuracy": 0.9, "holdout_size": 10, "holdout_max_fraction": 0.5},
        "retrain": {"every": 1000, "min_labels": 6},
        **overrides,
    }


def _finished_job(client: TestClient, job_id: int, headers: dict[str, str]) -> dict[str, Any]:
    """The job ``job_id`` once it is done or failed (jobs run on the server's worker thread,
    after the request that queued them has been answered)."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if job.get("status") in ("done", "failed"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not finish in {JOB_TIMEOUT} s: {job}")
        time.sleep(0.05)


@dataclass
class Server:
    """A running app and its people: ``tokens[role]`` authenticates ``users[role]``."""

    client: TestClient
    settings: Settings
    tmp: Path
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        engine: Engine = self.client.app.state.engine  # type: ignore[attr-defined]
        return engine

    def item_of(self, task: dict[str, Any]) -> int:
        """The item id behind an annotator's task (withheld from them), found by its data's id."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(t.items.c.id).where(t.items.c.key == f"id:{task['data']['id']}")
                ).scalar_one()
            )

    def auth(self, role: str) -> dict[str, str]:
        """Bearer-token headers of ``role``'s user."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def finished_job(self, job_id: int, role: str = "admin") -> dict[str, Any]:
        """The job ``job_id`` (as ``role`` reads it) once it is done or failed."""
        return _finished_job(self.client, job_id, self.auth(role))

    def add_user(self, username: str, role: str) -> str:
        """Create a user with :data:`PASSWORD` and return an API token of theirs."""
        self.users[username] = create_user(self.engine, username, PASSWORD, role)
        return create_token(self.engine, self.users[username], "test")

    def add_project(
        self, rows: list[dict[str, Any]], *, members: Iterable[str] | None = None, **overrides: Any
    ) -> None:
        """Create a project (default name ``demo``), import ``rows`` through the library and make
        ``members`` (default: every user so far) members at their role's tier."""
        project = Project.create(
            config(**overrides), engine=self.engine, settings=self.settings, retrain="off"
        )
        project.import_file(write_jsonl(self.tmp / f"{project.name}.jsonl", rows))
        project.close()
        self.join(project.name, *(self.users if members is None else members))

    def join(self, project: str, *usernames: str) -> None:
        """Make ``usernames`` members of ``project`` at their role's tier."""
        with writer(self.engine).begin() as conn:
            project_id = conn.execute(
                select(t.projects.c.id).where(t.projects.c.name == project)
            ).scalar_one()
            for username in usernames:
                join(conn, project_id=project_id, username=username, actor="test")

    texts = staticmethod(texts)
    write_jsonl = staticmethod(write_jsonl)
    config = staticmethod(config)
    password = PASSWORD


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[Server]:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    with TestClient(create_app(settings)) as client:
        srv = Server(client, settings, tmp_path)
        for role in ROLES:
            srv.tokens[role] = srv.add_user(role, role)
        yield srv


#: ``finished_job(client, job_id, headers)``: the job once it is done or failed.
FinishedJob = Callable[[TestClient, int, dict[str, str]], dict[str, Any]]


@pytest.fixture
def finished_job() -> FinishedJob:
    """Wait for a job of an app other than :func:`server`'s (see :func:`_finished_job`)."""
    return _finished_job


#: ``serve_process(settings, log, *serve_args, env=None)``: a context manager yielding the
#: child process and its base URL.
ServeProcess = Callable[..., AbstractContextManager[tuple[subprocess.Popen[bytes], str]]]
START_TIMEOUT = 120  # seconds: several workers importing scikit-learn on two shared cores


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve_process(
    settings: Settings, log: Path, *serve_args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``labelloop serve`` as a child process on ``settings``' store and a free port, its output
    in ``log``; ready once ``/api/v1/ready`` answers 200; terminated (then killed) at the end."""
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from labelloop.cli.main import app; app()",
        "--data-dir",
        str(settings.data_dir),
        "--db",
        str(settings.database_url),
        "serve",
        "--port",
        str(port),
        *serve_args,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, env=env or dict(os.environ), stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"labelloop serve exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/api/v1/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"labelloop serve was not ready in {START_TIMEOUT} s")
            time.sleep(0.1)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def serve_process() -> ServeProcess:
    """Start ``labelloop serve`` as a real child process (see :func:`_serve_process`)."""
    return _serve_process

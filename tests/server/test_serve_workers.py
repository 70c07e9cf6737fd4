"""``labelloop serve --workers 2`` over one PostgreSQL store: the production shape.

Runs the real command as a child process on a fresh PostgreSQL database (skipped when PostgreSQL
does not answer, failed instead under ``LABELLOOP_REQUIRE_PG=1``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from labelloop.accounts.users import create_token, create_user
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings

START_TIMEOUT = 120  # two workers importing scikit-learn on two shared cores
N_LISTS = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(settings: Settings, tmp: Path) -> dict[str, str]:
    """A project of 20 items, and tokens of an admin and an annotator."""
    items = tmp / "items.jsonl"
    items.write_text(
        "".join(json.dumps({"id": k, "text": f"review {k}"}) + "\n" for k in range(20))
    )
    engine = connect(settings)
    try:
        project = Project.create(
            {
                "name": "demo",
                "labels": ["neg", "pos"],
                "routing": {"holdout_size": 10, "holdout_max_fraction": 0.5},
                "retrain": {"every": 1000},
                "tasks": {"overlap": 1},
            },
            engine=engine,
            settings=settings,
            retrain="off",
        )
        project.import_file(items)
        project.close()
        return {
            role: create_token(engine, create_user(engine, role, "a long enough pw", role), "t")
            for role in ("admin", "annotator")
        }
    finally:
        engine.dispose()


def _wait_ready(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"labelloop serve exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"labelloop serve was not ready in {START_TIMEOUT} s")
        time.sleep(0.2)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_serve_two_workers_on_postgresql(store_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    tokens = _prepare(settings, tmp_path)
    port, log = _free_port(), tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env |= {"LABELLOOP_LOG_FORMAT": "json", "LABELLOOP_METRICS_TOKEN": "scrape-me"}
    command = [
        sys.executable,
        "-c",
        "from labelloop.cli.main import app; app()",
        "--data-dir",
        str(settings.data_dir),
        "--db",
        store_url,
        "serve",
        "--workers",
        "2",
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=out)
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        _wait_ready(proc, base, log)
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        worker = {"Authorization": f"Bearer {tokens['annotator']}"}
        for _ in range(N_LISTS):  # a new connection each: the workers share the socket
            assert httpx.get(f"{base}/projects", headers=admin).status_code == 200
        tasks = httpx.post(f"{base}/projects/demo/tasks/next", json={"n": 3}, headers=worker)
        for task in tasks.json():
            answer = httpx.post(
                f"{base}/projects/demo/tasks/{task['task_id']}/submit",
                json={"label": "pos"},
                headers=worker,
            )
            assert answer.status_code == 200, answer.text
        assert httpx.get(f"{base}/metrics").status_code == 401
        scraped = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert scraped.status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    got = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    demo = frozenset({("project", "demo")})
    assert got[("labelloop_store_up", frozenset())] == 1
    assert got[("labelloop_queue_items", demo | {("tier", "annotator")})] > 0
    assert got[("labelloop_items", demo | {("status", "labelled")})] == 3
    assert got[("labelloop_annotations_total", demo)] == 3
    assert got[("labelloop_model_version", demo)] == 0
    # Counted by whichever worker answered, summed over both (prometheus multiprocess mode).
    assert got[("labelloop_api_annotations_submitted_total", demo)] == 3
    lists = frozenset({("method", "GET"), ("route", "/api/v1/projects"), ("status", "200")})
    assert got[("labelloop_http_requests_total", lists)] == N_LISTS

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    started = {line["pid"] for line in lines if line["event"] == "started"}
    stopped = {line["pid"] for line in lines if line["event"] == "stopped"}
    assert len(started) == 2 and stopped == started  # two app processes, both shut down cleanly
    requests = [line for line in lines if line["event"] == "request"]
    submit = "/api/v1/projects/{name}/tasks/{task_id}/submit"
    assert {r["path"] for r in requests} == {
        "/api/v1/projects",
        "/api/v1/projects/{name}/tasks/next",
        submit,
    }
    assert {r["user"] for r in requests if r["path"] == "/api/v1/projects"} == {"admin"}

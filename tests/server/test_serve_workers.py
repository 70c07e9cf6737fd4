"""``labelloop serve --workers 2`` over one PostgreSQL store: the production shape.

Runs the real command as a child process on a fresh PostgreSQL database (skipped when PostgreSQL
does not answer, failed instead under ``LABELLOOP_REQUIRE_PG=1``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from labelloop.accounts.users import create_token, create_user
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings

N_LISTS = 12


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
        tokens = {
            role: create_token(engine, create_user(engine, role, "a long enough pw", role), "t")
            for role in ("admin", "annotator")
        }
        project.add_member("annotator")
        project.close()
        return tokens
    finally:
        engine.dispose()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_serve_two_workers_on_postgresql(
    store_url: str, tmp_path: Path, serve_process: Any
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    tokens = _prepare(settings, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env |= {"LABELLOOP_LOG_FORMAT": "json", "LABELLOOP_METRICS_TOKEN": "scrape-me"}
    log = tmp_path / "serve.log"
    with serve_process(settings, log, "--workers", "2", env=env) as (_proc, url):
        base = f"{url}/api/v1"
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

"""Operating the server: readiness, request ids, structured logs, Prometheus metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from labelloop.accounts.users import create_token, create_user
from labelloop.server.app import create_app
from labelloop.server.deps import get_engine
from labelloop.settings import Settings
from labelloop.store import tables as t
from labelloop.store.engine import alembic_config, head_revision

API = "/api/v1"


@pytest.fixture
def app_with(store_url: str, tmp_path: Path) -> Iterator[object]:
    """``app_with(**settings)``: a client of an app on the test's store, and an admin token."""
    clients: list[TestClient] = []
    tokens: list[str] = []

    def start(**overrides: object) -> tuple[TestClient, dict[str, str]]:
        settings = Settings(data_dir=tmp_path / "data", database_url=store_url, **overrides)
        client = TestClient(create_app(settings)).__enter__()
        clients.append(client)
        if not tokens:
            engine = client.app.state.engine  # type: ignore[attr-defined]
            admin = create_user(engine, "boss", "a long enough password", "admin")
            tokens.append(create_token(engine, admin, "test"))
        return client, {"Authorization": f"Bearer {tokens[0]}"}

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_ready_is_503_when_the_store_does_not_answer(server, tmp_path: Path) -> None:
    tc = server.client
    gone = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    tc.app.dependency_overrides[get_engine] = lambda: gone
    try:
        answer = tc.get(f"{API}/ready")
        assert answer.status_code == 503
        assert answer.json() == {"detail": "the store does not answer"}
        assert tc.get(f"{API}/health").status_code == 200  # liveness is not readiness
    finally:
        tc.app.dependency_overrides.clear()
        gone.dispose()
    assert tc.get(f"{API}/ready").status_code == 200


def test_ready_is_503_until_the_store_is_migrated_to_head(server) -> None:
    tc, cfg = server.client, alembic_config(server.engine)
    command.stamp(cfg, "0003")
    try:
        answer = tc.get(f"{API}/ready")
        assert answer.status_code == 503
        assert "revision 0003" in answer.json()["detail"]
        assert "labelloop db upgrade" in answer.json()["detail"]
    finally:
        command.stamp(cfg, str(head_revision()))
    assert tc.get(f"{API}/ready").json() == {"status": "ok"}


def test_every_answer_carries_a_request_id(server) -> None:
    tc = server.client
    mine = tc.get(f"{API}/health", headers={"X-Request-ID": "lb-42.a"})
    assert mine.headers["X-Request-ID"] == "lb-42.a"
    forged = tc.get(f"{API}/health", headers={"X-Request-ID": "evil\tid=1"})
    fresh = tc.get(f"{API}/projects")
    assert fresh.status_code == 401  # errors too
    ids = {forged.headers["X-Request-ID"], fresh.headers["X-Request-ID"]}
    assert len(ids) == 2 and all(len(i) == 32 for i in ids)


def test_json_logs_one_line_per_request(app_with, capsys: pytest.CaptureFixture[str]) -> None:
    tc, admin = app_with(log_format="json")
    tc.get(f"{API}/projects/nope", headers={**admin, "X-Request-ID": "req-1"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert any(line["event"] == "started" and line["store"] for line in lines)
    [request] = [line for line in lines if line.get("request_id") == "req-1"]
    assert request == {
        "ts": request["ts"],
        "level": "INFO",
        "logger": "labelloop.request",
        "pid": request["pid"],
        "event": "request",
        "method": "GET",
        "path": f"{API}/projects/{{name}}",  # the template: no names in logs or metrics
        "status": 404,
        "duration_ms": request["duration_ms"],
        "user": "boss",
        "request_id": "req-1",
    }
    assert request["ts"].endswith("Z") and request["duration_ms"] >= 0


def test_text_logs_and_level(app_with, capsys: pytest.CaptureFixture[str]) -> None:
    tc, admin = app_with(log_format="text", log_level="warning")
    tc.get(f"{API}/projects", headers=admin)
    assert "request" not in capsys.readouterr().err  # INFO is below WARNING
    tc, admin = app_with()
    tc.get(f"{API}/projects", headers={**admin, "X-Request-ID": "t-1"})
    [line] = [x for x in capsys.readouterr().err.splitlines() if "request_id=t-1" in x]
    assert " INFO labelloop.request request method=GET path=/api/v1/projects status=200" in line
    assert "user=boss" in line


def test_metrics_from_the_process_and_the_store(server) -> None:
    tc = server.client
    server.add_project(server.texts(12))
    worker = server.auth("annotator")
    [task] = tc.post(f"{API}/projects/demo/tasks/next", json={"n": 1}, headers=worker).json()
    submitted = tc.post(
        f"{API}/projects/demo/tasks/{task['task_id']}/submit",
        json={"label": "pos"},
        headers=worker,
    )
    assert submitted.status_code == 200
    with server.engine.begin() as conn:
        project_id = conn.execute(t.projects.select()).one().id
        conn.execute(
            t.model_versions.insert(),
            [
                {"project_id": project_id, "version": v, "status": s, "n_labels": 6, "metrics": {}}
                for v, s in ((1, "promoted"), (2, "promoted"), (3, "rejected"))
            ],
        )

    answer = tc.get(f"{API}/metrics", headers=server.auth("admin"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    got = _samples(answer.text)
    demo = frozenset({("project", "demo")})
    assert got[("labelloop_store_up", frozenset())] == 1
    assert got[("labelloop_annotations_total", demo)] == 1
    assert got[("labelloop_api_annotations_submitted_total", demo)] == 1
    assert got[("labelloop_model_version", demo)] == 2
    queue = got[("labelloop_queue_items", demo | {("tier", "annotator")})]
    assert queue > 0 and queue == got[("labelloop_items", demo | {("status", "new")})]
    assert got[("labelloop_queue_items", demo | {("tier", "expert")})] == 0
    assert got[("labelloop_leased_tasks", demo | {("tier", "annotator")})] == 0
    submit = frozenset(
        {("method", "POST"), ("route", f"{API}/projects/{{name}}/tasks/{{task_id}}/submit")}
    )
    assert got[("labelloop_http_request_duration_seconds_count", submit)] == 1
    assert got[("labelloop_http_requests_total", submit | {("status", "200")})] == 1


def test_metrics_token(app_with) -> None:
    tc, admin = app_with(metrics_token="scrape-me")
    url = f"{API}/metrics"
    assert tc.get(url, headers={"Authorization": "Bearer scrape-me"}).status_code == 200
    assert tc.get(url, headers=admin).status_code == 200  # admins still may
    assert tc.get(url).status_code == 401
    assert tc.get(url, headers={"Authorization": "Bearer scrape-you"}).status_code == 401
    engine = tc.app.state.engine  # type: ignore[attr-defined]
    expert = create_token(
        engine, create_user(engine, "ex", "a long enough password", "expert"), "t"
    )
    assert tc.get(url, headers={"Authorization": f"Bearer {expert}"}).status_code == 403


def test_an_unexpected_error_still_answers_with_the_request_id(
    app_with, capsys: pytest.CaptureFixture[str]
) -> None:
    tc, _admin = app_with(log_format="json")

    def boom() -> None:
        raise RuntimeError("a bug")

    tc.app.add_api_route("/boom", boom)  # type: ignore[attr-defined]
    answer = TestClient(tc.app, raise_server_exceptions=False).get(
        "/boom", headers={"X-Request-ID": "bug-7"}
    )
    assert answer.status_code == 500 and answer.json() == {"detail": "internal error"}
    assert answer.headers["X-Request-ID"] == "bug-7"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    [logged] = [line for line in lines if line.get("request_id") == "bug-7"]
    assert logged["level"] == "ERROR" and logged["status"] == 500 and logged["path"] == "/boom"

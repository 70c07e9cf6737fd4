"""Text the store cannot keep (NUL, lone surrogates) is refused with 422 naming where it was, on
SQLite and PostgreSQL alike (PostgreSQL answered 500); and a flood of denied requests adds one
audit event per source and minute, not one per request."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from labelloop.store import tables as t

API = "/api/v1"
CASES: list[tuple[str, str, str | None, dict[str, Any], str]] = [
    (
        "POST",
        "/auth/login",
        None,
        {"json": {"username": "ad\x00min", "password": "x"}},
        "body.username",
    ),
    ("POST", "/auth/tokens", "admin", {"json": {"name": "ci\x00"}}, "body.name"),
    ("PUT", "/projects/demo/guidelines", "admin", {"json": {"text": "a\x00b"}}, "body.text"),
    (
        "POST",
        "/projects",
        "admin",
        {"json": {"name": "other", "labels": ["neg", "p\x00s"]}},
        "body.labels.1",
    ),
    (
        "POST",
        "/users",
        "admin",
        {"json": {"username": "x\x00y", "password": "long enough pw", "role": "annotator"}},
        "body.username",
    ),
    (
        "PUT",
        "/projects/demo/members/an%00a",
        "admin",
        {"json": {"tier": "annotator"}},
        "path.username",
    ),
    ("GET", "/projects/de%00mo", "admin", {}, "path.name"),
    ("GET", "/projects/demo/items?status=%00", "admin", {}, "query.status"),
    (
        "PUT",
        "/projects/demo/guidelines",
        "admin",
        {
            "content": b'{"text": "half an emoji \\ud83d"}',
            "headers": {"Content-Type": "application/json"},
        },
        "body.text",
    ),
    (
        "POST",
        "/projects/demo/imports",
        "admin",
        {"files": {"file": ("items.jsonl", b"{}\n")}, "data": {"format": "jsonl\x00"}},
        "body.format",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "role", "request_args", "where"),
    CASES,
    ids=[c[4] + ":" + c[1] for c in CASES],
)
def test_unstorable_text_is_422_naming_the_field(
    server, method: str, path: str, role: str | None, request_args: dict[str, Any], where: str
) -> None:
    server.add_project(server.texts(6))
    args = dict(request_args)
    headers = {**args.pop("headers", {}), **(server.auth(role) if role else {})}
    answer = server.client.request(method, f"{API}{path}", headers=headers, **args)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith(f"{where}: ")
    assert "NUL" in detail or "surrogate" in detail


def test_a_client_key_with_nul_is_422_and_the_task_can_still_be_answered(server) -> None:
    server.add_project(server.texts(6))
    annotator = server.auth("annotator")
    tasks = server.client.post(
        f"{API}/projects/demo/tasks/next", json={"n": 1}, headers=annotator
    ).json()
    url = f"{API}/projects/demo/tasks/{tasks[0]['task_id']}/submit"
    bad = server.client.post(url, json={"label": "pos", "client_key": "k\x00"}, headers=annotator)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("body.client_key: ")
    good = server.client.post(url, json={"label": "pos", "client_key": "k1"}, headers=annotator)
    assert good.status_code == 200, good.text


def test_an_item_with_nul_is_rejected_at_import_naming_line_and_field(server) -> None:
    server.add_project(server.texts(4))
    rows = [
        {"id": 1, "text": "fine"},
        {"id": 2, "text": "nul \x00 here"},
        {"id": 3, "text": "ok", "meta": {"note": "x\x00"}},
    ]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    admin = server.auth("admin")
    job_id = server.client.post(
        f"{API}/projects/demo/imports", files={"file": ("nul.jsonl", body)}, headers=admin
    ).json()["job_id"]
    job = server.finished_job(job_id)
    assert job["status"] == "failed", job
    rejects = {(r["line"], r["field"]) for r in job["result"]["rejects"]}
    assert rejects == {(2, "text"), (3, "meta")}
    assert all("NUL" in r["reason"] for r in job["result"]["rejects"]), job["result"]
    assert server.client.get(f"{API}/projects/demo/items", headers=admin).status_code == 200


def test_a_flood_of_401s_adds_one_audit_event_per_source_and_minute(server) -> None:
    with server.engine.connect() as conn:
        last = conn.execute(select(t.events.c.id).order_by(t.events.c.id.desc())).scalar() or 0
    for n in range(60):
        headers = {"Authorization": f"Bearer wrong-{n}"} if n % 2 else {}
        assert server.client.get(f"{API}/projects", headers=headers).status_code == 401
    with server.engine.connect() as conn:
        new = conn.execute(select(t.events).where(t.events.c.id > last)).all()
        denied = [e for e in new if e.action.endswith(".denied")]
        counted = conn.execute(select(t.denials.c.count)).scalars().all()
    assert 1 <= len(denied) <= 2  # the flood may span two minutes
    assert denied[0].actor == "anonymous" and denied[0].payload["status"] == 401
    assert sum(counted) == 60

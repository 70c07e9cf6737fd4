"""The whole loop over HTTP: create, upload, label (cookie + CSRF), review, train, export."""

from __future__ import annotations

import json
from typing import Any

API = "/api/v1"


def test_health_ready_and_openapi(server) -> None:
    tc = server.client
    assert tc.get(f"{API}/health").json() == {"status": "ok"}
    assert tc.get(f"{API}/ready").json() == {"status": "ok"}
    spec = tc.get(f"{API}/openapi.json").json()
    assert spec["info"]["title"] == "labelloop"
    assert f"{API}/projects/{{name}}/tasks/{{task_id}}/submit" in spec["paths"]


def test_end_to_end(server) -> None:
    tc, admin = server.client, server.auth("admin")
    rows = server.texts(40)
    truth = {r["text"]: r["truth"] for r in rows}

    created = tc.post(f"{API}/projects", json=server.config(), headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["config"]["labels"] == ["neg", "pos"]
    for who in ("annotator", "reviewer"):  # only admins and members see a project
        joined = tc.put(f"{API}/projects/demo/members/{who}", json={}, headers=admin)
        assert joined.status_code == 200, joined.text

    path = server.write_jsonl(server.tmp / "items.jsonl", rows)
    with path.open("rb") as fh:
        accepted = tc.post(
            f"{API}/projects/demo/imports", files={"file": ("items.jsonl", fh)}, headers=admin
        )
    assert accepted.status_code == 202, accepted.text
    job = server.finished_job(accepted.json()["job_id"])
    assert job["status"] == "done" and job["kind"] == "import" and job["project"] == "demo"
    assert job["result"]["added"] == 40 and job["progress"] >= 0
    assert list((server.settings.data_dir / "uploads").iterdir())

    # The annotator works in a browser session: cookie + CSRF header.
    login = tc.post(
        f"{API}/auth/login", json={"username": "annotator", "password": server.password}
    )
    assert login.status_code == 200
    me = login.json()
    assert me["username"] == "annotator" and me["role"] == "annotator"
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    csrf = {"X-CSRF-Token": me["csrf_token"]}
    assert tc.get(f"{API}/auth/me").json() == {"username": "annotator", "role": "annotator"}

    first: dict[str, Any] | None = None
    labelled = 0
    while labelled < 22:
        tasks = tc.post(f"{API}/projects/demo/tasks/next", json={"n": 4}, headers=csrf).json()
        assert tasks, "the queue ran dry"
        for task in tasks:
            body = {"label": truth[task["data"]["text"]], "client_key": f"k{task['task_id']}"}
            answer = tc.post(
                f"{API}/projects/demo/tasks/{task['task_id']}/submit", json=body, headers=csrf
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["created"] is True
            assert answer.json()["decided"] is None, "hidden from annotators"
            first = first or {"task": task, "body": body, "answer": answer.json()}
            labelled += 1
    assert first is not None
    retry = tc.post(
        f"{API}/projects/demo/tasks/{first['task']['task_id']}/submit",
        json=first["body"],
        headers=csrf,
    )
    assert retry.status_code == 200
    assert retry.json()["created"] is False
    assert retry.json()["annotation_id"] == first["answer"]["annotation_id"]
    assert tc.post(f"{API}/auth/logout", headers=csrf).status_code == 204
    assert tc.get(f"{API}/auth/me").status_code == 401

    # A reviewer reads what was said about an item.
    item_id = server.item_of(first["task"])
    seen = tc.get(
        f"{API}/projects/demo/items/{item_id}/annotations", headers=server.auth("reviewer")
    )
    assert seen.status_code == 200
    detail = seen.json()
    assert [a["annotator"] for a in detail["annotations"]] == ["annotator"]
    assert detail["final_label"]["label"] == first["body"]["label"]
    assert detail["final_label"]["source"] == "human"

    status = tc.get(f"{API}/projects/demo/status", headers=server.auth("reviewer")).json()
    assert status["items"] == 40 and status["by_status"]["labelled"] == labelled

    # The admin trains, exports and downloads.
    job_id = tc.post(f"{API}/projects/demo/models/train", headers=admin).json()["job_id"]
    trained = server.finished_job(job_id)
    assert trained["status"] == "done", trained
    assert trained["result"]["version"] == 1
    models = tc.get(f"{API}/projects/demo/models", headers=server.auth("reviewer")).json()
    assert [m["version"] for m in models] == [1]

    export = tc.post(f"{API}/projects/demo/exports", json={"format": "jsonl"}, headers=admin)
    assert export.status_code == 201, export.text
    version = export.json()
    assert version["n_items"] >= 22
    assert version["path"].endswith(f"demo-{version['content_hash'][:16]}.jsonl")
    download = tc.get(f"{API}/projects/demo/exports/{version['id']}/download", headers=admin)
    assert download.status_code == 200
    lines = [json.loads(line) for line in download.text.splitlines()]
    assert len(lines) == version["n_items"]
    assert all(
        line["label"] == truth[line["text"]] for line in lines if line["label_source"] == "human"
    )

    audit = tc.get(f"{API}/audit/verify", headers=admin).json()
    assert audit["ok"] is True and audit["events"] > 0


def test_guidelines_items_and_users(server) -> None:
    tc, admin = server.client, server.auth("admin")
    server.add_project(server.texts(12))
    assert tc.get(f"{API}/projects/demo/guidelines", headers=server.auth("annotator")).json() == {
        "version": 1,
        "text": "Is the review positive?",
    }
    put = tc.put(f"{API}/projects/demo/guidelines", json={"text": "v2"}, headers=admin)
    assert put.json() == {"version": 2, "text": "v2"}
    items = tc.get(f"{API}/projects/demo/items?limit=5&offset=2", headers=admin).json()
    assert len(items) == 5 and items[0]["status"] == "new"
    assert tc.get(f"{API}/projects/demo/items?status=labelled", headers=admin).json() == []
    assert [p["name"] for p in tc.get(f"{API}/projects", headers=admin).json()] == ["demo"]

    added = tc.post(
        f"{API}/users",
        json={"username": "cleo", "password": server.password, "role": "annotator"},
        headers=admin,
    )
    assert added.status_code == 201 and added.json() == {"username": "cleo", "role": "annotator"}
    assert tc.put(f"{API}/users/cleo/role", json={"role": "reviewer"}, headers=admin).json() == {
        "username": "cleo",
        "role": "reviewer",
    }
    listed = {u["username"]: u["role"] for u in tc.get(f"{API}/users", headers=admin).json()}
    assert listed["cleo"] == "reviewer"


def test_errors_are_mapped_to_one_body_shape(server) -> None:
    tc, admin = server.client, server.auth("admin")
    bad = tc.post(
        f"{API}/projects", json={"name": "x", "labels": ["a", "b"], "bogus": 1}, headers=admin
    )
    assert bad.status_code == 422 and "bogus" in bad.json()["detail"]
    assert tc.get(f"{API}/projects/nope", headers=admin).status_code == 404
    assert tc.get(f"{API}/projects/nope", headers=admin).json()["detail"]
    server.add_project(server.texts(12))
    dup = tc.post(f"{API}/projects", json=server.config(), headers=admin)
    assert dup.status_code == 422 and "name" in dup.json()["detail"]
    wrong = tc.post(f"{API}/projects/demo/tasks/next", json={"n": 0}, headers=admin)
    assert wrong.status_code == 422 and "n" in wrong.json()["detail"]
    assert isinstance(wrong.json()["detail"], str)
    login = tc.post(f"{API}/auth/login", json={"username": "admin", "password": "wrong pass"})
    assert login.status_code == 401 and login.json() == {"detail": "wrong username or password"}
    dup_user = tc.post(
        f"{API}/users",
        json={"username": "admin", "password": server.password, "role": "admin"},
        headers=admin,
    )
    assert dup_user.status_code == 422


def test_a_bad_upload_fails_its_job_with_rejects(server) -> None:
    tc, admin = server.client, server.auth("admin")
    server.add_project(server.texts(12))
    bad = server.tmp / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "fine"}\n{"id": 2}\nnot json\n')
    with bad.open("rb") as fh:
        job_id = tc.post(
            f"{API}/projects/demo/imports", files={"file": ("bad.jsonl", fh)}, headers=admin
        ).json()["job_id"]
    job = server.finished_job(job_id)
    assert job["status"] == "failed" and job["finished_at"]
    assert {r["line"] for r in job["result"]["rejects"]} == {2, 3}
    # Only the creator or an admin may read a job; to anyone else it is missing.
    assert tc.get(f"{API}/jobs/{job_id}", headers=server.auth("expert")).status_code == 404
    assert tc.get(f"{API}/jobs/999999", headers=admin).status_code == 404

"""Project isolation: memberships are the access list, configs are redacted for non-admins, and a
membership's tier caps what its holder may read."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from sqlalchemy import select

from labelloop.errors import PermissionDenied
from labelloop.store import tables as t

API = "/api/v1"
SECRET_URL = "https://bot:s3cret-pw@models.internal/predict"
GUARDED = {
    "model": {"kind": "http", "url": SECRET_URL},
    "routing": {
        "holdout_size": 10,
        "holdout_max_fraction": 0.5,
        "rules": [{"when": "source == 'zz-secret-rule'", "tier": "expert"}],
    },
    "quality": {"min_annotator_accuracy": 0.77, "gold_rate": 0.2, "gates": {"min_agreement": 0.5}},
    "tasks": {"overlap": 2, "lease_seconds": 300},
}


def _get(server, path: str, who: str, **kwargs: Any):
    return server.client.get(API + path, headers=server.auth(who), **kwargs)


def _an_answered_item(server) -> int:
    """The id of an item someone answered (task ids and items are hidden from annotators)."""
    items = _get(server, "/projects/demo/items?limit=1000", "admin").json()
    return next(i["id"] for i in items if i["status"] != "new")


def _seen(task: dict[str, Any]) -> str:
    return json.dumps(task["data"], sort_keys=True)


def _label_some(server, who: str, n: int) -> list[dict[str, Any]]:
    url = f"{API}/projects/demo/tasks"
    tasks = server.client.post(f"{url}/next", json={"n": n}, headers=server.auth(who)).json()
    for task in tasks:
        done = server.client.post(
            f"{url}/{task['task_id']}/submit", json={"label": "pos"}, headers=server.auth(who)
        )
        assert done.status_code == 200, done.text
    return tasks


def test_members_see_a_redacted_config_and_admins_the_whole(server) -> None:
    server.add_project(server.texts(20), **GUARDED)
    for who in ("annotator", "reviewer", "expert"):
        answer = _get(server, "/projects/demo", who)
        assert answer.status_code == 200
        config = answer.json()["config"]
        assert config == {
            "name": "demo",
            "labels": ["neg", "pos"],
            "kind": "single_label",
            "multi_label": False,
            "data": "text",
            "text_field": "text",
            "feature_fields": [],
            "image_shape": None,
            "guidelines": "Is the review positive?",
            "tasks": {"lease_seconds": 300},
        }
        for secret in ("s3cret", "models.internal", "zz-secret-rule", "0.77"):
            assert secret not in answer.text
    full = _get(server, "/projects/demo", "admin").json()["config"]
    assert full["model"]["url"] == SECRET_URL
    assert full["routing"]["rules"][0]["tier"] == "expert"
    assert full["quality"]["min_annotator_accuracy"] == 0.77


def test_no_page_or_answer_shows_a_member_the_model_url(server) -> None:
    server.add_project(server.texts(20), **GUARDED)
    _label_some(server, "annotator", 3)
    _label_some(server, "expert", 1)
    item = _an_answered_item(server)
    reads = [
        "/projects",
        "/projects/demo",
        "/projects/demo/guidelines",
        "/projects/demo/status",
        "/projects/demo/items",
        f"/projects/demo/items/{item}/annotations",
        "/projects/demo/models",
        "/projects/demo/quality/annotators",
        "/projects/demo/quality/accuracy",
        "/projects/demo/quality/gates",
    ]
    for who in ("annotator", "reviewer", "expert"):
        for path in reads:
            assert "s3cret" not in _get(server, path, who).text, (who, path)
        login = server.client.post(
            f"{API}/auth/login", json={"username": who, "password": server.password}
        )
        assert login.status_code == 200
        for page in ("/", "/projects/demo/annotate", "/projects/demo/dashboard"):
            assert "s3cret" not in server.client.get(page).text, (who, page)
        server.client.cookies.clear()


def test_admins_see_every_project_without_a_membership(server) -> None:
    server.add_project(server.texts(12), members=[])
    left = server.client.delete(
        f"{API}/projects/demo/members/admin", headers=server.auth("admin")
    )  # the creator's membership
    assert left.status_code == 204
    assert _get(server, "/projects/demo/members", "admin").json() == []
    assert [p["name"] for p in _get(server, "/projects", "admin").json()] == ["demo"]
    assert _get(server, "/projects/demo/items", "admin").status_code == 200
    for who in ("annotator", "reviewer", "expert"):
        assert _get(server, "/projects", who).json() == []
        assert _get(server, "/projects/demo", who).status_code == 404


def test_the_creator_of_a_project_becomes_its_member(server) -> None:
    created = server.client.post(
        f"{API}/projects", json=server.config(), headers=server.auth("admin")
    )
    assert created.status_code == 201
    members = _get(server, "/projects/demo/members", "admin").json()
    assert [(m["username"], m["tier"]) for m in members] == [("admin", "expert")]


def test_adding_and_removing_a_member_opens_and_closes_the_project(server) -> None:
    server.add_project(server.texts(20), members=["admin", "annotator"])
    cleo = {"Authorization": f"Bearer {server.add_user('cleo', 'annotator')}"}
    tc, admin = server.client, server.auth("admin")
    assert tc.get(f"{API}/projects/demo", headers=cleo).status_code == 404
    assert tc.put(f"{API}/projects/demo/members/cleo", json={}, headers=admin).status_code == 200
    assert [p["name"] for p in tc.get(f"{API}/projects", headers=cleo).json()] == ["demo"]
    held = tc.post(f"{API}/projects/demo/tasks/next", json={"n": 3}, headers=cleo).json()
    assert len(held) == 3

    assert tc.delete(f"{API}/projects/demo/members/cleo", headers=admin).status_code == 204
    assert tc.delete(f"{API}/projects/demo/members/cleo", headers=admin).status_code == 404
    assert tc.get(f"{API}/projects", headers=cleo).json() == []
    late = tc.post(
        f"{API}/projects/demo/tasks/{held[0]['task_id']}/submit",
        json={"label": "pos"},
        headers=cleo,
    )
    assert late.status_code == 404
    # What cleo held goes back to the queue at once.
    everything = tc.post(
        f"{API}/projects/demo/tasks/next", json={"n": 50}, headers=server.auth("annotator")
    ).json()
    assert {_seen(t) for t in held} <= {_seen(t) for t in everything}


def test_a_reviewer_capped_at_the_annotator_tier_reads_no_answers_or_gold(server) -> None:
    server.add_project(server.texts(20))
    gold = server.write_jsonl(
        server.tmp / "gold.jsonl", [{"id": "g1", "text": "superb film", "label": "pos"}]
    )
    with gold.open("rb") as fh:
        job = server.client.post(
            f"{API}/projects/demo/imports",
            files={"file": ("gold.jsonl", fh)},
            data={"gold": "true"},
            headers=server.auth("admin"),
        )
    assert job.status_code == 202
    assert server.finished_job(job.json()["job_id"])["status"] == "done"
    _label_some(server, "annotator", 2)
    item = _an_answered_item(server)
    gold_items = _get(server, "/projects/demo/items?status=gold", "reviewer").json()
    assert len(gold_items) == 1, gold_items
    reads = [
        f"/projects/demo/items/{item}/annotations",
        f"/projects/demo/items/{gold_items[0]['id']}/annotations",
        "/projects/demo/items?status=gold",
        "/projects/demo/status",
        "/projects/demo/models",
        "/projects/demo/quality/annotators",
        "/projects/demo/quality/agreement",
    ]
    for path in reads:  # what the reviewer may read as long as the tier does not cap them
        assert _get(server, path, "reviewer").status_code == 200, path
    capped = server.client.put(
        f"{API}/projects/demo/members/reviewer",
        json={"tier": "annotator"},
        headers=server.auth("admin"),
    )
    assert capped.status_code == 200
    for path in reads:
        denied = _get(server, path, "reviewer")
        assert denied.status_code == 403, path
        assert "at the annotator tier" in denied.json()["detail"]
    assert _get(server, "/projects/demo", "reviewer").status_code == 200
    work = server.client.post(
        f"{API}/projects/demo/tasks/next", json={"n": 1}, headers=server.auth("reviewer")
    )
    assert work.status_code == 200


def test_pages_show_a_person_only_their_projects(server) -> None:
    server.add_project(server.texts(12), members=["admin", "reviewer"])
    server.add_project(server.texts(12), name="other", members=["admin", "annotator"])
    tc = server.client

    def log_in(who: str) -> None:
        tc.cookies.clear()
        res = tc.post(f"{API}/auth/login", json={"username": who, "password": server.password})
        assert res.status_code == 200

    log_in("annotator")
    index = tc.get("/").text
    assert "/projects/other/annotate" in index and "/projects/demo/" not in index
    for page in ("annotate", "review", "dashboard"):
        hidden = tc.get(f"/projects/demo/{page}")
        assert hidden.status_code == 404 and "no project called" in hidden.text

    log_in("reviewer")
    index = tc.get("/").text
    assert "/projects/demo/dashboard" in index and "/projects/other/" not in index
    assert tc.get("/projects/demo/dashboard").status_code == 200
    server.client.put(
        f"{API}/projects/demo/members/reviewer",
        json={"tier": "annotator"},
        headers=server.auth("admin"),
    )
    index = tc.get("/").text
    assert "/projects/demo/annotate" in index
    assert "/projects/demo/dashboard" not in index and "/projects/demo/review" not in index
    assert tc.get("/projects/demo/dashboard").status_code == 403
    assert tc.get("/projects/demo/review").status_code == 403

    log_in("admin")
    index = tc.get("/").text
    assert "/projects/demo/dashboard" in index and "/projects/other/dashboard" in index


def test_a_job_is_hidden_from_its_creator_once_they_leave_the_project(server) -> None:
    server.add_project(server.texts(12))
    tc, admin = server.client, server.auth("admin")
    boss = {"Authorization": f"Bearer {server.add_user('boss', 'admin')}"}
    path = server.write_jsonl(server.tmp / "more.jsonl", server.texts(3))
    with path.open("rb") as fh:
        job_id = tc.post(
            f"{API}/projects/demo/imports", files={"file": ("more.jsonl", fh)}, headers=boss
        ).json()["job_id"]
    assert tc.get(f"{API}/jobs/{job_id}", headers=boss).status_code == 200
    assert (
        tc.put(f"{API}/users/boss/role", json={"role": "expert"}, headers=admin).status_code == 200
    )
    assert tc.get(f"{API}/jobs/{job_id}", headers=boss).status_code == 404
    assert tc.get(f"{API}/jobs/{job_id}", headers=admin).status_code == 200


def test_a_low_accuracy_flag_makes_nobody_a_member(server) -> None:
    server.add_project(
        server.texts(40),
        quality={"gold_rate": 0.5, "min_annotator_accuracy": 0.9, "min_gold_answers": 2},
    )
    gold = server.tmp / "gold.jsonl"
    gold.write_text(
        "".join(
            json.dumps({"id": f"g{i}", "text": f"gold {i}", "label": "pos"}) + "\n"
            for i in range(10)
        )
    )
    project = server.client.app.state.projects.get("demo")
    project.import_file(gold, gold=True)
    outsider = {"Authorization": f"Bearer {server.add_user('outsider', 'annotator')}"}
    # Answers stored through the library under a user's name, all wrong on gold, until paused.
    with contextlib.suppress(PermissionDenied):
        for task in project.next_tasks(20, annotator="outsider"):
            project.annotate(task.item_id, "neg", annotator="outsider", task_id=task.id)
    with server.engine.connect() as conn:
        flags = conn.execute(
            select(t.events.c.payload).where(t.events.c.action == "membership.flag")
        ).all()
    assert [f.payload["username"] for f in flags] == ["outsider"]
    assert "outsider" not in {
        m["username"] for m in _get(server, "/projects/demo/members", "admin").json()
    }
    assert server.client.get(f"{API}/projects", headers=outsider).json() == []
    assert server.client.get(f"{API}/projects/demo", headers=outsider).status_code == 404

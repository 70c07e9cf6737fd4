"""Doing the work through the API as a hostile or careless annotator would: racing submits,
submitting while paused or after a lease ended, hoarding the queue, telling gold from ordinary
items, and items that cannot be served."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from labelloop.accounts.memberships import flag_member
from labelloop.loop.project import Project
from labelloop.store import tables as t
from labelloop.store.engine import writer
from races import race

NEXT = "/api/v1/projects/demo/tasks/next"


def _next(server, role: str = "annotator", **body: Any):
    return server.client.post(NEXT, json={"n": 1, **body}, headers=server.auth(role))


def _submit(server, task_id: int, label: Any = "pos", role: str = "annotator", **body: Any):
    return server.client.post(
        f"/api/v1/projects/demo/tasks/{task_id}/submit",
        json={"label": label, **body},
        headers=server.auth(role),
    )


def _live_answers(server) -> Counter[int]:
    a = t.annotations
    with server.engine.connect() as conn:
        rows = conn.execute(
            select(a.c.task_id, func.count())
            .where(a.c.task_id.is_not(None), a.c.flag.is_(None))
            .group_by(a.c.task_id)
        ).all()
    return Counter({task: n for task, n in rows})


def test_concurrent_submits_of_one_task_store_one_answer(server) -> None:
    server.add_project(server.texts(40))
    tasks = _next(server, n=10).json()
    for task in tasks:
        submit = lambda task_id=task["task_id"]: _submit(server, task_id)  # noqa: E731
        codes = [r.status_code for r in race([submit] * 8)]
        assert codes.count(200) == 1 and codes.count(409) == 7, codes
    assert set(_live_answers(server).values()) == {1}


def test_concurrent_retries_with_one_client_key_store_one_answer(server) -> None:
    server.add_project(server.texts(40))
    (task,) = _next(server).json()
    answers = race([lambda: _submit(server, task["task_id"], client_key="k1")] * 8)
    assert {r.status_code for r in answers} == {200}
    assert len({r.json()["annotation_id"] for r in answers}) == 1
    assert sum(r.json()["created"] for r in answers) == 1
    assert _live_answers(server)[task["task_id"]] == 1


def test_a_paused_annotator_cannot_use_the_leases_they_held(server) -> None:
    server.add_project(server.texts(40))
    held = _next(server, n=4).json()
    assert _submit(server, held[0]["task_id"]).status_code == 200
    with writer(server.engine).begin() as conn:
        project_id = conn.execute(select(t.projects.c.id)).scalar_one()
        flag_member(
            conn, project_id=project_id, username="annotator", reason="test", now=t.utcnow()
        )
    retract = server.client.post(
        f"/api/v1/projects/demo/tasks/{held[0]['task_id']}/retract",
        headers=server.auth("annotator"),
    )
    assert retract.status_code == 403
    for task in held[1:]:
        answer = _submit(server, task["task_id"])
        assert answer.status_code == 403, answer.text
    assert sum(_live_answers(server).values()) == 1
    assert _next(server).status_code == 403


def test_a_late_answer_never_overrides_someone_elses_label(server) -> None:
    server.add_project(server.texts(12), tasks={"lease_seconds": 10})
    (mine,) = _next(server).json()
    with writer(server.engine).begin() as conn:  # the lease ran out
        conn.execute(
            t.tasks.update()
            .where(t.tasks.c.id == mine["task_id"])
            .values(lease_expires_at=t.utcnow() - timedelta(seconds=1))
        )
    (theirs,) = _next(server, "reviewer").json()
    assert _submit(server, theirs["task_id"], "neg", role="reviewer").status_code == 200
    late = _submit(server, mine["task_id"], "pos")
    assert late.status_code == 409
    assert "went to someone else" in late.json()["detail"]
    with server.engine.connect() as conn:
        labels = conn.execute(select(t.final_labels.c.label)).scalars().all()
    assert labels == ["neg"]


def test_one_person_cannot_lease_the_whole_queue(server) -> None:
    server.add_project(server.texts(60), tasks={"max_leases": 15})
    got = [len(_next(server, n=100).json())]
    refused = _next(server, n=100)
    assert got == [15] and refused.status_code == 409
    assert "answer or skip some first" in refused.json()["detail"]
    assert len(_next(server, "reviewer", n=100).json()) == 15, "others still get work"


def test_annotator_tasks_do_not_tell_gold_or_holdout_items_apart(server, tmp_path) -> None:
    server.add_project(server.texts(40), quality={"gold_rate": 0.5})
    gold = server.write_jsonl(
        tmp_path / "gold.jsonl",
        [{"id": f"g{i}", "text": f"gold review {i}", "label": "pos"} for i in range(10)],
    )
    project = Project.open("demo", engine=server.engine, settings=server.settings)
    project.import_file(gold, gold=True)
    project.close()
    tasks = _next(server, n=20).json()
    assert tasks
    for task in tasks:
        assert task["kind"] == "task"
        assert task["item_id"] is None and task["key"] is None
        assert task["suggestion"] is None, "no suggestion while holdout items wait"
    answers = [_submit(server, task["task_id"], "pos").json() for task in tasks]
    assert all(a["decided"] is None and a["escalated"] is None for a in answers)


def test_someone_elses_task_reads_as_missing(server) -> None:
    server.add_project(server.texts(12))
    (task,) = _next(server, "reviewer").json()
    answer = _submit(server, task["task_id"], role="annotator")
    missing = _submit(server, 2**31 - 1, role="annotator")
    assert answer.status_code == missing.status_code == 404
    assert answer.json()["detail"].replace(str(task["task_id"]), "N") == missing.json()[
        "detail"
    ].replace(str(2**31 - 1), "N")


def test_an_item_that_cannot_be_sent_is_set_aside_not_leased(server) -> None:
    server.add_project(server.texts(12))
    with writer(server.engine).begin() as conn:  # written before imports checked this
        project_id = conn.execute(select(t.projects.c.id)).scalar_one()
        deep: dict[str, Any] = {}
        node = deep
        for _ in range(300):
            node["x"] = {}
            node = node["x"]
        conn.execute(
            t.items.insert().values(
                project_id=project_id,
                key="id:deep",
                data={"text": "deep", "meta": deep},
                status="new",
                priority=5e9,
            )
        )
    tasks = _next(server, n=5)
    assert tasks.status_code == 200, tasks.text
    assert all(task["data"]["text"] != "deep" for task in tasks.json())
    assert len(tasks.json()) == 5
    with server.engine.connect() as conn:
        status = conn.execute(
            select(t.items.c.status).where(t.items.c.key == "id:deep")
        ).scalar_one()
        leased = conn.execute(
            select(func.count())
            .select_from(t.tasks)
            .join(t.items, t.items.c.id == t.tasks.c.item_id)
            .where(t.items.c.key == "id:deep")
        ).scalar_one()
    assert status == "invalid" and leased == 0
    items = server.client.get("/api/v1/projects/demo/items", headers=server.auth("admin"))
    assert items.status_code == 200, items.text

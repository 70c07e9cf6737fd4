"""Red team after the core was reshaped (issue 10): hostile answers to the one submit, the task
kinds' widget scripts and a kind that is no longer installed, the jobs list, and races between
submits, audit rounds and membership changes, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections import Counter
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import func, select

from labelloop.accounts.credentials import set_active
from labelloop.accounts.memberships import remove_membership, set_membership
from labelloop.accounts.users import create_token, list_tokens, revoke_token
from labelloop.errors import JobFailed
from labelloop.jobs import queue
from labelloop.loop.project import Project
from labelloop.store import tables as t
from labelloop.store.engine import writer
from races import race

API = "/api/v1/projects"
MULTI = {"labels": ["neg", "pos", "meh"], "kind": "multi_label"}


def _next(server, project: str = "demo", role: str = "annotator", **body: Any) -> Any:
    return server.client.post(
        f"{API}/{project}/tasks/next", json={"n": 1, **body}, headers=server.auth(role)
    )


def _task(server, project: str = "demo", role: str = "annotator") -> dict[str, Any]:
    res = _next(server, project, role)
    assert res.status_code == 200 and res.json(), res.text
    task: dict[str, Any] = res.json()[0]
    return task


def _submit(server, task_id: int, body: Any, project: str = "demo", role: str = "annotator"):
    return server.client.post(
        f"{API}/{project}/tasks/{task_id}/submit", json=body, headers=server.auth(role)
    )


def _count(server, table: Any, *where: Any) -> int:
    with server.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _project_id(server, name: str = "demo") -> int:
    with server.engine.connect() as conn:
        return int(
            conn.execute(select(t.projects.c.id).where(t.projects.c.name == name)).scalar_one()
        )


# -- hostile answers --------------------------------------------------------------------------

NFD_POS = "po\u0301s"  # "pós" decomposed; the project's label is "pos"
HOSTILE_SINGLE: dict[str, Any] = {
    "a list": ["pos"],
    "an empty list": [],
    "an object": {"label": "pos"},
    "nested lists": [["pos"]],
    "a number": 1,
    "a float": 0.5,
    "true": True,
    "null": None,
    "NUL": "pos\x00",
    "a trailing space": "pos ",
    "a leading space": " pos",
    "another case": "POS",
    "a decomposed accent": NFD_POS,
    "a fullwidth name": "\uff50\uff4f\uff53",
    "a long list": ["pos"] * 100_000,
    "a long unknown string": "x" * 500_000,
}
HOSTILE_MULTI: dict[str, Any] = {
    "an object": {"neg": True},
    "nested lists": [["neg"]],
    "a number in the list": ["neg", 1],
    "a boolean in the list": [True],
    "null in the list": ["neg", None],
    "a number": 3,
    "null": None,
    "NUL": ["neg\x00"],
    "files' a|b form": "neg|pos",
    "a trailing space": ["neg "],
    "an unknown label": ["neg", "maybe"],
    "a decomposed accent": [NFD_POS],
    "100,000 unknown labels": [f"l{i}" for i in range(100_000)],
}


def _hostile_cases() -> list[Any]:
    single = [pytest.param({}, v, id=f"single-{k}") for k, v in HOSTILE_SINGLE.items()]
    multi = [pytest.param(MULTI, v, id=f"multi-{k}") for k, v in HOSTILE_MULTI.items()]
    return single + multi


@pytest.mark.parametrize(("overrides", "answer"), _hostile_cases())
def test_a_hostile_answer_gets_a_4xx_and_stores_nothing(server, overrides, answer) -> None:
    server.add_project(server.texts(12), **overrides)
    task = _task(server)
    res = _submit(server, task["task_id"], {"label": answer})
    assert res.status_code in (413, 422), res.text[:300]
    assert "label" in res.text[:2000], "the message names the field"
    assert _count(server, t.annotations) == 0
    assert _count(server, t.final_labels) == 0
    with server.engine.connect() as conn:
        status = conn.execute(
            select(t.tasks.c.status).where(t.tasks.c.id == task["task_id"])
        ).scalar_one()
    assert status == "open", "the task is still the person's to answer"
    good = ["pos"] if overrides else "pos"
    assert _submit(server, task["task_id"], {"label": good}).status_code == 200


def test_a_ten_megabyte_answer_is_refused_as_too_large(server) -> None:
    server.add_project(server.texts(12))
    task = _task(server)
    res = _submit(server, task["task_id"], {"label": "p" * (10 << 20)})
    assert res.status_code == 413, res.text[:300]
    assert "LABELLOOP_MAX_BODY_KB" in res.json()["detail"]
    assert _count(server, t.annotations) == 0


@pytest.mark.parametrize(
    ("overrides", "answer"),
    [
        pytest.param({}, "x" * 500_000, id="single-long-string"),
        pytest.param({}, ["pos"] * 100_000, id="single-long-list"),
        pytest.param(MULTI, [f"l{i}" for i in range(100_000)], id="multi-many-unknown"),
    ],
)
def test_a_refused_answer_is_not_echoed_back_whole(server, overrides, answer) -> None:
    server.add_project(server.texts(12), **overrides)
    task = _task(server)
    res = _submit(server, task["task_id"], {"label": answer})
    assert res.status_code == 422
    assert len(res.json()["detail"]) < 2000, len(res.json()["detail"])


def test_multi_label_duplicates_are_one_label(server) -> None:
    server.add_project(server.texts(12), **MULTI)
    task = _task(server)
    res = _submit(server, task["task_id"], {"label": ["pos", "neg", "pos", "neg"]})
    assert res.status_code == 200, res.text
    with server.engine.connect() as conn:
        label = conn.execute(select(t.annotations.c.label)).scalar_one()
    assert label == ["neg", "pos"]


def test_an_ambiguous_flag_with_a_hostile_label_is_refused(server) -> None:
    server.add_project(server.texts(12))
    task = _task(server)
    res = _submit(server, task["task_id"], {"label": "nope", "flag": "ambiguous"})
    assert res.status_code == 422, res.text
    res = _submit(server, task["task_id"], {"label": None, "flag": "certain"})
    assert res.status_code == 422, res.text
    assert _count(server, t.annotations) == 0


def test_a_client_key_reused_on_another_project_does_not_swallow_the_answer(server) -> None:
    server.add_project(server.texts(12))
    server.add_project(server.texts(12), name="other")
    first = _task(server)
    assert _submit(server, first["task_id"], {"label": "pos", "client_key": "k1"}).json()["created"]
    second = _task(server, "other")
    res = _submit(server, second["task_id"], {"label": "neg", "client_key": "k1"}, "other")
    assert res.status_code == 409 or res.json()["created"], res.text
    with server.engine.connect() as conn:
        status = conn.execute(
            select(t.tasks.c.status).where(t.tasks.c.id == second["task_id"])
        ).scalar_one()
    assert res.status_code == 409 or status == "done"


# -- the widget scripts -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["single_label", "multi_label"])
def test_a_widget_script_is_served_as_javascript_that_cannot_be_sniffed(server, kind) -> None:
    res = server.client.get(f"/widgets/{kind}.js")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/javascript")
    assert res.headers["x-content-type-options"] == "nosniff"
    assert "labelloopWidgets" in res.text


@pytest.mark.parametrize(
    "path",
    [
        "/widgets/gone.js",
        "/widgets/.js",
        "/widgets/single_label.js.map",
        "/widgets/single_label.html",
        "/widgets/single_label",
        "/widgets/label_buttons.js",
        "/widgets/..%2f..%2f..%2fetc%2fpasswd.js",
        "/widgets/%2e%2e%2fpyproject.toml%00.js",
        "/widgets/%2e%2e/%2e%2e/etc/passwd.js",
        "/widgets/single_label%00.js",
        "/widgets/SINGLE_LABEL.js",
        "/widgets/__init__.js",
        "/widgets/%252e%252e%252fetc%252fpasswd.js",
    ],
)
def test_no_path_trick_reaches_another_file_through_the_widget_route(server, path) -> None:
    res = server.client.get(path)
    assert res.status_code in (404, 422), (res.status_code, res.text[:200])
    assert "root:" not in res.text and "[project]" not in res.text
    assert "Traceback" not in res.text


# -- a project whose kind is no longer installed ----------------------------------------------


def _login(server, username: str) -> None:
    res = server.client.post(
        "/api/v1/auth/login", json={"username": username, "password": server.password}
    )
    assert res.status_code == 200, res.text


def _store_config(server, name: str, **changes: Any) -> None:
    """Change a project's stored config directly (as an older version or a removed plugin left
    it), dropping keys set to None."""
    with writer(server.engine).begin() as conn:
        config = dict(
            conn.execute(select(t.projects.c.config).where(t.projects.c.name == name)).scalar_one()
        )
        config.update(changes)
        config = {k: v for k, v in config.items() if v is not None}
        conn.execute(t.projects.update().where(t.projects.c.name == name).values(config=config))


def _broken_and_demo(server) -> None:
    """Projects ``broken`` (its kind's plugin is gone) and ``demo``, everyone on both."""
    server.add_project(server.texts(12), name="broken")
    server.add_project(server.texts(12))
    _store_config(server, "broken", kind="gone")


@pytest.mark.parametrize("role", ["admin", "annotator"])
def test_a_project_of_a_kind_no_longer_installed_fails_clearly_and_alone(server, role) -> None:
    _broken_and_demo(server)
    for method, path, body in [
        ("GET", f"{API}/broken", None),
        ("POST", f"{API}/broken/tasks/next", {"n": 1}),
        ("GET", f"{API}/broken/jobs", None),
        ("GET", f"{API}/broken/guidelines", None),
    ]:
        res = server.client.request(method, path, json=body, headers=server.auth(role))
        assert 400 <= res.status_code < 500, (path, res.status_code, res.text[:300])
        assert "gone" in res.json()["detail"], res.text
    listed = server.client.get(API, headers=server.auth(role))
    assert listed.status_code == 200 and {p["name"] for p in listed.json()} == {"broken", "demo"}
    task = _task(server, role=role)  # other projects still work
    assert _submit(server, task["task_id"], {"label": "pos"}, role=role).status_code == 200
    _login(server, role)
    for path in ("/projects/broken/annotate", "/projects/broken/dashboard"):
        page = server.client.get(path)
        assert 400 <= page.status_code < 500, (path, page.status_code, page.text[:300])
        assert "gone" in page.text and "Traceback" not in page.text
    assert server.client.get("/projects/demo/annotate").status_code == 200


def test_a_job_of_a_project_whose_kind_is_gone_fails_and_others_still_run(server) -> None:
    _broken_and_demo(server)
    broken = queue.enqueue(
        server.engine,
        kind="route",
        project_id=_project_id(server, "broken"),
        params={},
        created_by="admin",
    )
    fine = queue.enqueue(
        server.engine,
        kind="route",
        project_id=_project_id(server, "demo"),
        params={},
        created_by="admin",
    )
    server.client.app.state.worker.wake()  # type: ignore[attr-defined]
    with pytest.raises(JobFailed, match=f"job {broken} .*gone"):
        queue.wait_for(server.engine, {fine, broken})
    assert queue.get(server.engine, job_id=fine)["status"] == "done"


@pytest.mark.parametrize("role", ["admin", "annotator"])
def test_the_project_list_page_survives_a_project_whose_kind_is_gone(server, role) -> None:
    _broken_and_demo(server)
    _login(server, role)
    home = server.client.get("/")
    assert home.status_code == 200, home.text[:300]
    assert "/projects/demo/" in home.text


def test_a_config_stored_before_kinds_existed_still_opens(server) -> None:
    server.add_project(server.texts(12), name="old", labels=["neg", "pos"])
    server.add_project(server.texts(12), name="oldmulti", labels=["neg", "pos"], multi_label=True)
    _store_config(server, "old", kind=None, multi_label=None)
    _store_config(server, "oldmulti", kind=None)
    read = server.client.get(f"{API}/old", headers=server.auth("annotator")).json()
    assert (read["config"]["kind"], read["config"]["multi_label"]) == ("single_label", False)
    read = server.client.get(f"{API}/oldmulti", headers=server.auth("annotator")).json()
    assert (read["config"]["kind"], read["config"]["multi_label"]) == ("multi_label", True)
    task = _task(server, "oldmulti")
    assert _submit(server, task["task_id"], {"label": ["pos"]}, "oldmulti").status_code == 200
    _login(server, "annotator")
    for name in ("old", "oldmulti"):
        assert server.client.get(f"/projects/{name}/annotate").status_code == 200


# -- the jobs list ----------------------------------------------------------------------------


def _failed_import(server) -> int:
    """An admin's import of a bad file into ``demo``, failed; its job id."""
    bad = server.tmp / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "fine"}\n{"id": 2}\nnot json\n')
    with bad.open("rb") as fh:
        res = server.client.post(
            f"{API}/demo/imports", files={"file": ("bad.jsonl", fh)}, headers=server.auth("admin")
        )
    job_id: int = res.json()["job_id"]
    assert server.finished_job(job_id)["status"] == "failed"
    return job_id


def test_the_jobs_list_shows_others_jobs_to_admins_only(server) -> None:
    server.add_project(server.texts(12))
    server.add_project(server.texts(12), name="other", members=["admin"])
    job_id = _failed_import(server)
    outsider = server.add_user("outsider", "reviewer")
    server.join("other", "outsider")
    stranger = server.add_user("stranger", "annotator")
    admin = server.client.get(f"{API}/demo/jobs?status=failed", headers=server.auth("admin"))
    assert [j["id"] for j in admin.json()] == [job_id]
    assert "bad.jsonl:2" in admin.json()[0]["error"]
    assert str(server.settings.data_dir) not in admin.text, "no server path in the reason"
    for role in ("annotator", "reviewer", "expert"):
        mine = server.client.get(f"{API}/demo/jobs", headers=server.auth(role))
        assert mine.status_code == 200 and mine.json() == [], (role, mine.text)
    missing = server.client.get(f"{API}/nowhere/jobs", headers=server.auth("annotator"))
    for token in (outsider, stranger):
        res = server.client.get(f"{API}/demo/jobs", headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 404, res.text
        assert res.json()["detail"].replace("demo", "X") == missing.json()["detail"].replace(
            "nowhere", "X"
        )
    other = server.client.get(f"{API}/other/jobs", headers={"Authorization": f"Bearer {outsider}"})
    assert other.status_code == 200 and other.json() == []


def test_the_jobs_list_ends_with_the_credentials_that_read_it(server) -> None:
    server.add_project(server.texts(12))
    _failed_import(server)
    admin_token = server.add_user("admin2", "admin")
    server.join("demo", "admin2")
    auth = {"Authorization": f"Bearer {admin_token}"}
    assert server.client.get(f"{API}/demo/jobs", headers=auth).status_code == 200
    (token,) = [k for k in list_tokens(server.engine, username="admin2")]
    revoke_token(server.engine, token_id=token.id, actor="admin")
    assert server.client.get(f"{API}/demo/jobs", headers=auth).status_code == 401
    admin_token = create_token(server.engine, server.users["admin2"], "again")
    auth = {"Authorization": f"Bearer {admin_token}"}
    set_active(server.engine, "admin2", False, actor="admin")
    res = server.client.get(f"{API}/demo/jobs?status=failed", headers=auth)
    assert res.status_code == 401 and "bad.jsonl" not in res.text


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "status=FAILED",
        "status=failed%27--",
        "status=",
        "limit=0",
        "limit=-1",
        "limit=1001",
        "limit=99999999999999999999",
        "limit=abc",
        "limit=1e3",
        "limit=",
        "limit=%00",
    ],
)
def test_a_jobs_list_query_that_makes_no_sense_gets_422(server, query) -> None:
    server.add_project(server.texts(12))
    res = server.client.get(f"{API}/demo/jobs?{query}", headers=server.auth("admin"))
    assert res.status_code == 422, (query, res.status_code, res.text)
    assert ("status" if "status" in query else "limit") in res.text


def test_the_jobs_list_limit_is_kept(server) -> None:
    server.add_project(server.texts(12))
    for _ in range(3):
        queue.enqueue(
            server.engine,
            kind="route",
            project_id=_project_id(server),
            params={},
            created_by="admin",
        )
    one = server.client.get(f"{API}/demo/jobs?limit=1", headers=server.auth("admin"))
    assert one.status_code == 200 and len(one.json()) == 1
    most = server.client.get(f"{API}/demo/jobs?limit=1000", headers=server.auth("admin"))
    assert most.status_code == 200 and len(most.json()) == 3


# -- races ------------------------------------------------------------------------------------


def _annotators(server, n: int) -> list[str]:
    """``n`` more annotators on ``demo``; their tokens."""
    names = [f"ann{k}" for k in range(n)]
    tokens = [server.add_user(name, "annotator") for name in names]
    server.join("demo", *names)
    return tokens


@pytest.mark.parametrize(
    "quality",
    [{"aggregation": "dawid-skene"}, {"aggregation": "dawid-skene", "max_overlap": 4}],
    ids=["fixed", "dynamic"],
)
def test_concurrent_answers_with_overlap_two_decide_each_item_once(server, quality) -> None:
    server.add_project(server.texts(40), tasks={"overlap": 2}, quality=quality)
    tokens = _annotators(server, 6)
    sent = 0
    for _round in range(3):
        leased = []
        for k, token in enumerate(tokens):
            auth = {"Authorization": f"Bearer {token}"}
            res = server.client.post(f"{API}/demo/tasks/next", json={"n": 8}, headers=auth)
            assert res.status_code == 200, res.text
            leased.append((k, auth, res.json()))

        def answer_all(k: int, auth: dict[str, str], tasks: list[dict[str, Any]]) -> list[int]:
            codes = []
            for task in tasks:
                truth = "pos" if task["data"]["id"] % 2 else "neg"
                label = "pos" if k >= 4 else truth  # two people answer "pos" to everything
                res = server.client.post(
                    f"{API}/demo/tasks/{task['task_id']}/submit",
                    json={"label": label, "client_key": f"{task['task_id']}"},
                    headers=auth,
                )
                codes.append(res.status_code)
            return codes

        results = race([lambda k=k, a=a, ts=ts: answer_all(k, a, ts) for k, a, ts in leased])
        codes = [code for result in results for code in result]
        assert set(codes) <= {200}, Counter(codes)
        sent += len(codes)
    i, a, fl = t.items, t.annotations, t.final_labels
    with server.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(a)).scalar_one()
        created = conn.execute(
            select(func.count()).where(t.events.c.action == "annotation.create")
        ).scalar_one()
        answers = dict(conn.execute(select(a.c.item_id, func.count()).group_by(a.c.item_id)).all())
        items = conn.execute(select(i.c.id, i.c.status, i.c.tier, i.c.wanted)).all()
        finals = Counter(conn.execute(select(fl.c.item_id)).scalars())
    assert sent >= 80 and stored == created == sent, "no lost answer"
    if "max_overlap" in quality:
        assert any((item.wanted or 2) > 2 for item in items), "someone more was asked"
    for item in items:
        n, wanted = answers.get(item.id, 0), item.wanted or 2
        assert n <= quality.get("max_overlap", 2), (item, n)
        if item.status == "labelled":
            assert finals[item.id] == 1 and n >= 2, (item, n)
        elif item.tier == "reviewer":
            assert item.status == "new" and not finals[item.id] and n >= 2, (item, n)
        else:
            assert item.status == "new" and not finals[item.id] and n < wanted, (item, n)


def _held_task(server, role: str) -> dict[str, Any]:
    """A task leased to ``role`` at its own tier (a reviewer's: an item flagged ambiguous)."""
    if role == "reviewer":
        flagged = _task(server, role="expert")
        body = {"label": None, "flag": "ambiguous"}
        assert _submit(server, flagged["task_id"], body, role="expert").status_code == 200
    res = _next(server, role=role, tier=role)
    assert res.status_code == 200 and res.json(), res.text
    task: dict[str, Any] = res.json()[0]
    return task


def _stored_whole_or_not_at_all(server, task_id: int, code: int) -> None:
    """A submit answered 200 stored the answer, closed the task and logged it; any other answer
    stored none of it."""
    with server.engine.connect() as conn:
        answers = conn.execute(
            select(func.count()).where(t.annotations.c.task_id == task_id)
        ).scalar_one()
        status = conn.execute(select(t.tasks.c.status).where(t.tasks.c.id == task_id)).scalar_one()
        events = [
            e["task_id"]
            for e in conn.execute(
                select(t.events.c.payload).where(t.events.c.action == "annotation.create")
            ).scalars()
        ]
    if code == 200:
        assert (answers, status, events.count(task_id)) == (1, "done", 1)
    else:
        assert code == 404, code
        assert (answers, status, events.count(task_id)) == (0, "open", 0)


def test_a_submit_racing_the_persons_removal_is_stored_whole_or_refused(server) -> None:
    server.add_project(server.texts(60))
    project_id = _project_id(server)
    for _attempt in range(6):
        task = _held_task(server, "annotator")

        def remove() -> None:
            with writer(server.engine).begin() as conn:
                remove_membership(conn, project_id=project_id, username="annotator", actor="t")

        submit, _ = race(
            [lambda task=task: _submit(server, task["task_id"], {"label": "pos"}), remove]
        )
        _stored_whole_or_not_at_all(server, task["task_id"], submit.status_code)
        server.join("demo", "annotator")


def test_a_submit_racing_a_lowered_tier_is_stored_whole_or_refused(server) -> None:
    server.add_project(server.texts(60))
    project_id = _project_id(server)
    for _attempt in range(6):
        task = _held_task(server, "reviewer")

        def lower() -> None:
            set_membership(
                server.engine,
                project_id=project_id,
                username="reviewer",
                tier="annotator",
                actor="t",
            )

        submit, _ = race(
            [
                lambda task=task: _submit(
                    server, task["task_id"], {"label": "pos"}, role="reviewer"
                ),
                lower,
            ]
        )
        _stored_whole_or_not_at_all(server, task["task_id"], submit.status_code)
        set_membership(server.engine, project_id=project_id, username="reviewer", actor="t")


def _promote_a_model(server, label: str = "pos") -> None:
    """A promoted model version 1 of ``demo`` that predicts ``label`` for every item, sure of it
    (written directly: what is raced here is the routing, not the training), and no holdout."""
    project_id = _project_id(server)
    with writer(server.engine).begin() as conn:
        version_id = t.inserted_id(
            conn.execute(
                t.model_versions.insert().values(
                    project_id=project_id, version=1, status="promoted", n_labels=10, metrics={}
                )
            )
        )
        item_ids = conn.execute(
            select(t.items.c.id).where(t.items.c.project_id == project_id)
        ).scalars()
        conn.execute(
            t.predictions.insert(),
            [
                {"item_id": i, "model_version_id": version_id, "label": label, "confidence": 0.99}
                for i in item_ids
            ],
        )
        conn.execute(
            t.items.update().where(t.items.c.project_id == project_id).values(is_holdout=False)
        )


def test_concurrent_audit_answers_evaluate_their_round_once(server) -> None:
    server.add_project(server.texts(80), tasks={"overlap": 1}, routing={"target_accuracy": 0.8})
    _promote_a_model(server)
    started = server.client.post(f"{API}/demo/route", headers=server.auth("admin"))
    assert started.status_code == 200 and started.json()["action"] == "started", started.text
    sample = _count(server, t.audit_samples)
    tokens = _annotators(server, 6)
    leased = []
    for token in tokens:
        auth = {"Authorization": f"Bearer {token}"}
        tasks = server.client.post(
            f"{API}/demo/tasks/next", json={"n": -(-sample // 6)}, headers=auth
        ).json()
        leased.append((auth, tasks))
    queued_at_once: list[int] = []
    racing = threading.Event()

    def watch() -> None:
        j = t.jobs
        while not racing.is_set():
            with server.engine.connect() as conn:
                queued_at_once.append(
                    conn.execute(
                        select(func.count()).where(j.c.kind == "route", j.c.status == "queued")
                    ).scalar_one()
                )

    watcher = threading.Thread(target=watch)
    watcher.start()

    def answer_all(auth: dict[str, str], tasks: list[dict[str, Any]]) -> list[int]:
        return [
            server.client.post(
                f"{API}/demo/tasks/{task['task_id']}/submit", json={"label": "pos"}, headers=auth
            ).status_code
            for task in tasks
        ]

    try:
        results = race([lambda a=a, ts=ts: answer_all(a, ts) for a, ts in leased])
    finally:
        racing.set()
        watcher.join()
    assert {code for codes in results for code in codes} == {200}
    with server.engine.connect() as conn:
        route_jobs = list(
            conn.execute(select(t.jobs.c.id).where(t.jobs.c.kind == "route")).scalars()
        )
    for job_id in route_jobs:
        assert server.finished_job(job_id)["status"] == "done"
    assert max(queued_at_once) <= 1, Counter(queued_at_once)
    with server.engine.connect() as conn:
        actions = list(
            conn.execute(
                select(t.events.c.action)
                .where(t.events.c.action.like("round.%"))
                .order_by(t.events.c.id)
            ).scalars()
        )
        status = conn.execute(select(t.routing_rounds.c.status)).scalar_one()
    assert actions == ["round.start", "round.passed"] and status == "passed", actions


# -- label names the widget and the files must carry ------------------------------------------

NASTY_LABELS = ["=1+1", '"quoted"', "</script>", "{{ 7*7 }}", "a,b", "x y", "'; alert(1)"]


class _LabelButtons(HTMLParser):
    """The ``data-label`` of every label button, as a browser reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "button" and "data-label" in found:
            self.labels.append(str(found["data-label"]))


def test_label_names_that_look_like_code_survive_the_widget_and_a_csv_round_trip(server) -> None:
    server.add_project(
        server.texts(4), labels=NASTY_LABELS, kind="multi_label", tasks={"overlap": 1}
    )
    _login(server, "annotator")
    page = server.client.get("/projects/demo/annotate")
    assert page.status_code == 200
    buttons = _LabelButtons()
    buttons.feed(page.text)
    assert buttons.labels == NASTY_LABELS
    config = re.search(r'id="page-config">(.*?)</script>', page.text, re.S)
    assert config is not None and json.loads(config.group(1))["labels"] == NASTY_LABELS
    answer = ["=1+1", "a,b", "x y", "{{ 7*7 }}"]  # sorted: the cell starts with "="
    for _ in range(4):
        task = _task(server)
        assert _submit(server, task["task_id"], {"label": answer}).status_code == 200
    res = server.client.post(
        f"{API}/demo/exports", json={"format": "csv"}, headers=server.auth("admin")
    )
    assert res.status_code == 201, res.text
    download = server.client.get(
        f"{API}/demo/exports/{res.json()['id']}/download", headers=server.auth("admin")
    )
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 4 and all(row["label"].startswith("'=") for row in rows), rows[0]
    again = server.tmp / "again.csv"
    again.write_text(download.text)
    project = Project.create(
        server.config(name="again", labels=NASTY_LABELS, kind="multi_label", label_field="label"),
        engine=server.engine,
        settings=server.settings,
        retrain="off",
    )
    project.import_file(again)
    project.close()
    with server.engine.connect() as conn:
        given = conn.execute(
            select(t.items.c.given_label)
            .join(t.projects, t.projects.c.id == t.items.c.project_id)
            .where(t.projects.c.name == "again")
        ).scalars()
        assert [label for label in given] == [answer] * 4


def test_a_task_of_another_project_cannot_be_answered_through_this_one(server) -> None:
    server.add_project(server.texts(12), name="multi", **MULTI)
    server.add_project(server.texts(12))
    task = _task(server, "demo")
    res = _submit(server, task["task_id"], {"label": ["pos", "neg"]}, "multi")
    assert res.status_code == 404, res.text
    res = _submit(server, task["task_id"], {"label": "pos"}, "multi")
    assert res.status_code in (404, 422), res.text
    assert _count(server, t.annotations) == 0
    assert _submit(server, task["task_id"], {"label": "pos"}).status_code == 200


def test_a_failed_jobs_reason_is_shown_as_text_on_the_dashboard(server) -> None:
    server.add_project(server.texts(12))
    job_id = queue.enqueue(
        server.engine, kind="route", project_id=_project_id(server), params={}, created_by="admin"
    )
    server.finished_job(job_id)
    queue.update(
        server.engine, job_id=job_id, status="failed", error='<img src=x onerror="alert(1)">'
    )
    _login(server, "admin")
    page = server.client.get("/projects/demo/dashboard")
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text


def test_a_failed_jobs_reason_does_not_carry_the_model_urls_credentials(server) -> None:
    model = {"kind": "http", "url": "http://labeller:s3cret@127.0.0.1:1/m?key=k3y"}
    server.add_project(server.texts(40), model=model)
    project = Project.open("demo", engine=server.engine, settings=server.settings, retrain="off")
    for task in project.next_tasks(30, annotator="ann"):
        project.annotate(task.item_id, "pos" if task.item_id % 2 else "neg", annotator="ann")
    project.close()
    boss = {"Authorization": f"Bearer {server.add_user('boss', 'admin')}"}
    server.join("demo", "boss")
    job_id = server.client.post(f"{API}/demo/models/train", headers=boss).json()["job_id"]
    assert server.finished_job(job_id)["status"] == "failed"
    demoted = server.client.put(
        "/api/v1/users/boss/role", json={"role": "expert"}, headers=server.auth("admin")
    )
    assert demoted.status_code == 200
    config = server.client.get(f"{API}/demo", headers=boss).json()["config"]
    assert "model" not in config, "the config is redacted for them"
    (job,) = server.client.get(f"{API}/demo/jobs?status=failed", headers=boss).json()
    assert "127.0.0.1" in job["error"], job["error"]
    assert "s3cret" not in job["error"] and "k3y" not in job["error"], job["error"]


def test_an_answer_in_another_unicode_form_is_taken_or_refused_saying_why(server) -> None:
    server.add_project(server.texts(12), labels=["caf\u00e9", "th\u00e9"])
    task = _task(server)
    res = _submit(server, task["task_id"], {"label": "cafe\u0301"})
    if res.status_code == 200:
        with server.engine.connect() as conn:
            assert conn.execute(select(t.annotations.c.label)).scalar_one() == "caf\u00e9"
    else:
        assert res.status_code == 422 and "normali" in res.json()["detail"], res.text

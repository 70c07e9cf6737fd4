"""Durability of the real server process: a SIGKILL mid-stream, a PostgreSQL restart under load.

``labelloop serve`` runs as a child process on the store of the test. A client thread leases
tasks and submits answers with client keys, noting every answer the server acknowledged (HTTP
200). Whatever happens to the server or the database, every acknowledged answer must be in the
store exactly once, and a retry with the same client key must never store a second one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from labelloop.accounts.users import User, create_token, create_user
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings
from labelloop.store import tables as t

API = "/api/v1/projects/demo/tasks"
LEASE_SECONDS = 10
HTTP_TIMEOUT = 30


@dataclass
class Store:
    """The store of one test, its settings and the people on it."""

    url: str
    settings: Settings
    tmp: Path
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


@dataclass
class Sent:
    """One submission: what was sent, and the server's answer if one came."""

    task_id: int
    item_id: int
    client_key: str
    label: str
    annotation_id: int | None = None  # set on an HTTP 200


@dataclass
class Log:
    """What a client saw: leases, submissions (in send order), errors."""

    leased: dict[int, int] = field(default_factory=dict)  # task id -> item id
    sent: list[Sent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ok_times: list[float] = field(default_factory=list)  # monotonic time of each 200 submit

    @property
    def acked(self) -> list[Sent]:
        return [s for s in self.sent if s.annotation_id is not None]


def _make_store(store_url: str, tmp_path: Path, n_items: int) -> Store:
    """A project of ``n_items`` short texts, a lease of 10 s, and three annotators with tokens."""
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(json.dumps({"id": k, "text": f"review {k}"}) + "\n" for k in range(n_items))
    )
    engine = connect(settings, store_url)
    try:
        project = Project.create(
            {
                "name": "demo",
                "labels": ["neg", "pos"],
                "routing": {"holdout_size": 10, "holdout_max_fraction": 0.5},
                "retrain": {"every": 1000},
                "tasks": {"overlap": 1, "lease_seconds": LEASE_SECONDS, "max_leases": 1000},
            },
            engine=engine,
            settings=settings,
            retrain="off",
        )
        project.import_file(items)
        found = Store(store_url, settings, tmp_path)
        for name in ("ann1", "ann2", "ann3"):
            found.users[name] = create_user(engine, name, "a long enough password", "annotator")
            found.tokens[name] = create_token(engine, found.users[name], "test")
            project.add_member(name)
        project.close()
    finally:
        engine.dispose()
    return found


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Store:
    """80 items: the client runs out of work soon after the kill."""
    return _make_store(store_url, tmp_path, 80)


@pytest.fixture
def busy_store(store_url: str, tmp_path: Path) -> Store:
    """1,500 items: enough work for three clients through a database restart."""
    return _make_store(store_url, tmp_path, 1500)


def _client(base: str, token: str, log: Log, stop: threading.Event, lease: int = 3) -> None:
    """Lease ``lease`` tasks at a time and answer them one by one until ``stop`` or no work."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=HTTP_TIMEOUT) as http:
        while not stop.is_set():
            try:
                resp = http.post(f"{API}/next", json={"n": lease})
            except httpx.HTTPError as exc:
                log.errors.append(f"next {type(exc).__name__}")
                time.sleep(0.05)
                continue
            if resp.status_code != 200:
                log.errors.append(f"next {resp.status_code}")
                time.sleep(0.05)
                continue
            tasks = resp.json()
            if not tasks:
                return
            for task in tasks:
                log.leased[task["task_id"]] = task["data"]["id"]
            for task in tasks:
                if stop.is_set():
                    return
                sent = Sent(task["task_id"], task["data"]["id"], uuid.uuid4().hex, "pos")
                log.sent.append(sent)  # noted before it goes: in flight until acknowledged
                try:
                    resp = http.post(
                        f"{API}/{sent.task_id}/submit",
                        json={"label": sent.label, "client_key": sent.client_key},
                    )
                except httpx.HTTPError as exc:
                    log.errors.append(f"submit {type(exc).__name__}")
                    continue
                if resp.status_code == 200:
                    sent.annotation_id = int(resp.json()["annotation_id"])
                    log.ok_times.append(time.monotonic())
                else:
                    log.errors.append(f"submit {resp.status_code}")


def _resend(base: str, token: str, sent: list[Sent]) -> list[dict[str, Any]]:
    """Send ``sent`` again with the same client keys; every retry must be answered 200."""
    answers = []
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT
    ) as http:
        for s in sent:
            resp = http.post(
                f"{API}/{s.task_id}/submit", json={"label": s.label, "client_key": s.client_key}
            )
            assert resp.status_code == 200, (s, resp.text)
            answers.append(resp.json())
    return answers


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _check_store(store: Store, user: User, logs: list[Log]) -> None:
    """Every acknowledged answer stored exactly once; no client key and no task answered twice."""
    engine = create_engine(store.url)
    a = t.annotations
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(a.c.id, a.c.task_id, a.c.client_key)).all()
            doubled_keys = conn.execute(
                select(a.c.client_key)
                .where(a.c.client_key.is_not(None))
                .group_by(a.c.client_key)
                .having(func.count() > 1)
            ).all()
            doubled_tasks = conn.execute(
                select(a.c.task_id)
                .where(a.c.task_id.is_not(None))
                .group_by(a.c.task_id)
                .having(func.count() > 1)
            ).all()
    finally:
        engine.dispose()
    assert doubled_keys == []
    assert doubled_tasks == []
    by_id = {r.id: r for r in rows}
    for log in logs:
        for s in log.acked:
            assert s.annotation_id in by_id, f"acknowledged answer {s} is lost"
            stored = by_id[s.annotation_id]
            assert (stored.task_id, stored.client_key) == (s.task_id, f"{user.id}:{s.client_key}")


def test_sigkill_mid_stream_loses_no_acknowledged_answer(store: Store, serve_process: Any):
    log, stop = Log(), threading.Event()
    with serve_process(store.settings, store.tmp / "serve-1.log") as (proc, base):
        client = threading.Thread(target=_client, args=(base, store.tokens["ann1"], log, stop))
        client.start()
        _wait_for(lambda: len(log.acked) >= 12, 60, "12 acknowledged answers")
        # Leases that will never be answered: the dead process must not keep them forever.
        resp = httpx.post(
            f"{base}{API}/next",
            json={"n": 2},
            headers={"Authorization": f"Bearer {store.tokens['ann3']}"},
            timeout=HTTP_TIMEOUT,
        )
        assert resp.status_code == 200, resp.text
        held = {task["task_id"]: task["data"]["id"] for task in resp.json()}
        assert len(held) == 2
        proc.send_signal(signal.SIGKILL)  # mid-stream: the client is submitting
        proc.wait(timeout=30)
        stop.set()
        client.join(timeout=HTTP_TIMEOUT + 10)
        assert not client.is_alive()
    acked = log.acked
    unacked = [s for s in log.sent if s.annotation_id is None]
    answered = {s.task_id for s in log.sent}
    abandoned = {task: item for task, item in log.leased.items() if task not in answered}
    abandoned.update(held)

    with serve_process(store.settings, store.tmp / "serve-2.log") as (_proc, base):
        # The same keys again: the unacknowledged ones (stored or not) and some acknowledged ones.
        again = _resend(base, store.tokens["ann1"], unacked + acked[:5])
        for s, answer in zip(unacked, again, strict=False):
            s.annotation_id = int(answer["annotation_id"])
        for s, answer in zip(acked[:5], again[len(unacked) :], strict=True):
            assert answer["created"] is False
            assert answer["annotation_id"] == s.annotation_id

        # Leases the dead process handed out come back once they expire.
        other: set[int] = set()
        headers = {"Authorization": f"Bearer {store.tokens['ann2']}"}

        def back() -> bool:
            resp = httpx.post(f"{base}{API}/next", json={"n": 100}, headers=headers, timeout=30)
            assert resp.status_code == 200, resp.text
            other.update(task["data"]["id"] for task in resp.json())
            return set(abandoned.values()) <= other

        _wait_for(back, LEASE_SECONDS + 30, "the dead process's leases to expire")
    _check_store(store, store.users["ann1"], [log])


def test_a_job_killed_with_its_server_is_run_again_by_the_next(store: Store, serve_process: Any):
    """An import running when its server is SIGKILLed is taken over by the next server once its
    heartbeat stops, and runs to the end once: all items, none twice."""
    n_new = 60_000  # long enough an import to be killed while it runs
    upload = store.tmp / "many.jsonl"
    upload.write_text(
        "".join(json.dumps({"id": f"n{k}", "text": f"new review {k}"}) + "\n" for k in range(n_new))
    )
    engine = connect(store.settings)  # with the store's audit key
    try:
        admin = create_user(engine, "boss", "a long enough password", "admin")
        token = create_token(engine, admin, "test")
    finally:
        engine.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    env = {**os.environ, "LABELLOOP_JOB_HEARTBEAT_SECONDS": "0.5"}
    with serve_process(store.settings, store.tmp / "serve-1.log", env=env) as (proc, base):
        with upload.open("rb") as fh:
            resp = httpx.post(
                f"{base}/api/v1/projects/demo/imports",
                files={"file": ("many.jsonl", fh)},
                headers=headers,
                timeout=HTTP_TIMEOUT,
            )
        assert resp.status_code == 202, resp.text
        job_url = f"{base}/api/v1/jobs/{resp.json()['job_id']}"

        def running() -> bool:
            job = httpx.get(job_url, headers=headers, timeout=HTTP_TIMEOUT).json()
            assert job["status"] != "done", "the import ended before the kill: make it longer"
            return bool(job["status"] == "running")

        _wait_for(running, 30, "the import job to run")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    with serve_process(store.settings, store.tmp / "serve-2.log", env=env) as (_proc, base):
        job_url = job_url.replace(job_url.split("/api/")[0], base)

        def finished() -> bool:
            job = httpx.get(job_url, headers=headers, timeout=HTTP_TIMEOUT).json()
            return job["status"] in ("done", "failed")

        _wait_for(finished, 120, "the orphaned import to be run again")
        job = httpx.get(job_url, headers=headers, timeout=HTTP_TIMEOUT).json()
    assert job["status"] == "done", job["error"]
    assert job["attempts"] == 2 and job["result"]["added"] == n_new
    engine = create_engine(store.url)
    try:
        with engine.connect() as conn:
            keys = conn.execute(select(t.items.c.key)).scalars().all()
    finally:
        engine.dispose()
    assert len(keys) == len(set(keys)) == 80 + n_new


def _pg_cluster(url: str) -> tuple[str, str] | None:
    """(version, name) of the local cluster serving ``url``'s port, from pg_lsclusters."""
    port = re.search(r":(\d+)/", url)
    want = port.group(1) if port else "5432"
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False
    )
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == want:
            return fields[0], fields[1]
    return None


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_server_recovers_from_a_postgresql_restart_under_load(
    busy_store: Store, serve_process: Any
):
    store = busy_store
    cluster = _pg_cluster(store.url)
    reason = None
    if os.geteuid() != 0:
        reason = "restarting PostgreSQL needs root"
    elif shutil.which("pg_ctlcluster") is None or cluster is None:
        reason = "pg_ctlcluster (or a local cluster on the store's port) is missing"
    if reason is not None:
        if os.environ.get("LABELLOOP_REQUIRE_PG") == "1":
            pytest.fail(f"LABELLOOP_REQUIRE_PG=1 but {reason}")
        pytest.skip(reason)
    assert cluster is not None
    names = ("ann1", "ann2", "ann3")
    logs, stop = {name: Log() for name in names}, threading.Event()
    with serve_process(store.settings, store.tmp / "serve.log") as (_proc, base):
        clients = [
            threading.Thread(target=_client, args=(base, store.tokens[n], logs[n], stop, 1))
            for n in names
        ]
        for c in clients:
            c.start()
        _wait_for(lambda: sum(len(g.acked) for g in logs.values()) >= 6, 60, "answers")
        subprocess.run(["pg_ctlcluster", *cluster, "restart"], check=True, timeout=120)
        restarted = time.monotonic()
        # Recovered: answers are acknowledged again soon after the database is back.
        _wait_for(
            lambda: any(tm > restarted for g in logs.values() for tm in g.ok_times),
            30,
            "a 200 answer after the restart",
        )
        stop.set()
        for c in clients:
            c.join(timeout=HTTP_TIMEOUT + 10)
            assert not c.is_alive()
        for name in names:
            unacked = [s for s in logs[name].sent if s.annotation_id is None]
            for s, answer in zip(unacked, _resend(base, store.tokens[name], unacked), strict=True):
                s.annotation_id = int(answer["annotation_id"])
    for name in names:
        _check_store(store, store.users[name], [logs[name]])

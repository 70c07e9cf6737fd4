"""Next-task and submit latency with concurrent annotators: labelloop beside Label Studio.

Both systems get the same load in one run: ``--items`` short texts, labels a/b, an overlap of 1,
and ``--annotators`` threads, each a distinct user with its own API token and ``httpx.Client``,
looping for ``--seconds``: ask for the next task, then submit a label for it.

* labelloop: ``benchmarks.task_latency.run_backend("sqlite", ..., workers=1)``: one
  ``labelloop serve`` process on SQLite.
* Label Studio: started here as a subprocess (``label-studio start`` from its own venv) on SQLite
  with its default settings, a temp data dir, a free 127.0.0.1 port, ``--no-browser``, log level
  WARNING, nothing sent out (no PyPI version check, usage telemetry or Sentry), legacy API tokens
  enabled and an admin user. The annotators sign up through the organization's invite link and
  read their tokens from the API. A project with ``maximum_annotations=1`` gets the items through
  ``POST /api/projects/{id}/import`` in chunks of 5,000 (timed); each thread loops
  ``GET /api/projects/{id}/next/`` then ``POST /api/tasks/{id}/annotations/`` with a choice.
  Afterwards, with the server stopped, its SQLite file is read. Each server is one process of
  its own (Label Studio: Django's threaded server, as ``label-studio start`` runs it); the
  clients are threads of this one.

Columns: double assignments (tasks handed out to more annotators than the overlap: the store's
leases for labelloop, the ``next`` responses for Label Studio), lost (acknowledged annotations
missing from the store) and doubled (extra annotations on tasks answered more than once).

Install Label Studio apart from this project:
``python3 -m venv /tmp/lsvenv && /tmp/lsvenv/bin/pip install label-studio``.

Run: ``python benchmarks/label_studio_load.py [--items 10000] [--annotators 32] [--seconds 30]
[--label-studio /tmp/lsvenv/bin/label-studio] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

if not __package__:  # run as a file: import ``benchmarks`` from the repository root instead
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx
import numpy as np

from benchmarks.task_latency import (
    ClientLog,
    Row,
    drive,
    format_table,
    free_port,
    run_backend,
    summarize,
    texts,
)

DEFAULT_LS = "/tmp/lsvenv/bin/label-studio"
INSTALL_HINT = "python3 -m venv /tmp/lsvenv && /tmp/lsvenv/bin/pip install label-studio"
PASSWORD = "bench-pass-123"
ADMIN = "admin@bench.local"
LABEL_CONFIG = (
    '<View><Text name="text" value="$text"/>'
    '<Choices name="label" toName="text"><Choice value="a"/><Choice value="b"/></Choices></View>'
)
RESULT = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["a"]}}]
CHUNK = 5_000


@contextmanager
def _label_studio(exe: str, data_dir: Path, token: str) -> Iterator[str]:
    """A Label Studio server with an admin user whose token is ``token``; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LATEST_VERSION_CHECK": "false",  # no calls out: no PyPI check, telemetry or Sentry
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
    }
    cmd = [exe, "start", "--no-browser", "--enable-legacy-api-token", "--log-level", "WARNING"]
    cmd += ["--data-dir", str(data_dir), "--internal-host", "127.0.0.1", "--port", str(port)]
    cmd += ["--username", ADMIN, "--password", PASSWORD, "--user-token", token]
    log_path = data_dir.parent / "label-studio.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Label Studio did not start:\n{tail}")
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _signup(base: str, invite: str, email: str) -> str:
    """Sign ``email`` up through the invite link (as a browser would); return its API token."""
    with httpx.Client(base_url=base, timeout=60) as client:
        client.get("/user/signup/", params={"token": invite}).raise_for_status()
        form = {
            "csrfmiddlewaretoken": client.cookies["csrftoken"],
            "email": email,
            "password": PASSWORD,
            "allow_newsletters": "false",
        }
        resp = client.post(
            "/user/signup/",
            params={"token": invite},
            data=form,
            headers={"Referer": f"{base}/user/signup/"},
        )
        if resp.status_code != 302:
            raise RuntimeError(f"signing up {email} failed: {resp.status_code} {resp.text[:300]}")
        resp = client.get("/api/current-user/token")
        resp.raise_for_status()
        return str(resp.json()["token"])


def _prepare(
    base: str, admin_token: str, items: int, annotators: int
) -> tuple[int, float, list[str]]:
    """Create the project, import the items (timed), sign up the annotators; id, s, tokens."""
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Token {admin_token}"}, timeout=600
    ) as admin:
        resp = admin.post(
            "/api/projects/",
            json={
                "title": "latency",
                "label_config": LABEL_CONFIG,
                "maximum_annotations": 1,
            },
        )
        resp.raise_for_status()
        project = int(resp.json()["id"])
        rows = texts(items, np.random.default_rng(0))
        start = time.perf_counter()
        for k in range(0, items, CHUNK):
            chunk = [{"text": text_} for text_ in rows[k : k + CHUNK]]
            resp = admin.post(f"/api/projects/{project}/import", json=chunk)
            resp.raise_for_status()
        import_s = time.perf_counter() - start
        invite = str(admin.get("/api/invite").json()["token"])
    tokens = [_signup(base, invite, f"ann{k:03d}@bench.local") for k in range(annotators)]
    return project, import_s, tokens


def _annotator(base: str, project: int, token: str, stop_at: float, log: ClientLog) -> None:
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            try:
                resp = client.get(f"/api/projects/{project}/next/")
            except httpx.HTTPError as exc:
                log.errors[f"next {type(exc).__name__}"] += 1
                continue
            log.next_s.append(time.perf_counter() - start)
            if resp.status_code == 404:
                log.errors["next empty"] += 1
                break
            if resp.status_code != 200:
                log.errors[f"next {resp.status_code}"] += 1
                continue
            task = int(resp.json()["id"])
            log.served.append(task)
            body = {"result": RESULT, "lead_time": 1.0, "project": project}
            start = time.perf_counter()
            try:
                resp = client.post(f"/api/tasks/{task}/annotations/", json=body)
            except httpx.HTTPError as exc:
                log.errors[f"submit {type(exc).__name__}"] += 1
                continue
            log.submit_s.append(time.perf_counter() - start)
            if resp.status_code != 201:
                log.errors[f"submit {resp.status_code}"] += 1
                continue
            log.annotation_ids.append(int(resp.json()["id"]))


def _check(db: Path, project: int, annotation_ids: list[int]) -> tuple[int, int]:
    """Lost annotations and extra annotations on doubled tasks, from Label Studio's SQLite file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        stored = {
            r[0]
            for r in conn.execute("SELECT id FROM task_completion WHERE project_id = ?", (project,))
        }
        (doubled,) = conn.execute(
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM task_completion"
            " WHERE project_id = ? AND NOT was_cancelled GROUP BY task_id HAVING n > 1)",
            (project,),
        ).fetchone()
    finally:
        conn.close()
    return len(set(annotation_ids) - stored), int(doubled)


def run_label_studio(exe: str, *, items: int, annotators: int, seconds: float) -> Row:
    """Start Label Studio, load it, drive it with ``annotators`` threads for ``seconds``, check."""
    with tempfile.TemporaryDirectory(prefix="labelloop-ls-") as tmp_name:
        data_dir = Path(tmp_name) / "data"
        admin_token = uuid.uuid4().hex
        with _label_studio(exe, data_dir, admin_token) as base:
            version = httpx.get(f"{base}/api/version", timeout=30).json().get("release", "?")
            project, import_s, tokens = _prepare(base, admin_token, items, annotators)
            print(
                f"Label Studio {version}: import {import_s:.1f} s, "
                f"{annotators} annotators signed up",
                flush=True,
            )
            logs, elapsed = drive(partial(_annotator, base, project), tokens, seconds)
        ids = [a for log in logs for a in log.annotation_ids]
        lost, doubled = _check(data_dir / "label_studio.sqlite3", project, ids)
    served_to: defaultdict[int, set[int]] = defaultdict(set)
    for k, log in enumerate(logs):
        for task in log.served:
            served_to[task].add(k)
    double = sum(len(who) > 1 for who in served_to.values())
    return summarize(
        f"Label Studio {version} (sqlite)",
        logs,
        elapsed,
        (double, lost, doubled),
        items=items,
        annotators=annotators,
        import_s=import_s,
        workers=1,
    )


def run_labelloop(*, items: int, annotators: int, seconds: float) -> Row:
    """labelloop on SQLite served by one ``labelloop serve`` process, as Label Studio is one
    process: ``task_latency.run_backend``."""
    row = run_backend("sqlite", items=items, annotators=annotators, seconds=seconds, workers=1)
    return replace(row, backend="labelloop (sqlite)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--annotators", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--label-studio", default=DEFAULT_LS, help="the label-studio executable")
    parser.add_argument("--quick", action="store_true", help="5,000 items, 10 annotators, 5 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.annotators, args.seconds = 5_000, 10, 5.0
    load = {"items": args.items, "annotators": args.annotators, "seconds": args.seconds}
    print(f"labelloop: {args.items:,} items, {args.annotators} annotators ...", flush=True)
    rows = [run_labelloop(**load)]
    if Path(args.label_studio).is_file() and os.access(args.label_studio, os.X_OK):
        print(f"Label Studio: {args.items:,} items, {args.annotators} annotators ...", flush=True)
        rows.append(run_label_studio(args.label_studio, **load))
    else:
        print(
            f"Label Studio is not installed at {args.label_studio}; skipping its row. "
            f"Install it in its own venv: {INSTALL_HINT}",
            flush=True,
        )
    print()
    print(format_table(rows))


if __name__ == "__main__":
    main()

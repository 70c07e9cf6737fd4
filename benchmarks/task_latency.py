"""Next-task and submit latency through the real HTTP server, concurrent annotators, large pool.

Per backend (a SQLite file in a temp dir; a fresh PostgreSQL database created and dropped here):
a project with labels a/b, no retraining during the run and a 10-item holdout, ``--items`` short
texts imported from a temp JSONL (timed), the API served by uvicorn on a free 127.0.0.1 port, and
``--annotators`` users with API tokens. Each annotator is a thread with its own ``httpx.Client``
looping for ``--seconds``: ``POST tasks/next {"n": 1}`` then ``POST tasks/{id}/submit`` with a
fresh ``client_key``. Afterwards the store is checked: items leased or done by more people than
the overlap of 1 (double assignments), 200-answered submits whose annotation is missing (lost),
and tasks answered more than once (doubled).

Run: ``python benchmarks/task_latency.py [--items 100000] [--annotators 50] [--seconds 30]
[--backends sqlite,postgresql] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:  # run as a file: import ``benchmarks`` from the repository root instead
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx
import numpy as np
import uvicorn
from sqlalchemy import create_engine, func, select

from benchmarks.stores import aligned, fresh_store
from labelloop.accounts.users import create_token, create_user
from labelloop.loop.project import Project, connect
from labelloop.server.app import create_app
from labelloop.settings import Settings
from labelloop.store import tables as t

PROJECT = "latency"
WORDS = ("good", "bad", "fine", "poor", "great", "awful", "ok", "meh", "nice", "dull")


@dataclass
class Row:
    """One backend's result."""

    backend: str
    items: int
    annotators: int
    import_s: float
    requests: int
    next_p50_ms: float
    next_p99_ms: float
    submit_p50_ms: float
    submit_p99_ms: float
    annotations_per_s: float
    double_assignments: int
    lost: int
    doubled: int
    errors: dict[str, int] = field(default_factory=dict)


@dataclass
class _Log:
    """What one simulated annotator saw."""

    next_s: list[float] = field(default_factory=list)
    submit_s: list[float] = field(default_factory=list)
    annotation_ids: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def _write_items(path: Path, n: int, rng: np.random.Generator) -> None:
    words = rng.integers(0, len(WORDS), size=(n, 6))
    with path.open("w") as fh:
        for k in range(n):
            text_ = " ".join(WORDS[w] for w in words[k])
            fh.write(json.dumps({"id": f"i{k}", "text": f"{text_} {k}"}) + "\n")


def _prepare(url: str, settings: Settings, jsonl: Path, annotators: int) -> tuple[float, list[str]]:
    """Create the project, import the items (timed) and the users; return import time, tokens."""
    engine = connect(settings, url)
    try:
        project = Project.create(
            {
                "name": PROJECT,
                "labels": ["a", "b"],
                "retrain": {"every": 10**9},
                "routing": {"holdout_size": 10},
                "tasks": {"overlap": 1},
            },
            engine=engine,
            settings=settings,
            retrain="off",
        )
        start = time.perf_counter()
        project.import_file(jsonl)
        import_s = time.perf_counter() - start
        project.close()
        tokens = []
        for k in range(annotators):
            user = create_user(engine, f"ann{k:03d}", "password-123", "annotator")
            tokens.append(create_token(engine, user, "bench"))
    finally:
        engine.dispose()
    return import_s, tokens


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(settings: Settings) -> Iterator[str]:
    """The labelloop API in a background thread; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the uvicorn server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _annotator(base: str, token: str, stop_at: float, log: _Log) -> None:
    api = f"{base}/api/v1/projects/{PROJECT}/tasks"
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(headers=headers, timeout=120) as client:
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            try:
                resp = client.post(f"{api}/next", json={"n": 1})
            except httpx.HTTPError as exc:
                log.errors[f"next {type(exc).__name__}"] += 1
                continue
            log.next_s.append(time.perf_counter() - start)
            if resp.status_code != 200:
                log.errors[f"next {resp.status_code}"] += 1
                continue
            tasks = resp.json()
            if not tasks:
                log.errors["next empty"] += 1
                break
            body = {"label": "a", "client_key": uuid.uuid4().hex}
            start = time.perf_counter()
            try:
                resp = client.post(f"{api}/{tasks[0]['task_id']}/submit", json=body)
            except httpx.HTTPError as exc:
                log.errors[f"submit {type(exc).__name__}"] += 1
                continue
            log.submit_s.append(time.perf_counter() - start)
            if resp.status_code != 200:
                log.errors[f"submit {resp.status_code}"] += 1
                continue
            log.annotation_ids.append(int(resp.json()["annotation_id"]))


def _check(url: str, annotation_ids: list[int], overlap: int = 1) -> tuple[int, int, int]:
    """Double assignments, lost annotations and annotations doubled by retry, from the store."""
    engine = create_engine(url)
    tk, an = t.tasks, t.annotations
    try:
        with engine.connect() as conn:
            per_item = (
                select(tk.c.item_id)
                .where(tk.c.status.in_(("open", "done")))
                .group_by(tk.c.item_id)
                .having(func.count() > overlap)
                .subquery()
            )
            double = conn.execute(select(func.count()).select_from(per_item)).scalar_one()
            stored = set(conn.execute(select(an.c.id)).scalars())
            per_task = (
                select((func.count() - 1).label("extra"))
                .where(an.c.task_id.is_not(None))
                .group_by(an.c.task_id)
                .subquery()
            )
            doubled = conn.execute(select(func.coalesce(func.sum(per_task.c.extra), 0))).scalar()
    finally:
        engine.dispose()
    return int(double), len(set(annotation_ids) - stored), int(doubled or 0)


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000) if values else float("nan")


def run_backend(
    backend: str, *, items: int, annotators: int, seconds: float, random_state: int = 0
) -> Row:
    """Set up a fresh store for ``backend``, drive the server for ``seconds``, check the store."""
    rng = np.random.default_rng(random_state)
    with tempfile.TemporaryDirectory(prefix="labelloop-latency-") as tmp_name:
        tmp = Path(tmp_name)
        jsonl = tmp / "items.jsonl"
        _write_items(jsonl, items, rng)
        with fresh_store(backend, tmp) as url:
            settings = Settings(data_dir=tmp / "data", database_url=url, log_level="WARNING")
            import_s, tokens = _prepare(url, settings, jsonl, annotators)
            logs = [_Log() for _ in tokens]
            with _serve(settings) as base:
                stop_at = time.perf_counter() + seconds
                start = time.perf_counter()
                threads = [
                    threading.Thread(target=_annotator, args=(base, tok, stop_at, log))
                    for tok, log in zip(tokens, logs, strict=True)
                ]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                elapsed = time.perf_counter() - start
            ids = [a for log in logs for a in log.annotation_ids]
            double, lost, doubled = _check(url, ids)
    next_s = [x for log in logs for x in log.next_s]
    submit_s = [x for log in logs for x in log.submit_s]
    errors: Counter[str] = Counter()
    for log in logs:
        errors.update(log.errors)
    return Row(
        backend=backend,
        items=items,
        annotators=annotators,
        import_s=import_s,
        requests=len(next_s) + len(submit_s),
        next_p50_ms=_ms(next_s, 50),
        next_p99_ms=_ms(next_s, 99),
        submit_p50_ms=_ms(submit_s, 50),
        submit_p99_ms=_ms(submit_s, 99),
        annotations_per_s=len(ids) / elapsed,
        double_assignments=double,
        lost=lost,
        doubled=doubled,
        errors=dict(errors),
    )


def format_table(rows: list[Row]) -> str:
    """One table, the backends side by side."""
    head = (
        "backend",
        "items",
        "annotators",
        "import s",
        "requests",
        "next p50 ms",
        "next p99 ms",
        "submit p50 ms",
        "submit p99 ms",
        "annotations/s",
        "double assignments",
        "lost",
        "doubled",
        "errors",
    )
    body = [
        (
            r.backend,
            f"{r.items:,}",
            str(r.annotators),
            f"{r.import_s:.1f}",
            f"{r.requests:,}",
            f"{r.next_p50_ms:.1f}",
            f"{r.next_p99_ms:.1f}",
            f"{r.submit_p50_ms:.1f}",
            f"{r.submit_p99_ms:.1f}",
            f"{r.annotations_per_s:.1f}",
            str(r.double_assignments),
            str(r.lost),
            str(r.doubled),
            ", ".join(f"{k}: {v}" for k, v in sorted(r.errors.items())) or "0",
        )
        for r in rows
    ]
    return aligned(head, body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="5,000 items, 10 annotators, 5 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.annotators, args.seconds = 5_000, 10, 5.0
    rows = []
    for backend in args.backends.split(","):
        print(f"{backend}: importing {args.items:,} items ...", flush=True)
        row = run_backend(
            backend, items=args.items, annotators=args.annotators, seconds=args.seconds
        )
        print(f"{backend}: import {row.import_s:.1f} s, run done", flush=True)
        rows.append(row)
    print()
    print(format_table(rows))


if __name__ == "__main__":
    main()

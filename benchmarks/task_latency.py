"""Next-task and submit latency through the real HTTP server, concurrent annotators, large pool.

Per backend (a SQLite file in a temp dir; a fresh PostgreSQL database created and dropped here)
and per ``--workers`` value: a project with labels a/b, no retraining during the run and a
10-item holdout, ``--items`` short texts imported from a temp JSONL (timed), the API served on a
free 127.0.0.1 port, and ``--annotators`` users with API tokens. ``--workers thread`` (the
default; ``0`` means the same) serves it with uvicorn in a thread of this process, so clients and
server share one GIL; ``--workers N`` runs ``labelloop --data-dir D --db URL serve --workers N``
as a separate process (its log in ``--log-dir``), waits for ``/api/v1/health`` and
``/api/v1/ready`` to answer 200, and stops it afterwards (SIGTERM, then SIGKILL); a server that
exits before it is ready (say, one that refuses SQLite with several workers) gives a row marked
refused, with the reason from its log. Each annotator is a thread with its own ``httpx.Client``
looping for ``--seconds``: ``POST tasks/next {"n": 1}`` then ``POST tasks/{id}/submit`` with a
fresh ``client_key``. Afterwards the store is checked: items leased or done by more people than
the overlap of 1 (double assignments), 200-answered submits whose annotation is missing (lost),
and tasks answered more than once (doubled). Clients and server share this machine's cores.

Run: ``python benchmarks/task_latency.py [--items 100000] [--annotators 50] [--seconds 30]
[--backends sqlite,postgresql] [--workers thread,1,2] [--log-dir DIR] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

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
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
_EXCEPTION = re.compile(r"^[\w.]+(Error|Exception|Exit): ")


class ServeRefused(RuntimeError):
    """The server process exited before it was ready; the message is the reason from its log."""


@dataclass
class Row:
    """One backend's result (``workers`` None: served in a thread of this process)."""

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
    workers: int | None = None
    refused: str = ""


@dataclass
class ClientLog:
    """What one simulated annotator saw (``served``: task ids handed to it, where recorded)."""

    next_s: list[float] = field(default_factory=list)
    submit_s: list[float] = field(default_factory=list)
    served: list[int] = field(default_factory=list)
    annotation_ids: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def texts(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` short distinct texts of six random words and a number."""
    words = rng.integers(0, len(WORDS), size=(n, 6))
    return [" ".join(WORDS[w] for w in words[k]) + f" {k}" for k in range(n)]


def _write_items(path: Path, n: int, rng: np.random.Generator) -> None:
    with path.open("w") as fh:
        for k, text_ in enumerate(texts(n, rng)):
            fh.write(json.dumps({"id": f"i{k}", "text": text_}) + "\n")


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
        tokens = []
        for k in range(annotators):
            user = create_user(engine, f"ann{k:03d}", "password-123", "annotator")
            tokens.append(create_token(engine, user, "bench"))
            project.add_member(user.username)
        project.close()
    finally:
        engine.dispose()
    return import_s, tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base: str, alive: Callable[[], bool]) -> None:
    """Poll ``/health``, then ``/ready``, until both answer 200; raise if ``alive()`` turns false
    or it takes longer than ``START_TIMEOUT_S``."""
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(base_url=f"{base}/api/v1", timeout=5) as client:
        for path in ("/health", "/ready"):
            while True:
                if not alive():
                    raise ServeRefused("the server exited before it was ready")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not answer {path} with 200 in time")
                try:
                    if client.get(path).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)


@contextmanager
def _serve_thread(settings: Settings, port: int) -> Iterator[Callable[[], bool]]:
    """uvicorn in a daemon thread of this process; yields its liveness check."""
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        yield thread.is_alive
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_S)


def _log_reason(log: Path) -> str:
    """Why a server process stopped, from its log: the last ``error:`` message or exception line
    (else the last line), shortened for the table."""
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    causes = [ln for ln in lines if ln.lower().startswith("error") or _EXCEPTION.match(ln)]
    return (causes or lines or ["no output"])[-1][:160]


@contextmanager
def _serve_process(
    settings: Settings, port: int, workers: int, log: Path
) -> Iterator[Callable[[], bool]]:
    """``labelloop ... serve --workers N`` as a child process (output to ``log``); yields its
    liveness check; stops it with SIGTERM, then SIGKILL to what is left of its process group."""
    exe = Path(sys.executable).with_name("labelloop")
    store = ["--data-dir", str(settings.data_dir), "--db", settings.resolved_database_url()]
    cmd = [str(exe), *store, "serve", "--workers", str(workers), "--port", str(port)]
    # COLUMNS: rich would wrap the CLI's "error: ..." line at 80 columns in a file
    env = {**os.environ, "LABELLOOP_LOG_LEVEL": settings.log_level, "COLUMNS": "1000"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each run: its own, under its data dir
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        yield lambda: proc.poll() is None
    finally:
        proc.terminate()  # uvicorn stops its workers, then itself
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT_S)
        with suppress(ProcessLookupError):  # whatever is left of its process group
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextmanager
def _serve(
    settings: Settings, workers: int | None = None, log: Path | None = None
) -> Iterator[str]:
    """The labelloop API, in a thread (``workers`` None) or as ``serve --workers N`` (output to
    ``log``); yields its base URL once ``/health`` and ``/ready`` answer 200. A server process
    that exits first raises ``ServeRefused`` with the reason from its log."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if workers is None:
        server = _serve_thread(settings, port)
    else:
        log = log or settings.data_dir / "server.log"
        server = _serve_process(settings, port, workers, log)
    with server as alive:
        try:
            _wait_ready(base, alive)
        except ServeRefused:
            if log is None:
                raise
            raise ServeRefused(_log_reason(log)) from None
        yield base


def _annotator(base: str, token: str, stop_at: float, log: ClientLog) -> None:
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


def drive(
    annotator: Callable[[str, float, ClientLog], None], tokens: list[str], seconds: float
) -> tuple[list[ClientLog], float]:
    """``annotator(token, stop_at, log)`` in one thread per token for ``seconds``; their logs
    and the seconds elapsed."""
    logs = [ClientLog() for _ in tokens]
    stop_at = time.perf_counter() + seconds
    start = time.perf_counter()
    threads = [
        threading.Thread(target=annotator, args=(tok, stop_at, log))
        for tok, log in zip(tokens, logs, strict=True)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return logs, time.perf_counter() - start


def summarize(
    backend: str,
    logs: list[ClientLog],
    elapsed: float,
    checked: tuple[int, int, int],
    **setup: Any,
) -> Row:
    """A table row from the clients' logs and the store's (double, lost, doubled) counts;
    ``setup`` gives the other fields of :class:`Row` (items, annotators, import_s, ...)."""
    next_s = [x for log in logs for x in log.next_s]
    submit_s = [x for log in logs for x in log.submit_s]
    errors: Counter[str] = Counter()
    for log in logs:
        errors.update(log.errors)
    double, lost, doubled = checked
    return Row(
        backend=backend,
        requests=len(next_s) + len(submit_s),
        next_p50_ms=_ms(next_s, 50),
        next_p99_ms=_ms(next_s, 99),
        submit_p50_ms=_ms(submit_s, 50),
        submit_p99_ms=_ms(submit_s, 99),
        annotations_per_s=sum(len(log.annotation_ids) for log in logs) / elapsed,
        double_assignments=double,
        lost=lost,
        doubled=doubled,
        errors=dict(errors),
        **setup,
    )


def run_backend(
    backend: str,
    *,
    items: int,
    annotators: int,
    seconds: float,
    random_state: int = 0,
    workers: int | None = None,
    server_log: Path | None = None,
) -> Row:
    """Set up a fresh store for ``backend``, drive the server for ``seconds``, check the store.

    ``workers`` None serves in a thread of this process; N runs ``labelloop serve --workers N``
    as a child process, its output in ``server_log`` (default: in the run's temp dir, removed);
    if that process exits before it is ready, the row is marked ``refused`` with the reason."""
    rng = np.random.default_rng(random_state)
    with tempfile.TemporaryDirectory(prefix="labelloop-latency-") as tmp_name:
        tmp = Path(tmp_name)
        jsonl = tmp / "items.jsonl"
        _write_items(jsonl, items, rng)
        with fresh_store(backend, tmp) as url:
            settings = Settings(data_dir=tmp / "data", database_url=url, log_level="WARNING")
            import_s, tokens = _prepare(url, settings, jsonl, annotators)
            logs: list[ClientLog] = []
            elapsed, refused = float("nan"), ""
            try:
                with _serve(settings, workers, server_log) as base:
                    logs, elapsed = drive(partial(_annotator, base), tokens, seconds)
            except ServeRefused as exc:
                refused = str(exc)
            ids = [a for log in logs for a in log.annotation_ids]
            checked = _check(url, ids)
    return summarize(
        backend,
        logs,
        elapsed,
        checked,
        items=items,
        annotators=annotators,
        import_s=import_s,
        workers=workers,
        refused=refused,
    )


def format_table(rows: list[Row]) -> str:
    """One table, a row per backend and workers value ("thread": served in this process)."""
    head = (
        "backend",
        "workers",
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
    body = []
    for r in rows:
        workers = "thread" if r.workers is None else str(r.workers)
        setup = (r.backend, workers, f"{r.items:,}", str(r.annotators), f"{r.import_s:.1f}")
        if r.refused:
            body.append((*setup, *["-"] * 9, f"refused: {r.refused}"))
            continue
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.errors.items())) or "0"
        body.append(
            (
                *setup,
                f"{r.requests:,}",
                f"{r.next_p50_ms:.1f}",
                f"{r.next_p99_ms:.1f}",
                f"{r.submit_p50_ms:.1f}",
                f"{r.submit_p99_ms:.1f}",
                f"{r.annotations_per_s:.1f}",
                str(r.double_assignments),
                str(r.lost),
                str(r.doubled),
                errors,
            )
        )
    return aligned(head, body)


def _workers(value: str) -> list[int | None]:
    """``--workers``: a comma list of ``thread`` (or ``0``: in this process) and counts."""
    out: list[int | None] = []
    for part in value.split(","):
        part = part.strip().lower()
        if part in ("thread", "0"):
            out.append(None)
        elif part.isdigit():
            out.append(int(part))
        else:
            raise argparse.ArgumentTypeError(f"not 'thread' or a worker count: {part!r}")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--workers",
        type=_workers,
        default=[None],
        help="comma list: 'thread' (or 0) serves in this process, N runs 'serve --workers N'",
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "labelloop-latency",
        help="where the server processes' logs are kept",
    )
    parser.add_argument("--quick", action="store_true", help="5,000 items, 10 annotators, 5 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.annotators, args.seconds = 5_000, 10, 5.0
    rows = []
    for workers in args.workers:
        for backend in args.backends.split(","):
            name = f"{backend} workers={'thread' if workers is None else workers}"
            log = None if workers is None else args.log_dir / f"{backend}-w{workers}.log"
            print(f"{name}: importing {args.items:,} items ...", flush=True)
            row = run_backend(
                backend,
                items=args.items,
                annotators=args.annotators,
                seconds=args.seconds,
                workers=workers,
                server_log=log,
            )
            done = f"refused: {row.refused}" if row.refused else "run done"
            where = f" (server log {log})" if log else ""
            print(f"{name}: import {row.import_s:.1f} s, {done}{where}", flush=True)
            rows.append(row)
    print()
    print(format_table(rows))


if __name__ == "__main__":
    main()

"""Login under a burst: concurrent bad logins for one account while other users keep working.

Per backend (a SQLite file in a temp dir; a fresh PostgreSQL database created and dropped here):
an admin, a second account ``ana`` and ``--users`` annotators with API tokens, served by a real
``labelloop serve`` process (one worker) on a free 127.0.0.1 port with its default login limits
(``LABELLOOP_LOGIN_MAX_FAILURES`` failures per account and address, at most
``LABELLOOP_LOGIN_CONCURRENT_HASHES`` hashes at once). The other users are one thread each,
alternating ``GET /auth/me`` and ``GET /projects`` with their tokens, ``--think`` seconds apart
(so that they do not saturate the server themselves). After two seconds of warm-up, four
phases of ``--seconds`` each, one row each; the bursts come from another process, released
together half a second in:

* ``quiet``: the others only (the baseline);
* ``burst of health checks``: ``--burst`` concurrent ``GET /health``: what any burst of that
  many requests costs the others on this machine (the baseline of the next two);
* ``burst of bad logins``: ``--burst`` bad logins for ``admin``;
* ``bad logins, rotating XFF``: the same for ``ana``, each with its own ``X-Forwarded-For``
  (which a server that trusts no proxy must ignore).

Per row: the login answers by status (``429 busy``: no hashing slot came free within a second,
rather than a limit), the argon2 hashes the server computed in the phase (its
``labelloop_password_hashes_total``), the limit, the server's peak RSS so far (``VmHWM``), and the
others' requests with their p50 and p99 latency. Clients and server share this machine's cores.

Run: ``python benchmarks/login_burst.py [--burst 60] [--users 10] [--seconds 5] [--think 0.1]
[--backends sqlite,postgresql] [--log-dir DIR] [--quick]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

if not __package__:  # run as a file: import ``benchmarks`` from the repository root instead
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx
import numpy as np

from benchmarks.stores import aligned, fresh_store
from benchmarks.task_latency import STOP_TIMEOUT_S, _wait_ready, free_port
from labelloop.accounts.users import create_token, create_user
from labelloop.loop.project import connect
from labelloop.settings import Settings

METRICS_TOKEN = "login-burst-metrics"
PASSWORD = "password-123"
_HASHES = re.compile(r"^labelloop_password_hashes_total (\S+)$", re.MULTILINE)


@dataclass
class Row:
    """One phase on one backend."""

    backend: str
    phase: str
    answers: Counter[str] = field(default_factory=Counter)  # to the burst, by status
    hashes: int = 0
    limit: int = 0
    rss_peak_mb: float = float("nan")
    requests: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class Server:
    """A running ``labelloop serve``: its base URL and process id."""

    base: str
    pid: int

    def hashes(self) -> int:
        """The password hashes it computed so far."""
        text = httpx.get(
            f"{self.base}/api/v1/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
            timeout=30,
        ).text
        found = _HASHES.search(text)
        return int(float(found.group(1))) if found else 0

    def rss_peak_mb(self) -> float:
        """Its peak resident memory so far (Linux ``VmHWM``), in MiB."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return float("nan")
        found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
        return int(found.group(1)) / 1024 if found else float("nan")


def _prepare(settings: Settings, users: int) -> list[str]:
    """The accounts; the others' API tokens."""
    engine = connect(settings)
    try:
        create_user(engine, "admin", PASSWORD, "admin")
        create_user(engine, "ana", PASSWORD, "annotator")
        return [
            create_token(engine, create_user(engine, f"u{k:03d}", PASSWORD, "annotator"), "b")
            for k in range(users)
        ]
    finally:
        engine.dispose()


@contextmanager
def _serve(settings: Settings, log: Path) -> Iterator[Server]:
    """``labelloop ... serve`` (one worker) as a child process, output to ``log``."""
    port = free_port()
    exe = Path(sys.executable).with_name("labelloop")
    store = ["--data-dir", str(settings.data_dir), "--db", settings.resolved_database_url()]
    env = {
        **os.environ,
        "LABELLOOP_LOG_LEVEL": "WARNING",
        "LABELLOOP_METRICS_TOKEN": METRICS_TOKEN,
        "COLUMNS": "1000",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(exe), *store, "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base, lambda: proc.poll() is None)
        yield Server(base, proc.pid)
    finally:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_TIMEOUT_S)
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _other_user(
    base: str,
    token: str,
    stop_at: float,
    think: float,
    seconds: list[float],
    errors: Counter[str],
) -> None:
    """One person at work: a request, ``think`` seconds, the next request... until ``stop_at``."""
    headers = {"Authorization": f"Bearer {token}"}
    paths = ("/api/v1/auth/me", "/api/v1/projects")
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        k = 0
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            try:
                answer = client.get(paths[k % 2])
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            seconds.append(time.perf_counter() - start)
            if answer.status_code != 200:
                errors[str(answer.status_code)] += 1
            k += 1
            time.sleep(think)


@dataclass(frozen=True)
class Phase:
    """What fires the burst: nothing, ``GET /health`` (what any burst of requests costs), or
    bad logins for ``username`` (each with its own ``X-Forwarded-For`` if ``rotate``)."""

    name: str
    burst: Literal["none", "health", "login"]
    username: str = ""
    rotate: bool = False


PHASES = (
    Phase("quiet", "none"),
    Phase("burst of health checks", "health"),
    Phase("burst of bad logins", "login", "admin"),
    Phase("bad logins, rotating XFF", "login", "ana", rotate=True),
)


def _fire(base: str, phase: Phase, n: int, go: Any, answers: Any) -> None:
    """In a process of its own: ``n`` requests of ``phase`` from as many threads, sent together
    once ``go`` is set; puts the answers' count by status on ``answers``."""
    out: Counter[str] = Counter()
    lock = threading.Lock()
    clients = [httpx.Client(base_url=base, timeout=120) for _ in range(n)]
    start = threading.Barrier(n)

    def send(k: int) -> None:
        headers = {"X-Forwarded-For": f"198.51.100.{k % 250}"} if phase.rotate else {}
        body = {"username": phase.username, "password": "not the password"}
        start.wait()
        try:
            if phase.burst == "health":
                answer = clients[k].get("/api/v1/health")
            else:
                answer = clients[k].post("/api/v1/auth/login", json=body, headers=headers)
            code = str(answer.status_code)
            if "at once" in answer.text:  # no hashing slot free in time, rather than a limit
                code += " busy"
        except httpx.HTTPError as exc:
            code = type(exc).__name__
        with lock:
            out[code] += 1

    threads = [threading.Thread(target=send, args=(k,)) for k in range(n)]
    go.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    answers.put(dict(out))


def run_phase(
    server: Server,
    tokens: list[str],
    *,
    seconds: float,
    burst: int,
    phase: Phase,
    think: float = 0.1,
) -> tuple[Counter[str], list[float], Counter[str]]:
    """The others for ``seconds``; ``burst`` requests of ``phase`` half a second in (from
    another process, so that its threads do not slow the others' client down). The burst's
    answers, the others' latencies and their errors."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    attack = None
    if phase.burst != "none" and burst:
        mp = multiprocessing.get_context("fork")  # before any thread of this phase starts
        go, answers = mp.Event(), mp.Queue()
        attack = mp.Process(target=_fire, args=(server.base, phase, burst, go, answers))
        attack.start()
    stop_at = time.perf_counter() + seconds
    others = [
        threading.Thread(
            target=_other_user, args=(server.base, tok, stop_at, think, latencies, errors)
        )
        for tok in tokens
    ]
    for thread in others:
        thread.start()
    if attack is not None:
        time.sleep(0.5)
        go.set()
        fired.update(answers.get(timeout=300))
        attack.join()
    for thread in others:
        thread.join()
    return fired, latencies, errors


def _ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000) if values else float("nan")


def run_backend(
    backend: str, *, burst: int, users: int, seconds: float, log_dir: Path, think: float = 0.1
) -> list[Row]:
    """The phases on a fresh store of ``backend``, one server; the other users wait
    ``think`` seconds between their requests."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="labelloop-burst-") as tmp_name:
        tmp = Path(tmp_name)
        with fresh_store(backend, tmp) as url:
            settings = Settings(data_dir=tmp / "data", database_url=url)
            tokens = _prepare(settings, users)
            with _serve(settings, log_dir / f"{backend}.log") as server:
                # Warm up, unmeasured (each token's first use also writes its last_used_at).
                run_phase(server, tokens, seconds=2, burst=0, phase=PHASES[0])
                for phase in PHASES:
                    before = server.hashes()
                    fired, latencies, errors = run_phase(
                        server, tokens, seconds=seconds, burst=burst, phase=phase, think=think
                    )
                    rows.append(
                        Row(
                            backend=backend,
                            phase=phase.name,
                            answers=fired,
                            hashes=server.hashes() - before,
                            limit=settings.login_max_failures if phase.burst == "login" else 0,
                            rss_peak_mb=server.rss_peak_mb(),
                            requests=len(latencies),
                            p50_ms=_ms(latencies, 50),
                            p99_ms=_ms(latencies, 99),
                            errors=errors,
                        )
                    )
    return rows


def format_table(rows: list[Row]) -> str:
    """One table, a row per backend and phase."""
    head = (
        "backend",
        "phase",
        "burst",
        "answers",
        "hashes",
        "limit",
        "server RSS peak MiB",
        "others' requests",
        "others p50 ms",
        "others p99 ms",
        "others' errors",
    )
    body = []
    for r in rows:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(r.answers.items())) or "-"
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.errors.items())) or "0"
        body.append(
            (
                r.backend,
                r.phase,
                str(sum(r.answers.values())),
                answers,
                str(r.hashes),
                str(r.limit) if r.limit else "-",
                f"{r.rss_peak_mb:.0f}",
                f"{r.requests:,}",
                f"{r.p50_ms:.1f}",
                f"{r.p99_ms:.1f}",
                errors,
            )
        )
    return aligned(head, body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=60)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--think", type=float, default=0.1, help="seconds each other user waits between requests"
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--log-dir", type=Path, default=Path(tempfile.gettempdir()) / "labelloop-burst"
    )
    parser.add_argument("--quick", action="store_true", help="20 logins, 4 users, 3 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.burst, args.users, args.seconds = 20, 4, 3.0
    rows = []
    for backend in args.backends.split(","):
        print(f"{backend}: serving (log in {args.log_dir}) ...", flush=True)
        rows += run_backend(
            backend,
            burst=args.burst,
            users=args.users,
            seconds=args.seconds,
            log_dir=args.log_dir,
            think=args.think,
        )
    print()
    print(format_table(rows))


if __name__ == "__main__":
    main()

"""The worker: one thread per process and store that runs the store's queued jobs.

It takes the oldest queued job of a kind it knows, runs it with a heartbeat, and looks again;
with nothing queued it sleeps one heartbeat interval, or until :meth:`Worker.wake` (a job was
queued in this process). Once an interval it also puts orphaned jobs back in the queue.

Whoever needs background work attaches to the process's worker for its store (:func:`attach`):
the server's lifespan, a library :class:`~labelloop.loop.project.Project` that queued a job. The
first to attach starts it, with its way of opening projects; the last to detach stops it, after
the job in hand (queued jobs stay queued, for the next worker of any process).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from labelloop.jobs import queue, runner
from labelloop.jobs.kinds import JOB_KINDS

if TYPE_CHECKING:
    from labelloop.loop.project import Project

log = logging.getLogger(__name__)

_workers: dict[tuple[int, str], Worker] = {}  # (pid, store URL) -> its worker
_workers_lock = threading.Lock()


class Worker:
    """Runs queued jobs on ``engine``'s store, opening their projects with ``open_project``,
    beating every ``interval`` seconds."""

    def __init__(
        self, engine: Engine, open_project: Callable[[str], Project], *, interval: float
    ) -> None:
        self.engine = engine
        self.open_project = open_project
        self.interval = interval
        self._users = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="labelloop-jobs", daemon=True)

    def submit(
        self,
        *,
        kind: str,
        project_id: int,
        params: dict[str, Any],
        created_by: str,
        once: queue.Once | None = None,
    ) -> int:
        """Queue a job (see :func:`queue.enqueue`) and have it run soon; return its id."""
        job_id = queue.enqueue(
            self.engine,
            kind=kind,
            project_id=project_id,
            params=params,
            created_by=created_by,
            once=once,
        )
        self.wake()
        return job_id

    def wake(self) -> None:
        """Look for queued jobs now rather than after the interval."""
        self._wake.set()

    def _loop(self) -> None:
        sweep_at = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if time.monotonic() >= sweep_at:
                    sweep_at = time.monotonic() + self.interval
                    runner.claim_orphans(self.engine, interval=self.interval)
                job = queue.claim_next(self.engine, kinds=JOB_KINDS)
                if job is not None:
                    runner.run(self.engine, self.open_project, job, interval=self.interval)
                    continue
            except OperationalError as exc:  # busy or down for a moment: try again later
                log.warning("jobs: store unavailable: %s", exc.orig)
            except Exception:
                log.exception("jobs: the worker's round failed")
            self._wake.wait(self.interval)

    def _stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if threading.current_thread() is not self._thread:  # a job may let go of its worker
            self._thread.join()


def _key(engine: Engine) -> tuple[int, str]:
    return os.getpid(), engine.url.render_as_string(hide_password=False)


def attach(engine: Engine, open_project: Callable[[str], Project], *, interval: float) -> Worker:
    """This process's worker for ``engine``'s store, started if there is none yet (then it opens
    projects with ``open_project``). Pair every call with :func:`detach`."""
    with _workers_lock:
        worker = _workers.get(_key(engine))
        if worker is None:
            worker = _workers[_key(engine)] = Worker(engine, open_project, interval=interval)
            worker._thread.start()
        worker._users += 1
        return worker


def detach(worker: Worker) -> None:
    """Let go of ``worker``; the last to let go stops it, after the job it is running."""
    with _workers_lock:
        worker._users -= 1
        if worker._users > 0:
            return
        _workers.pop(_key(worker.engine), None)
    worker._stop()

"""Running one job, and taking over the jobs of workers that died.

While a job runs here, a heartbeat thread writes its heartbeat (and progress) every interval. A
running job whose heartbeat is older than :data:`STALE_BEATS` intervals lost its worker: the next
worker to look puts it back in the queue, to be run again from its parameters, or fails it after
:data:`MAX_ATTEMPTS` runs, or when no kind of that name is known here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, or_, select
from sqlalchemy.exc import OperationalError

from labelloop.errors import InputFileError, LabelloopError, NotFoundError
from labelloop.jobs import queue
from labelloop.jobs.kinds import JOB_KINDS
from labelloop.store import tables as t
from labelloop.store.engine import writer

if TYPE_CHECKING:
    from labelloop.loop.project import Project

log = logging.getLogger(__name__)

#: Runs of one job, counting those a dead worker interrupted, before it is given up.
MAX_ATTEMPTS = 3
#: A running job is orphaned when its heartbeat is older than this many heartbeat intervals.
STALE_BEATS = 3

_in_hand: dict[int, int] = {}  # job id -> progress, of the jobs this process runs
_in_hand_lock = threading.Lock()


def live_progress(job: dict[str, Any]) -> dict[str, Any]:
    """``job`` with the progress this process holds for it, fresher than the store's between two
    beats."""
    with _in_hand_lock:
        return {**job, "progress": _in_hand.get(job["id"], job["progress"])}


def run(
    engine: Engine, open_project: Callable[[str], Project], job: queue.Claimed, *, interval: float
) -> None:
    """Run the claimed ``job`` here, beating every ``interval`` seconds, until it is done or
    failed. Errors are recorded on the job, never raised: nobody waits here to be told."""

    def progress(done: int) -> None:
        # Kept here and written by the next beat: the work may hold the store's write lock (an
        # import is one transaction), and on SQLite a write from here would wait for it.
        with _in_hand_lock:
            _in_hand[job.id] = done

    progress(0)
    try:
        with _beating(engine, job.id, interval):
            if job.project is None:
                raise NotFoundError("its project was deleted")
            project = open_project(job.project)
            result = JOB_KINDS[job.kind](project, job.params, progress, job.created_by)
    except InputFileError as exc:
        failed = {"error": str(exc), "result": {"rejects": exc.rejects_json()}}
        queue.update(engine, job_id=job.id, status="failed", **failed)
    except LabelloopError as exc:
        queue.update(engine, job_id=job.id, status="failed", error=str(exc))
    except Exception as exc:  # a bug: keep the worker up, record it, log the traceback
        log.exception("job %s failed", job.id)
        queue.update(engine, job_id=job.id, status="failed", error=f"{type(exc).__name__}: {exc}")
    else:
        queue.update(engine, job_id=job.id, status="done", result=result)
    finally:
        with _in_hand_lock:
            _in_hand.pop(job.id, None)


@contextmanager
def _beating(engine: Engine, job_id: int, interval: float) -> Iterator[None]:
    """Beat for ``job_id`` on a side thread every ``interval`` seconds while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            with _in_hand_lock:
                done = _in_hand.get(job_id, 0)
            try:
                with writer(engine).begin() as conn:
                    conn.execute(
                        t.jobs.update()
                        .where(t.jobs.c.id == job_id)
                        .values(heartbeat_at=t.utcnow(), progress=done)
                    )
            except OperationalError as exc:  # busy or down for a moment: beat again next time
                log.warning("job %s: heartbeat skipped: %s", job_id, exc.orig)

    beater = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    beater.start()
    try:
        yield
    finally:
        stop.set()
        beater.join()


def claim_orphans(engine: Engine, *, interval: float) -> list[int]:
    """Put the running jobs whose heartbeat stopped back in the queue; return their ids. Those
    out of attempts, of a kind not known here, or of a deleted project, are failed instead."""
    j = t.jobs
    cutoff = t.utcnow() - timedelta(seconds=STALE_BEATS * interval)
    stale = (j.c.status == "running") & or_(j.c.heartbeat_at.is_(None), j.c.heartbeat_at < cutoff)
    with engine.connect() as conn:
        rows = conn.execute(
            select(j.c.id, j.c.kind, j.c.attempts, j.c.owner, j.c.project_id)
            .where(stale)
            .order_by(j.c.id)
        ).all()
    with _in_hand_lock:  # alive here, only unable to beat while its work holds the store
        rows = [row for row in rows if row.id not in _in_hand]
    requeued = []
    for row in rows:
        why = f"its worker ({row.owner or 'unknown'}) stopped while it ran"
        error = None
        if row.kind not in JOB_KINDS or row.project_id is None:
            error = f"interrupted: {why}"
        elif row.attempts >= MAX_ATTEMPTS:
            error = f"interrupted {row.attempts} times, given up: {why}"
        again: dict[str, Any] = {"status": "queued"}
        if error is not None:
            again = {"status": "failed", "error": error, "finished_at": t.utcnow()}
        # Compare-and-set on the row still being stale: of several workers looking at once,
        # exactly one takes it over.
        with writer(engine).begin() as conn:
            took = conn.execute(
                j.update()
                .where(j.c.id == row.id, stale)
                .values(owner=queue.owner(), heartbeat_at=t.utcnow(), **again)
            ).rowcount
        if took and again["status"] == "queued":
            log.warning("job %s: %s; queued to run again", row.id, why)
            requeued.append(row.id)
    return requeued

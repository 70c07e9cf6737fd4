"""Background jobs that outlive the worker running them.

A job is a row: its kind, its parameters (JSON), its owner (the worker process running it) and a
heartbeat. The owner touches the heartbeat while the job runs. A job whose heartbeat stops (its
worker was killed) is claimed by another worker, or by the next one to start, and run again from
its parameters: every kind is safe to repeat (an import is one transaction and skips items it
already has; training and label-error checks start from the store). After :data:`MAX_ATTEMPTS`
interrupted runs it is marked failed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import BackgroundTasks
from sqlalchemy import Engine, or_, select
from sqlalchemy.exc import OperationalError

from labelloop.errors import InputFileError, LabelloopError, NotFoundError
from labelloop.loop.project import Project
from labelloop.server.errors import rejects_json
from labelloop.store import tables as t
from labelloop.store.engine import writer

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
#: ``work(project, params, progress, actor)`` returns the job's JSON result.
Work = Callable[[Project, dict[str, Any], Progress, str], dict[str, Any] | None]

#: Runs of one job, counting those a dead worker interrupted, before it is given up.
MAX_ATTEMPTS = 3
#: A job is orphaned when its heartbeat is older than this many heartbeat intervals.
STALE_BEATS = 3
ACTIVE = ("queued", "running")

_KINDS: dict[str, Work] = {}
_running: dict[int, int] = {}  # job id -> progress, of the jobs this process runs
_running_lock = threading.Lock()
_owner: tuple[int, str] | None = None


def kind(name: str) -> Callable[[Work], Work]:
    """Register ``work`` as the job kind ``name`` (a decorator)."""

    def register(work: Work) -> Work:
        _KINDS[name] = work
        return work

    return register


def owner() -> str:
    """This process's name as a job owner: host, pid and a per-start token."""
    global _owner
    if _owner is None or _owner[0] != os.getpid():  # a forked worker gets its own name
        _owner = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    return _owner[1]


def submit(
    engine: Engine,
    background: BackgroundTasks,
    *,
    kind: str,
    project: Project,
    params: dict[str, Any],
    created_by: str,
) -> int:
    """Record a queued job of ``kind`` and run it after the response; return its id."""
    if kind not in _KINDS:
        raise ValueError(f"no job kind {kind!r}")
    with writer(engine).begin() as conn:
        job_id = t.inserted_id(
            conn.execute(
                t.jobs.insert().values(
                    project_id=project.id,
                    kind=kind,
                    status="queued",
                    progress=0,
                    params=params,
                    owner=owner(),
                    heartbeat_at=t.utcnow(),
                    attempts=0,
                    created_by=created_by,
                )
            )
        )
    background.add_task(run, engine, project, job_id)
    return job_id


def update(engine: Engine, *, job_id: int, **values: Any) -> None:
    """Set fields of a job (a finished one gets its finish time)."""
    if values.get("status") in ("done", "failed"):
        values["finished_at"] = t.utcnow()
    with writer(engine).begin() as conn:
        conn.execute(t.jobs.update().where(t.jobs.c.id == job_id).values(**values))


def get(engine: Engine, *, job_id: int) -> dict[str, Any]:
    """A job with its project's name."""
    j = t.jobs
    with engine.connect() as conn:
        row = conn.execute(
            select(
                j.c.id,
                j.c.kind,
                t.projects.c.name.label("project"),
                j.c.status,
                j.c.progress,
                j.c.result,
                j.c.error,
                j.c.attempts,
                j.c.created_by,
                j.c.created_at,
                j.c.finished_at,
            )
            .outerjoin(t.projects, t.projects.c.id == j.c.project_id)
            .where(j.c.id == job_id)
        ).first()
    if row is None:
        raise NotFoundError(f"no job {job_id}")
    job = dict(row._mapping)
    with _running_lock:  # fresher than the store's between two beats
        job["progress"] = _running.get(job_id, job["progress"])
    return job


def run(engine: Engine, project: Project, job_id: int) -> None:
    """Run job ``job_id`` here: queued → running → done or failed.

    Errors are recorded on the job, never raised: a background task has nobody to raise to.
    """
    with engine.connect() as conn:
        job = conn.execute(
            select(t.jobs.c.kind, t.jobs.c.params, t.jobs.c.created_by, t.jobs.c.attempts).where(
                t.jobs.c.id == job_id
            )
        ).one()
    with _running_lock:
        _running[job_id] = 0
    beat = {"owner": owner(), "heartbeat_at": t.utcnow()}
    update(engine, job_id=job_id, status="running", attempts=job.attempts + 1, **beat)

    def progress(done: int) -> None:
        # Kept here and written by the next beat: the work may hold the store's write lock (an
        # import is one transaction), and on SQLite a write from here would wait for it.
        with _running_lock:
            _running[job_id] = done

    try:
        result = _KINDS[job.kind](project, job.params or {}, progress, job.created_by)
    except InputFileError as exc:
        update(
            engine,
            job_id=job_id,
            status="failed",
            error=str(exc),
            result={"rejects": rejects_json(exc)},
        )
    except LabelloopError as exc:
        update(engine, job_id=job_id, status="failed", error=str(exc))
    except Exception as exc:  # a bug: keep the server up, record it, log the traceback
        log.exception("job %s failed", job_id)
        update(engine, job_id=job_id, status="failed", error=f"{type(exc).__name__}: {exc}")
    else:
        update(engine, job_id=job_id, status="done", result=result)
    finally:
        with _running_lock:
            _running.pop(job_id, None)


def beat(engine: Engine) -> None:
    """Write the heartbeat and progress of every job this process is running."""
    with _running_lock:
        running = sorted(_running.items())
    if running:
        now = t.utcnow()
        with writer(engine).begin() as conn:
            for job_id, done in running:
                conn.execute(
                    t.jobs.update()
                    .where(t.jobs.c.id == job_id)
                    .values(heartbeat_at=now, progress=done)
                )


def claim_orphans(engine: Engine, *, interval: float) -> list[tuple[int, str]]:
    """Take over the active jobs whose heartbeat stopped; return (job id, project name) of those
    to run again. Jobs out of attempts, or of a kind this server cannot run, are failed."""
    j = t.jobs
    cutoff = t.utcnow() - timedelta(seconds=STALE_BEATS * interval)
    stale = j.c.status.in_(ACTIVE) & or_(j.c.heartbeat_at.is_(None), j.c.heartbeat_at < cutoff)
    with engine.connect() as conn:
        rows = conn.execute(
            select(j.c.id, j.c.kind, j.c.attempts, j.c.owner, t.projects.c.name)
            .outerjoin(t.projects, t.projects.c.id == j.c.project_id)
            .where(stale)
            .order_by(j.c.id)
        ).all()
    with _running_lock:  # alive here, only unable to beat while its work holds the store
        rows = [row for row in rows if row.id not in _running]
    claimed = []
    for row in rows:
        # Claim by compare-and-set on the row still being stale: of several workers looking at
        # once, exactly one gets it.
        with writer(engine).begin() as conn:
            took = conn.execute(
                j.update()
                .where(j.c.id == row.id, stale)
                .values(owner=owner(), heartbeat_at=t.utcnow(), status="queued")
            ).rowcount
        if not took:
            continue
        why = f"its worker ({row.owner or 'unknown'}) stopped while it ran"
        if row.kind not in _KINDS or row.name is None:
            update(engine, job_id=row.id, status="failed", error=f"interrupted: {why}")
        elif row.attempts >= MAX_ATTEMPTS:
            error = f"interrupted {row.attempts} times, given up: {why}"
            update(engine, job_id=row.id, status="failed", error=error)
        else:
            log.warning("job %s: %s; running it again", row.id, why)
            claimed.append((row.id, row.name))
    return claimed


async def keep_alive(
    engine: Engine, project_named: Callable[[str], Project], *, interval: float
) -> None:
    """Beat for this process's jobs and rerun orphaned ones, every ``interval`` seconds, until
    cancelled (the server's lifespan runs it)."""
    while True:
        try:
            await asyncio.to_thread(beat, engine)
            for job_id, name in await asyncio.to_thread(claim_orphans, engine, interval=interval):
                project = await asyncio.to_thread(project_named, name)
                threading.Thread(
                    target=run, args=(engine, project, job_id), name=f"job-{job_id}", daemon=True
                ).start()
        except OperationalError as exc:  # busy or down for a moment: try again next beat
            log.warning("job heartbeat skipped: %s", exc.orig)
        except Exception:
            log.exception("job heartbeat failed")
        await asyncio.sleep(interval)

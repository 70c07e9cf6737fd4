"""The store-backed job queue: jobs are rows of the ``jobs`` table.

A job is queued, taken by one worker (``running``: it names its owner and beats), and ends
``done`` with a JSON result or ``failed`` with its reason. Workers in any process take queued
jobs; taking one is a compare-and-set on the row, so exactly one worker gets it.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Engine, select

from labelloop.errors import JobFailed, NotFoundError
from labelloop.jobs import STATUSES
from labelloop.jobs.kinds import JOB_KINDS
from labelloop.store import locks
from labelloop.store import tables as t
from labelloop.store.engine import writer

ACTIVE = ("queued", "running")
#: What an existing job must be for :func:`enqueue`'s ``once`` to return it instead.
Once = Literal["active", "queued"]
ONCE: dict[str, tuple[str, ...]] = {"active": ACTIVE, "queued": ("queued",)}

_owner: tuple[int, str] | None = None


@dataclass(frozen=True)
class Claimed:
    """A job a worker has just taken: what it needs to run it."""

    id: int
    kind: str
    project: str | None  # None: its project is gone
    params: dict[str, Any]
    created_by: str


def owner() -> str:
    """This process's name as a job owner: host, pid and a per-start token."""
    global _owner
    if _owner is None or _owner[0] != os.getpid():  # a forked worker gets its own name
        _owner = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    return _owner[1]


def enqueue(
    engine: Engine,
    *,
    kind: str,
    project_id: int,
    params: dict[str, Any],
    created_by: str,
    once: Once | None = None,
) -> int:
    """Queue a job of ``kind`` with JSON ``params``; return its id.

    With ``once="active"``, a job of that kind already queued or running for the project is the
    answer instead of a new one (one at a time). With ``once="queued"`` only a queued one is: a
    running job may have read the store before what prompted this ask, so one more is queued
    behind it, and it sees everything (at most one waits).
    """
    JOB_KINDS.get_or_raise(kind)
    if once:  # most asks find one: a read, which takes no write lock
        with engine.connect() as conn:
            active = _active(conn, project_id, kind, ONCE[once])
        if active is not None:
            return active
    with writer(engine).begin() as conn:
        if once:
            locks.hold(conn, f"jobs:{project_id}:{kind}")
            active = _active(conn, project_id, kind, ONCE[once])
            if active is not None:
                return active
        return t.inserted_id(
            conn.execute(
                t.jobs.insert().values(
                    project_id=project_id,
                    kind=kind,
                    status="queued",
                    progress=0,
                    params=params,
                    attempts=0,
                    created_by=created_by,
                )
            )
        )


def _active(conn: Connection, project_id: int, kind: str, statuses: tuple[str, ...]) -> int | None:
    j = t.jobs
    found = conn.execute(
        select(j.c.id)
        .where(j.c.project_id == project_id, j.c.kind == kind, j.c.status.in_(statuses))
        .order_by(j.c.id)
        .limit(1)
    ).scalar()
    return None if found is None else int(found)


def update(engine: Engine, *, job_id: int, **values: Any) -> None:
    """Set fields of a job (a finished one gets its finish time)."""
    if values.get("status") in ("done", "failed"):
        values["finished_at"] = t.utcnow()
    with writer(engine).begin() as conn:
        conn.execute(t.jobs.update().where(t.jobs.c.id == job_id).values(**values))


def _listing() -> Any:
    j = t.jobs
    return select(
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
    ).outerjoin(t.projects, t.projects.c.id == j.c.project_id)


def get(engine: Engine, *, job_id: int) -> dict[str, Any]:
    """A job with its project's name."""
    with engine.connect() as conn:
        row = conn.execute(_listing().where(t.jobs.c.id == job_id)).first()
    if row is None:
        raise NotFoundError(f"no job {job_id}")
    return dict(row._mapping)


def list_jobs(
    engine: Engine,
    *,
    project_id: int,
    status: str | None = None,
    created_by: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """A project's jobs, newest first: those of ``status`` and by ``created_by`` if given."""
    if status is not None and status not in STATUSES:
        raise ValueError(
            f"The 'status' parameter must be one of {', '.join(STATUSES)}. Got {status!r} instead."
        )
    query = _listing().where(t.jobs.c.project_id == project_id)
    if status is not None:
        query = query.where(t.jobs.c.status == status)
    if created_by is not None:
        query = query.where(t.jobs.c.created_by == created_by)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(t.jobs.c.id.desc()).limit(limit)).all()
    return [dict(r._mapping) for r in rows]


def active_ids(engine: Engine, *, project_id: int) -> set[int]:
    """Ids of a project's queued and running jobs."""
    j = t.jobs
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(j.c.id).where(j.c.project_id == project_id, j.c.status.in_(ACTIVE))
            ).scalars()
        )


def claim_next(engine: Engine, *, kinds: Iterable[str]) -> Claimed | None:
    """Take the oldest queued job of one of ``kinds`` for this process (it is then running, one
    attempt more); None when there is none."""
    j = t.jobs
    kinds = list(kinds)
    while True:
        with engine.connect() as conn:
            job_id = conn.execute(
                select(j.c.id)
                .where(j.c.status == "queued", j.c.kind.in_(kinds))
                .order_by(j.c.id)
                .limit(1)
            ).scalar()
        if job_id is None:
            return None
        with writer(engine).begin() as conn:
            took = conn.execute(
                j.update()
                .where(j.c.id == job_id, j.c.status == "queued")
                .values(
                    status="running",
                    owner=owner(),
                    heartbeat_at=t.utcnow(),
                    attempts=j.c.attempts + 1,
                )
            ).rowcount
            if took:
                row = conn.execute(
                    select(j.c.kind, t.projects.c.name, j.c.params, j.c.created_by)
                    .outerjoin(t.projects, t.projects.c.id == j.c.project_id)
                    .where(j.c.id == job_id)
                ).one()
                return Claimed(job_id, row.kind, row.name, row.params or {}, row.created_by)
        # another worker took it between the two statements: look again


def wait_for(engine: Engine, job_ids: Iterable[int], *, poll: float = 0.05) -> None:
    """Block until the jobs ``job_ids`` have ended; :class:`JobFailed` names the first that
    failed and its reason."""
    waiting = set(job_ids)
    failed: list[tuple[int, str, str | None]] = []
    while waiting:
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.jobs.c.id, t.jobs.c.kind, t.jobs.c.status, t.jobs.c.error).where(
                    t.jobs.c.id.in_(waiting)
                )
            ).all()
        ended = {r.id for r in rows if r.status not in ACTIVE} | (waiting - {r.id for r in rows})
        failed += [(r.id, r.kind, r.error) for r in rows if r.status == "failed"]
        waiting -= ended
        if waiting:
            time.sleep(poll)
    if failed:
        job_id, kind, error = min(failed)
        raise JobFailed(f"job {job_id} ({kind}) failed: {error}")

"""Background jobs: one job's state, a project's jobs (the failed ones with their reasons).

A job is shown only to its creator, while still on its project, and to admins; to anyone else it
is missing (404), so job ids tell them nothing of other people's work. Jobs a project started on
its own (retraining after new labels) are created by ``system``: admins see them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import Engine

from labelloop.accounts.users import User
from labelloop.errors import NotFoundError
from labelloop.jobs import Status, queue
from labelloop.jobs.runner import live_progress
from labelloop.server.deps import (
    CurrentUser,
    EngineDep,
    ProjectDep,
    ProjectReader,
    ProjectsDep,
    RowId,
    access_for,
)
from labelloop.server.schemas import JobOut

router = APIRouter(tags=["jobs"])


def sees_every_job(user: User) -> bool:
    """Whether ``user`` sees every job of the projects they see, not only their own (admins)."""
    return user.role == "admin"


def visible_jobs(
    engine: Engine, *, project_id: int, user: User, status: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The project's jobs ``user`` may see, newest first (of ``status`` if given)."""
    mine = None if sees_every_job(user) else user.username
    found = queue.list_jobs(
        engine, project_id=project_id, status=status, created_by=mine, limit=limit
    )
    return [live_progress(job) for job in found]


@router.get("/jobs/{job_id}")
def read_job(job_id: RowId, user: CurrentUser, engine: EngineDep, projects: ProjectsDep) -> JobOut:
    """A job's state; only its creator, while still on its project, or an admin may look."""
    job = live_progress(queue.get(engine, job_id=job_id))
    hidden = NotFoundError(f"no job {job_id}")
    if job["created_by"] != user.username and not sees_every_job(user):
        raise hidden
    if job["project"] is not None:
        try:
            access_for(projects, user, job["project"])
        except NotFoundError:
            raise hidden from None
    return JobOut(**job)


@router.get("/projects/{name}/jobs")
def list_jobs(
    user: ProjectReader,
    project: ProjectDep,
    engine: EngineDep,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobOut]:
    """The project's jobs, newest first (``?status=failed``: the failed ones, each with its
    reason in ``error``): all of them for an admin, one's own for anyone else."""
    found = visible_jobs(engine, project_id=project.id, user=user, status=status, limit=limit)
    return [JobOut(**job) for job in found]

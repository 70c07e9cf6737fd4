"""Doing the work: lease the next tasks, submit or skip them.

Blind by construction: a task carries the item's data and, outside holdout and audit items, the
model's suggestion; never another person's label, a gold answer or a final label.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import Engine

from labelloop.accounts.roles import tiers_for
from labelloop.accounts.users import User
from labelloop.errors import PermissionDenied
from labelloop.loop.project import Project
from labelloop.server import crud
from labelloop.server.deps import EngineDep, ProjectDep, TaskWorker
from labelloop.server.schemas import NextTasksIn, SubmitIn, SubmitOut, TaskOut

router = APIRouter(prefix="/projects/{name}/tasks", tags=["tasks"])


def _own_task(engine: Engine, project: Project, task_id: int, user: User) -> int:
    """The item of ``task_id`` if it is leased to ``user``; 404 or 403 otherwise."""
    item_id, assignee = crud.task_assignee(engine, project_id=project.id, task_id=task_id)
    if assignee != user.username:
        raise PermissionDenied(f"task {task_id} is not yours")
    return item_id


@router.post("/next")
def next_tasks(body: NextTasksIn, user: TaskWorker, project: ProjectDep) -> list[TaskOut]:
    """Lease the ``n`` most valuable tasks of ``tier`` (one the user's role may work at)."""
    if body.tier not in tiers_for(user.role):
        raise PermissionDenied(f"a {user.role} may not take {body.tier} tasks")
    tasks = project.next_tasks(body.n, tier=body.tier, annotator=user.username)
    return [
        TaskOut(
            task_id=task.id,
            item_id=task.item_id,
            key=task.key,
            data=task.data,
            # At the annotator tier every item looks alike: holdout and audit items labelled with
            # extra care would bias the accuracy estimates.
            kind=task.kind if body.tier != "annotator" else "task",
            tier=task.tier,
            suggestion=task.suggestion,
            confidence=task.confidence,
            lease_expires_at=task.lease_expires_at,
        )
        for task in tasks
    ]


@router.post("/{task_id}/submit")
def submit(
    task_id: int, body: SubmitIn, user: TaskWorker, project: ProjectDep, engine: EngineDep
) -> SubmitOut:
    """Answer one's own task; a retry with the same ``client_key`` stores nothing new."""
    item_id = _own_task(engine, project, task_id, user)
    # Keys are per user: nobody can collide with, or probe, someone else's key.
    key = f"{user.id}:{body.client_key}" if body.client_key else None
    result = project.annotate(
        item_id,
        body.label,
        annotator=user.username,
        task_id=task_id,
        client_key=key,
        flag=body.flag,
    )
    return SubmitOut(
        annotation_id=result.annotation_id,
        created=result.created,
        decided=result.decided,
        escalated=result.escalated,
    )


@router.post("/{task_id}/skip", status_code=204)
def skip(task_id: int, user: TaskWorker, project: ProjectDep, engine: EngineDep) -> None:
    """Give one's own leased task back unanswered."""
    _own_task(engine, project, task_id, user)
    project.skip_task(task_id, annotator=user.username)

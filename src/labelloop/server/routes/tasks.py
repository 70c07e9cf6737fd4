"""Doing the work: lease the next tasks, submit or skip them.

Blind by construction: a task carries the item's data and, outside holdout and audit items, the
model's suggestion; never another person's label, a gold answer or a final label.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from sqlalchemy import Engine

from labelloop.accounts.memberships import get_membership
from labelloop.accounts.users import User
from labelloop.errors import NotFoundError, PermissionDenied
from labelloop.loop.project import Project
from labelloop.server import crud
from labelloop.server.deps import EngineDep, MetricsDep, ProjectDep, RowId, TaskWorker
from labelloop.server.schemas import (
    GoldFeedbackOut,
    NextTasksIn,
    RetractOut,
    SubmitIn,
    SubmitOut,
    TaskOut,
)

router = APIRouter(prefix="/projects/{name}/tasks", tags=["tasks"])


def _own_task(engine: Engine, project: Project, task_id: int, user: User) -> tuple[int, str]:
    """The item and tier of ``task_id`` if it is leased to ``user`` at a tier they still work at
    on the project; 404 otherwise (whether someone else's task exists is nobody else's business,
    and a task leased before an admin lowered their tier or role is no longer theirs to do)."""
    item_id, assignee, tier = crud.task_assignee(engine, project_id=project.id, task_id=task_id)
    member = get_membership(engine, project_id=project.id, username=user.username)
    if assignee != user.username or tier not in member.tiers:
        raise NotFoundError(f"no task {task_id} of yours in this project")
    return item_id, tier


@router.post("/next")
def next_tasks(
    body: NextTasksIn, user: TaskWorker, project: ProjectDep, engine: EngineDep
) -> list[TaskOut]:
    """Lease the ``n`` most valuable tasks of ``tier`` the user may work at on this project, among
    the items their skills open."""
    member = get_membership(engine, project_id=project.id, username=user.username)
    if member.flagged_at is not None:
        raise PermissionDenied(
            f"your work on {project.name} is paused until an admin reviews it: {member.flag_reason}"
        )
    if body.tier not in member.tiers:
        raise PermissionDenied(f"{user.username} may not take {body.tier} tasks on {project.name}")
    tasks = project.next_tasks(
        body.n,
        tier=body.tier,
        annotator=user.username,
        skills=member.skills,
        resume=body.resume,
        max_leases=project.config.tasks.max_leases,
    )
    # At the annotator tier every item looks alike: holdout, audit and gold items answered with
    # extra care would bias the accuracy estimates, so neither kind, id nor key tells them apart.
    blind = body.tier == "annotator"
    return [
        TaskOut(
            task_id=task.id,
            item_id=None if blind else task.item_id,
            key=None if blind else task.key,
            data=task.data,
            kind="task" if blind else task.kind,
            tier=task.tier,
            suggestion=task.suggestion,
            confidence=task.confidence,
            lease_expires_at=task.lease_expires_at,
        )
        for task in tasks
    ]


@router.post("/{task_id}/submit")
def submit(
    task_id: RowId,
    body: SubmitIn,
    user: TaskWorker,
    project: ProjectDep,
    metrics: MetricsDep,
) -> SubmitOut:
    """Answer one's own task; a retry with the same ``client_key`` stores nothing new."""
    # Keys are per user: nobody can collide with, or probe, someone else's key.
    key = f"{user.id}:{body.client_key}" if body.client_key else None
    result = project.submit(
        task_id, body.label, person=user.username, client_key=key, flag=body.flag
    )
    if result.created:
        metrics.annotations_submitted.labels(project=project.name).inc()
    feedback = result.gold_feedback
    # At the annotator tier what became of the item would tell gold and audit items apart.
    blind = result.tier in (None, "annotator")
    return SubmitOut(
        annotation_id=result.annotation_id,
        created=result.created,
        decided=None if blind else result.decided,
        escalated=None if blind else result.escalated,
        gold_feedback=GoldFeedbackOut(**asdict(feedback)) if feedback else None,
    )


@router.post("/{task_id}/skip", status_code=204)
def skip(task_id: RowId, user: TaskWorker, project: ProjectDep, engine: EngineDep) -> None:
    """Give one's own leased task back unanswered."""
    _own_task(engine, project, task_id, user)
    project.skip_task(task_id, annotator=user.username)


@router.post("/{task_id}/retract")
def retract(task_id: RowId, user: TaskWorker, project: ProjectDep, engine: EngineDep) -> RetractOut:
    """Undo one's own answer (the U key after it was sent): the task is leased again; 409 when
    someone has built on the answer since."""
    _own_task(engine, project, task_id, user)
    return RetractOut(
        task_id=task_id, lease_expires_at=project.retract(task_id, annotator=user.username)
    )

"""Label errors: rank a project's likely wrong final labels, maybe route them, as a job."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, BackgroundTasks
from pydantic import BaseModel, ConfigDict, Field

from labelloop.loop.project import Project
from labelloop.server import jobs
from labelloop.server.deps import EngineDep, ModelTrainer, ProjectDep
from labelloop.server.jobs import Progress
from labelloop.server.schemas import JobAccepted

router = APIRouter(prefix="/projects/{name}", tags=["quality"])

#: Most suspects a job's result keeps (the job stores JSON).
MAX_SUSPECTS = 1000


class LabelErrorsIn(BaseModel):
    """What to check: ``top`` suspects (default: all flagged), sent to reviewers if ``route``."""

    model_config = ConfigDict(extra="forbid")

    top: int | None = Field(default=None, ge=1)
    route: bool = False
    n_splits: int = Field(default=5, ge=2, le=20)


@jobs.kind("label-errors")
def _find(project: Project, params: dict[str, Any], _progress: Progress, actor: str) -> dict:
    body = LabelErrorsIn(**params)
    found = project.find_label_errors(
        n_splits=body.n_splits, top=body.top, route=body.route, actor=actor
    )
    return {
        "n_items": found.n_items,
        "n_flagged": found.n_flagged,
        "routed": found.routed,
        "truncated": len(found.suspects) > MAX_SUSPECTS,
        "suspects": [asdict(s) for s in found.suspects[:MAX_SUSPECTS]],
        "annotators": [asdict(a) for a in found.annotators],
    }


@router.post("/label-errors", status_code=202)
def label_errors(
    user: ModelTrainer,
    project: ProjectDep,
    engine: EngineDep,
    body: LabelErrorsIn,
    background: BackgroundTasks,
) -> JobAccepted:
    """Rank likely wrong final labels (confident learning on out-of-fold probabilities) as a
    background job; with ``route`` the suspects go to the reviewer queue."""
    job_id = jobs.submit(
        engine,
        background,
        kind="label-errors",
        project=project,
        params=body.model_dump(),
        created_by=user.username,
    )
    return JobAccepted(job_id=job_id)

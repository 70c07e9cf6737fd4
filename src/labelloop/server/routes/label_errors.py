"""Label errors: rank a project's likely wrong final labels, maybe route them, as a job."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, BackgroundTasks
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from labelloop.loop.project import Project
from labelloop.server import crud
from labelloop.server.deps import EngineDep, ModelTrainer, ProjectDep
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


def _find(engine: Engine, project: Project, job_id: int, body: LabelErrorsIn, actor: str) -> None:
    def work(_progress: Any) -> dict[str, Any]:
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

    crud.run_job(engine, job_id=job_id, work=work)


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
    job_id = crud.create_job(
        engine, kind="label-errors", project_id=project.id, created_by=user.username
    )
    background.add_task(_find, engine, project, job_id, body, user.username)
    return JobAccepted(job_id=job_id)

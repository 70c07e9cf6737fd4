"""Label errors: rank a project's likely wrong final labels, maybe route them, as a job."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from labelloop.server.deps import ModelTrainer, ProjectDep, WorkerDep
from labelloop.server.schemas import JobAccepted

router = APIRouter(prefix="/projects/{name}", tags=["quality"])


class LabelErrorsIn(BaseModel):
    """What to check: ``top`` suspects (default: all flagged), sent to reviewers if ``route``."""

    model_config = ConfigDict(extra="forbid")

    top: int | None = Field(default=None, ge=1)
    route: bool = False
    n_splits: int = Field(default=5, ge=2, le=20)


@router.post("/label-errors", status_code=202)
def label_errors(
    user: ModelTrainer, project: ProjectDep, worker: WorkerDep, body: LabelErrorsIn
) -> JobAccepted:
    """Rank likely wrong final labels (confident learning on out-of-fold probabilities) as a
    background job; with ``route`` the suspects go to the reviewer queue."""
    job_id = worker.submit(
        kind="label-errors",
        project_id=project.id,
        params=body.model_dump(),
        created_by=user.username,
    )
    return JobAccepted(job_id=job_id)

"""Model versions: list them, train a new one in the background."""

from __future__ import annotations

from fastapi import APIRouter

from labelloop.server import crud
from labelloop.server.deps import EngineDep, ModelReader, ModelTrainer, ProjectDep, WorkerDep
from labelloop.server.schemas import JobAccepted, ModelOut

router = APIRouter(prefix="/projects/{name}/models", tags=["models"])


@router.get("")
def list_models(_user: ModelReader, project: ProjectDep, engine: EngineDep) -> list[ModelOut]:
    """Every model version with its holdout metrics."""
    return [ModelOut(**m) for m in crud.list_models(engine, project_id=project.id)]


@router.post("/train", status_code=202)
def train(user: ModelTrainer, project: ProjectDep, worker: WorkerDep) -> JobAccepted:
    """Train, evaluate and maybe promote a model version, as a background job."""
    job_id = worker.submit(kind="train", project_id=project.id, params={}, created_by=user.username)
    return JobAccepted(job_id=job_id)

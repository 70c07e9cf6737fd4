"""Model versions: list them, train a new one in the background."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, BackgroundTasks
from sqlalchemy import Engine

from labelloop.loop.project import Project
from labelloop.server import crud
from labelloop.server.deps import EngineDep, ModelReader, ModelTrainer, ProjectDep
from labelloop.server.schemas import JobAccepted, ModelOut

router = APIRouter(prefix="/projects/{name}/models", tags=["models"])


def _train(engine: Engine, project: Project, job_id: int, actor: str) -> None:
    def work(_progress: Any) -> dict[str, Any]:
        info = project.train(actor=actor)
        if info is None:
            return {"version": None, "reason": "too few labels, or a single class"}
        return asdict(info)

    crud.run_job(engine, job_id=job_id, work=work)


@router.get("")
def list_models(_user: ModelReader, project: ProjectDep, engine: EngineDep) -> list[ModelOut]:
    """Every model version with its holdout metrics."""
    return [ModelOut(**m) for m in crud.list_models(engine, project_id=project.id)]


@router.post("/train", status_code=202)
def train(
    user: ModelTrainer, project: ProjectDep, engine: EngineDep, background: BackgroundTasks
) -> JobAccepted:
    """Train, evaluate and maybe promote a model version, as a background job."""
    job_id = crud.create_job(engine, kind="train", project_id=project.id, created_by=user.username)
    background.add_task(_train, engine, project, job_id, user.username)
    return JobAccepted(job_id=job_id)

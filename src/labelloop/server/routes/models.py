"""Model versions: list them, train a new one in the background."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, BackgroundTasks

from labelloop.loop.project import Project
from labelloop.server import crud, jobs
from labelloop.server.deps import EngineDep, ModelReader, ModelTrainer, ProjectDep
from labelloop.server.jobs import Progress
from labelloop.server.schemas import JobAccepted, ModelOut

router = APIRouter(prefix="/projects/{name}/models", tags=["models"])


@jobs.kind("train")
def _train(project: Project, _params: dict[str, Any], _progress: Progress, actor: str) -> dict:
    info = project.train(actor=actor)
    if info is None:
        return {"version": None, "reason": "too few labels, or a single class"}
    return asdict(info)


@router.get("")
def list_models(_user: ModelReader, project: ProjectDep, engine: EngineDep) -> list[ModelOut]:
    """Every model version with its holdout metrics."""
    return [ModelOut(**m) for m in crud.list_models(engine, project_id=project.id)]


@router.post("/train", status_code=202)
def train(
    user: ModelTrainer, project: ProjectDep, engine: EngineDep, background: BackgroundTasks
) -> JobAccepted:
    """Train, evaluate and maybe promote a model version, as a background job."""
    job_id = jobs.submit(
        engine, background, kind="train", project=project, params={}, created_by=user.username
    )
    return JobAccepted(job_id=job_id)

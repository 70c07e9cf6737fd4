"""Projects: list, create, read, status, guidelines, auto-accept routing."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Body

from labelloop.accounts.memberships import sees_every_project
from labelloop.loop.project import Project
from labelloop.server import crud
from labelloop.server.deps import (
    EngineDep,
    MemberDep,
    MetricsReader,
    ModelTrainer,
    ProjectCreator,
    ProjectDep,
    ProjectManager,
    ProjectReader,
    SettingsDep,
)
from labelloop.server.redact import worker_config
from labelloop.server.schemas import (
    GuidelinesIn,
    GuidelinesOut,
    ProjectOut,
    ProjectSummary,
    RouteOut,
)

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("")
def list_projects(user: ProjectReader, engine: EngineDep) -> list[ProjectSummary]:
    """The projects the user is a member of (admins: every project)."""
    member = None if sees_every_project(user.role) else user.username
    return [ProjectSummary(**p) for p in crud.list_projects(engine, member=member)]


@router.post("", status_code=201)
def create_project(
    user: ProjectCreator,
    engine: EngineDep,
    settings: SettingsDep,
    config: dict[str, Any] = Body(..., description="A project config, as in project.toml."),  # noqa: B008
) -> ProjectOut:
    """Create a project, with its creator as a member; a bad config answers 422 naming the
    key."""
    project = Project.create(config, engine=engine, settings=settings, actor=user.username)
    project.close()
    return ProjectOut(name=project.name, config=project.config.model_dump(mode="json"))


@router.get("/{name}")
def read_project(_user: ProjectReader, project: ProjectDep, member: MemberDep) -> ProjectOut:
    """A project's config: whole for those who may manage the project, else only what the work
    needs (labels, data, guidelines, lease length)."""
    if member.may("project.manage"):
        return ProjectOut(name=project.name, config=project.config.model_dump(mode="json"))
    return ProjectOut(name=project.name, config=worker_config(project.config))


@router.get("/{name}/status")
def project_status(_user: MetricsReader, project: ProjectDep) -> dict[str, Any]:
    """Items by state, queue per tier, holdout, model versions, rounds."""
    return project.status()


@router.get("/{name}/guidelines")
def read_guidelines(_user: ProjectReader, project: ProjectDep) -> GuidelinesOut:
    """The current guidelines."""
    return GuidelinesOut(version=project.guideline_version(), text=project.guidelines())


@router.put("/{name}/guidelines")
def update_guidelines(
    body: GuidelinesIn, user: ProjectManager, project: ProjectDep
) -> GuidelinesOut:
    """Store a new guideline version."""
    version = project.update_guidelines(body.text, author=user.username)
    return GuidelinesOut(version=version, text=body.text)


@router.post("/{name}/route")
def route(_user: ModelTrainer, project: ProjectDep) -> RouteOut:
    """Move auto-accept one step: plan, start an audit round, or decide it."""
    outcome = project.route()
    return RouteOut(
        action=outcome.action,
        reason=outcome.reason,
        round_id=outcome.round_id,
        plan=asdict(outcome.plan) if outcome.plan else None,
        certificate=asdict(outcome.certificate) if outcome.certificate else None,
    )

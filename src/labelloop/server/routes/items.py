"""Items: uploading files (a background import job), listing items, reading jobs."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, UploadFile

from labelloop.errors import ConfigError, InputFileError, NotFoundError
from labelloop.io.formats import FORMATS as _READ_FORMATS
from labelloop.loop.project import Project
from labelloop.server import crud, jobs
from labelloop.server.deps import (
    MAX_ROW_ID,
    CurrentUser,
    EngineDep,
    ItemImporter,
    ItemReader,
    ProjectDep,
    ProjectsDep,
    RowId,
    access_for,
)
from labelloop.server.jobs import Progress
from labelloop.server.limits import upload_too_large
from labelloop.server.schemas import ItemOut, JobAccepted, JobOut
from labelloop.settings import Settings

router = APIRouter(tags=["items"])
CHUNK = 1 << 20


def _safe_name(filename: str | None) -> str:
    name = Path(filename or "upload").name
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[-100:] or "upload"


def _as_uploaded(exc: InputFileError, path: Path) -> InputFileError:
    """The rejects, naming the file as it was uploaded, not where the server keeps it."""
    shown = path.name.split("-", 1)[-1]  # the saved name is "<uuid hex>-<safe upload name>"
    return InputFileError(
        [replace(r, file=shown, reason=r.reason.replace(str(path), shown)) for r in exc.rejects]
    )


@jobs.kind("import")
def _import(project: Project, params: dict[str, Any], progress: Progress, actor: str) -> dict:
    path = Path(params["path"])
    try:
        report = project.import_file(
            path,
            fmt=params["format"],
            skip_invalid=params["skip_invalid"],
            progress=progress,
            gold=params["gold"],
            actor=actor,
        )
    except InputFileError as exc:
        raise _as_uploaded(exc, path) from None
    return {
        "added": report.added,
        "unchanged": report.unchanged,
        "with_labels": report.with_labels,
        "rejected": report.rejected,
        "holdout_added": report.holdout_added,
    }


def _save(file: UploadFile, path: Path, *, settings: Settings) -> None:
    """Stream ``file`` to ``path`` in chunks; past ``max_upload_mb``, delete it and raise."""
    limit, written = settings.max_upload_mb << 20, 0
    try:
        with path.open("wb") as out:
            while chunk := file.file.read(CHUNK):
                written += len(chunk)
                if written > limit:
                    raise upload_too_large(settings)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@router.post("/projects/{name}/imports", status_code=202)
def upload(
    user: ItemImporter,
    project: ProjectDep,
    engine: EngineDep,
    background: BackgroundTasks,
    file: Annotated[UploadFile, File(description="JSONL, CSV or Parquet file of items.")],
    fmt: Annotated[str | None, Form(alias="format")] = None,
    skip_invalid: Annotated[bool, Form()] = False,
    gold: Annotated[bool, Form(description="The items are gold questions with answers.")] = False,
) -> JobAccepted:
    """Save the file under ``data_dir/uploads`` and import it as a background job."""
    if fmt is not None and fmt not in _READ_FORMATS:
        raise ConfigError(f"format: {fmt!r} is not one of {', '.join(_READ_FORMATS)}")
    folder = project.settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}-{_safe_name(file.filename)}"
    _save(file, path, settings=project.settings)
    params = {"path": str(path), "format": fmt, "skip_invalid": skip_invalid, "gold": gold}
    job_id = jobs.submit(
        engine,
        background,
        kind="import",
        project=project,
        params=params,
        created_by=user.username,
    )
    return JobAccepted(job_id=job_id)


@router.get("/jobs/{job_id}")
def read_job(job_id: RowId, user: CurrentUser, engine: EngineDep, projects: ProjectsDep) -> JobOut:
    """A job's state; only its creator, while still on its project, or an admin may look. To
    anyone else it is missing (404), so job ids tell them nothing of other people's work."""
    job = jobs.get(engine, job_id=job_id)
    hidden = NotFoundError(f"no job {job_id}")
    if job["created_by"] != user.username and user.role != "admin":
        raise hidden
    if job["project"] is not None:
        try:
            access_for(projects, user, job["project"])
        except NotFoundError:
            raise hidden from None
    return JobOut(**job)


@router.get("/projects/{name}/items")
def list_items(
    _user: ItemReader,
    project: ProjectDep,
    engine: EngineDep,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
) -> list[ItemOut]:
    """A page of the project's items."""
    rows = crud.list_items(engine, project_id=project.id, status=status, limit=limit, offset=offset)
    return [ItemOut(**r) for r in rows]

"""Items: uploading files (a background import job), listing items."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from labelloop.errors import ConfigError
from labelloop.io.formats import FORMATS as _READ_FORMATS
from labelloop.server import crud
from labelloop.server.deps import (
    MAX_ROW_ID,
    EngineDep,
    ItemImporter,
    ItemReader,
    ProjectDep,
    WorkerDep,
)
from labelloop.server.limits import upload_too_large
from labelloop.server.schemas import ItemOut, JobAccepted
from labelloop.settings import Settings

router = APIRouter(tags=["items"])
CHUNK = 1 << 20


def _safe_name(filename: str | None) -> str:
    name = Path(filename or "upload").name
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[-100:] or "upload"


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
    worker: WorkerDep,
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
    shown_as = _safe_name(file.filename)  # rejects name the upload, not where it is kept
    path = folder / f"{uuid.uuid4().hex}-{shown_as}"
    _save(file, path, settings=project.settings)
    params = {
        "path": str(path),
        "format": fmt,
        "skip_invalid": skip_invalid,
        "gold": gold,
        "shown_as": shown_as,
    }
    job_id = worker.submit(
        kind="import", project_id=project.id, params=params, created_by=user.username
    )
    return JobAccepted(job_id=job_id)


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

"""Exporting datasets (synchronously) and downloading them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from labelloop.errors import NotFoundError
from labelloop.loop.exporting import content_hash, labelled_rows
from labelloop.loop.project import Project
from labelloop.server import crud
from labelloop.server.deps import DatasetExporter, EngineDep, ProjectDep, RowId
from labelloop.server.schemas import DatasetVersionOut, ExportIn

router = APIRouter(prefix="/projects/{name}/exports", tags=["exports"])
MEDIA = {"jsonl": "application/x-ndjson", "csv": "text/csv", "parquet": "application/octet-stream"}


def _path(project: Project, digest: str, fmt: str) -> Path:
    return project.settings.data_dir / "exports" / f"{project.name}-{digest[:16]}.{fmt}"


@router.post("", status_code=201)
def export(body: ExportIn, user: DatasetExporter, project: ProjectDep) -> DatasetVersionOut:
    """Write the decided items as ``data_dir/exports/<name>-<hash>.<format>``."""
    digest = content_hash(labelled_rows(project.context))
    version = project.export(
        _path(project, digest, body.format), fmt=body.format, actor=user.username
    )
    final = _path(project, version.content_hash, body.format)
    if final != version.path:  # labels changed between hashing and writing
        version.path.replace(final)
    return DatasetVersionOut(
        id=version.id,
        content_hash=version.content_hash,
        n_items=version.n_items,
        path=str(final),
        format=body.format,
        certified=version.provenance["certified"],
    )


@router.get(
    "/{version_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {m: {"schema": {"type": "string"}} for m in MEDIA.values()}}},
)
def download(
    version_id: RowId,
    _user: DatasetExporter,
    project: ProjectDep,
    engine: EngineDep,
    fmt: Annotated[Literal["jsonl", "csv", "parquet"] | None, Query(alias="format")] = None,
) -> FileResponse:
    """The file of a dataset version (in ``format``, default: whichever was written)."""
    version = crud.dataset_version(engine, project_id=project.id, version_id=version_id)
    for candidate in [fmt] if fmt else list(MEDIA):
        path = _path(project, version["content_hash"], candidate)
        if path.is_file():
            return FileResponse(path, media_type=MEDIA[candidate], filename=path.name)
    raise NotFoundError(f"dataset version {version_id} has no {fmt or ''} file on this server")

"""Reading an item's annotations, prediction and final label (reviewers and up)."""

from __future__ import annotations

from fastapi import APIRouter

from labelloop.server import crud
from labelloop.server.deps import AnnotationReader, EngineDep, ProjectDep, RowId
from labelloop.server.schemas import ItemAnnotationsOut

router = APIRouter(tags=["annotations"])


@router.get("/projects/{name}/items/{item_id}/annotations")
def item_annotations(
    item_id: RowId, _user: AnnotationReader, project: ProjectDep, engine: EngineDep
) -> ItemAnnotationsOut:
    """The item, everyone's annotations, the model's prediction, the final label."""
    return ItemAnnotationsOut(
        **crud.item_annotations(engine, project_id=project.id, item_id=item_id)
    )

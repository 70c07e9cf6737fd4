"""Quality reports of a project: agreement among annotators, where the guidelines are unclear."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labelloop.server.deps import MetricsReader, ProjectDep

router = APIRouter(prefix="/projects/{name}/quality", tags=["quality"])


@router.get("/agreement")
def agreement(
    _user: MetricsReader,
    project: ProjectDep,
    slice_field: Annotated[
        str | None,
        Query(max_length=200, description="A key of the items' data to report agreement by."),
    ] = None,
) -> dict[str, Any]:
    """Krippendorff's alpha with a bootstrap interval, Fleiss' kappa, alpha per label, Cohen's
    kappa per annotator pair and alpha per slice; ``measurable`` is false without overlap."""
    return project.agreement_report(slice_field=slice_field)


@router.get("/guidelines")
def guidelines(
    _user: MetricsReader,
    project: ProjectDep,
    top: Annotated[int, Query(ge=1, le=50, description="Label pairs and cells to list.")] = 5,
    examples: Annotated[int, Query(ge=1, le=20, description="Example items for each.")] = 3,
) -> dict[str, Any]:
    """The label pairs annotators split on most and the human–model confusion, with examples."""
    return project.guideline_report(top=top, examples=examples)

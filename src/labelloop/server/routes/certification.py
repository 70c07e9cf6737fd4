"""Knowing the dataset's quality: annotator skill, estimated accuracy, gates, certification."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from labelloop.server.deps import DatasetExporter, MetricsReader, ProjectDep

router = APIRouter(prefix="/projects/{name}", tags=["quality"])


@router.get("/quality/annotators")
def annotators(_user: MetricsReader, project: ProjectDep) -> list[dict[str, Any]]:
    """Per person: answers, gold accuracy with its exact interval, Dawid-Skene accuracy, flag."""
    return project.annotator_report()


@router.get("/quality/accuracy")
def accuracy(_user: MetricsReader, project: ProjectDep) -> dict[str, Any]:
    """The finished dataset's estimated accuracy, its interval and how it was reached."""
    return project.estimated_accuracy()


@router.get("/quality/gates")
def gates(_user: MetricsReader, project: ProjectDep) -> list[dict[str, Any]]:
    """Every quality gate, passed or not, with what it measured."""
    return [asdict(g) for g in project.check_gates()]


@router.post("/certify")
def certify(user: DatasetExporter, project: ProjectDep) -> dict[str, Any]:
    """Certify the dataset as it stands if every gate passes; 409 naming the failed gates."""
    return project.certify(actor=user.username)

"""Recording human labels: annotations, final labels with provenance, the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from labelloop.errors import NotFoundError
from labelloop.loop.labelcodec import normalise_label
from labelloop.store import tables as t
from labelloop.store.events import append_event

if TYPE_CHECKING:
    from labelloop.loop.project import Project


@dataclass(frozen=True)
class AnnotationResult:
    """The stored annotation; ``created`` is False when a retry with the same key found it."""

    annotation_id: int
    item_id: int
    created: bool
    round_id: int | None


def annotate(
    project: Project,
    item_id: int,
    label: Any,
    *,
    annotator: str,
    task_id: int | None = None,
    client_key: str | None = None,
) -> AnnotationResult:
    """Store a human label as the item's final label, under the current guideline version.

    Idempotent on ``client_key``: a retry returns the first annotation and stores nothing.
    """
    label = normalise_label(project.config, label)
    if client_key is not None:
        found = _by_key(project, client_key)
        if found is not None:
            return found
    try:
        with project.engine.begin() as conn:
            item = conn.execute(
                select(t.items.c.id, t.items.c.round_id).where(
                    t.items.c.id == item_id, t.items.c.project_id == project.id
                )
            ).first()
            if item is None:
                raise NotFoundError(f"item {item_id} is not in project {project.name!r}")
            version = t.latest_version(conn, t.guidelines, project.id)
            annotation_id = t.inserted_id(
                conn.execute(
                    t.annotations.insert().values(
                        project_id=project.id,
                        item_id=item_id,
                        task_id=task_id,
                        annotator=annotator,
                        label=label,
                        guideline_version=version,
                        client_key=client_key,
                    )
                )
            )
            conn.execute(t.final_labels.delete().where(t.final_labels.c.item_id == item_id))
            conn.execute(
                t.final_labels.insert().values(
                    item_id=item_id,
                    project_id=project.id,
                    label=label,
                    source="human",
                    decided_by=annotator,
                    guideline_version=version,
                )
            )
            conn.execute(t.items.update().where(t.items.c.id == item_id).values(status="labelled"))
            done = t.tasks.update().where(t.tasks.c.item_id == item_id, t.tasks.c.status == "open")
            conn.execute(done.values(status="done", done_at=t.utcnow()))
            append_event(
                conn,
                actor=annotator,
                action="annotation.create",
                project_id=project.id,
                payload={
                    "item_id": item_id,
                    "annotation_id": annotation_id,
                    "label": label,
                    "guideline_version": version,
                    "task_id": task_id,
                },
            )
    except IntegrityError:
        if client_key is None:
            raise
        found = _by_key(project, client_key)  # a concurrent retry won the race
        if found is None:
            raise
        return found
    return AnnotationResult(annotation_id, item_id, True, item.round_id)


def _by_key(project: Project, client_key: str) -> AnnotationResult | None:
    with project.engine.connect() as conn:
        row = conn.execute(
            select(t.annotations.c.id, t.annotations.c.item_id).where(
                t.annotations.c.client_key == client_key
            )
        ).first()
    return None if row is None else AnnotationResult(row.id, row.item_id, False, None)

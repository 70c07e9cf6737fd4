"""The promoted model version of a project, kept in memory once loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from labelloop.loop.context import LoopContext
from labelloop.store import tables as t


@dataclass
class LoadedModel:
    """A model version in memory, ready to score."""

    version: int
    model: Any
    featurizer: Any
    calibrator: Any
    metrics: dict[str, Any] = field(default_factory=dict)


def promoted_version(conn: Connection, project_id: int) -> int | None:
    """The number of the project's promoted model version, or None before the first."""
    mv = t.model_versions
    found = conn.execute(
        select(func.max(mv.c.version)).where(
            mv.c.project_id == project_id, mv.c.status == "promoted"
        )
    ).scalar()
    return None if found is None else int(found)


class ModelRegistry:
    """Holds the project's promoted model, loading a newer one from its file when one appears."""

    def __init__(self) -> None:
        self._current: LoadedModel | None = None

    def current(self, ctx: LoopContext) -> LoadedModel | None:
        """The promoted model version, loaded on first use."""
        with ctx.engine.connect() as conn:
            row = conn.execute(
                select(t.model_versions)
                .where(
                    t.model_versions.c.project_id == ctx.id,
                    t.model_versions.c.status == "promoted",
                )
                .order_by(t.model_versions.c.version.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        if self._current is None or self._current.version != row.version:
            # Here, not at import: a model file loads scikit-learn, which the queue (and so
            # every process that only hands out work) never needs.
            from labelloop.learn.persistence import load_model

            model, featurizer, calibrator, _meta = load_model(Path(row.path))
            self._current = LoadedModel(row.version, model, featurizer, calibrator, row.metrics)
        return self._current

    def remember(self, loaded: LoadedModel) -> None:
        """Keep a freshly promoted model in memory."""
        self._current = loaded

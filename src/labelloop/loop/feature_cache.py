"""The model inputs of every item, built once per pool and shared by training and scoring."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select

from labelloop.loop.context import LoopContext
from labelloop.store import tables as t


@dataclass
class FeatureCache:
    """Model inputs ``X`` of the items ``item_ids`` (sorted), made by ``featurizer``."""

    item_ids: np.ndarray
    X: Any
    featurizer: Any

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in the cache."""
        return np.searchsorted(self.item_ids, ids)


class Features:
    """Holds a project's :class:`FeatureCache`; rebuilt when the pool's size changes."""

    def __init__(self) -> None:
        self._cache: FeatureCache | None = None
        self._lock = threading.Lock()

    def get(self, ctx: LoopContext) -> FeatureCache:
        """Model inputs for every item of the project."""
        with self._lock, ctx.engine.connect() as conn:
            count = conn.execute(
                select(func.count()).select_from(t.items).where(t.items.c.project_id == ctx.id)
            ).scalar()
            if self._cache is None or len(self._cache.item_ids) != count:
                rows = conn.execute(
                    select(t.items.c.id, t.items.c.data)
                    .where(t.items.c.project_id == ctx.id)
                    .order_by(t.items.c.id)
                ).all()
                from labelloop.loop.model_setup import featurizer_for  # scikit-learn

                featurizer = featurizer_for(ctx.config)
                X = featurizer.fit_transform([r.data for r in rows])
                self._cache = FeatureCache(
                    np.array([r.id for r in rows], dtype=np.int64), X, featurizer
                )
            return self._cache

    def forget(self) -> None:
        """Drop the cache (items were added)."""
        self._cache = None

"""Which final labels a model learns from and is judged on."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select

from labelloop.store import tables as t

#: Final labels a model trains on; the holdout judges it on people's labels only.
TRAINING_SOURCES = ("human", "adjudicated", "imported")
HOLDOUT_SOURCES = ("human", "adjudicated")


def labelled(conn: Connection, project_id: int, *, holdout: bool) -> tuple[np.ndarray, list[Any]]:
    """Item ids (sorted) and final labels of the training set or of the human holdout."""
    fl = t.final_labels
    rows = conn.execute(
        select(fl.c.item_id, fl.c.label)
        .join(t.items, t.items.c.id == fl.c.item_id)
        .where(
            fl.c.project_id == project_id,
            t.items.c.is_holdout == holdout,
            fl.c.source.in_(HOLDOUT_SOURCES if holdout else TRAINING_SOURCES),
        )
        .order_by(fl.c.item_id)
    ).all()
    return np.array([r.item_id for r in rows], dtype=np.int64), [r.label for r in rows]


def labels_since_last_model(conn: Connection, project_id: int) -> int:
    """Training labels gathered since the newest model version was trained."""
    fl = t.final_labels
    have = conn.execute(
        select(func.count())
        .select_from(fl)
        .join(t.items, t.items.c.id == fl.c.item_id)
        .where(
            fl.c.project_id == project_id,
            ~t.items.c.is_holdout,
            fl.c.source.in_(TRAINING_SOURCES),
        )
    ).scalar()
    used = conn.execute(
        select(t.model_versions.c.n_labels)
        .where(t.model_versions.c.project_id == project_id)
        .order_by(t.model_versions.c.version.desc())
        .limit(1)
    ).scalar()
    return int((have or 0) - (used or 0))

"""Finding wrong final labels in a project and sending them to reviewers.

Every decided item (labels imported, given by people, adjudicated or auto-accepted) gets a
probability from a model of the project's own kind that never saw it (K-fold), and confident
learning (:mod:`labelloop.quality.label_errors`) ranks the items whose label those probabilities
doubt. Where several people answered the same items, CROWDLAB also rates each annotator.

Routing a suspect puts it back in the reviewer tier's queue (status ``new``, one decision
wanted) in front of ordinary work, most suspicious first; its final label stays until a reviewer
answers, which replaces it as ``adjudicated``. Items already waiting for a decision are left alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from labelloop._validation import check_int
from labelloop.errors import ConfigError, ModelError
from labelloop.loop.context import LoopContext
from labelloop.loop.feature_cache import Features
from labelloop.loop.model_setup import model_for
from labelloop.loop.queue import SUSPECT_PRIORITY
from labelloop.quality.label_errors import (
    find_label_errors,
    multi_annotator_quality,
    out_of_fold_probabilities,
)
from labelloop.store import tables as t
from labelloop.store.events import append_event

#: Final-label sources whose labels are checked.
SOURCES = ("human", "imported", "adjudicated", "auto")


@dataclass(frozen=True)
class Suspect:
    """An item whose final label is likely wrong. ``index`` is its row among the checked items
    (item-id order); ``score`` its label quality in [0, 1], lower is more suspicious; ``routed``
    says this call sent it to the reviewer queue."""

    item_id: int
    key: str
    index: int
    given: str
    suggested: str
    score: float
    source: str
    routed: bool = False


@dataclass(frozen=True)
class AnnotatorQuality:
    """One annotator's CROWDLAB quality in [0, 1] (None if undefined) over ``n_items`` items."""

    annotator: str
    quality: float | None
    n_items: int


@dataclass(frozen=True)
class ProjectSuspects:
    """Suspects, lowest label quality first (at most ``top``), out of ``n_flagged`` flagged among
    ``n_items`` checked; ``annotators`` (worst first) is empty unless items overlap."""

    n_items: int
    n_flagged: int
    suspects: list[Suspect]
    annotators: list[AnnotatorQuality] = field(default_factory=list)

    @property
    def routed(self) -> int:
        """How many suspects this call sent to the reviewer queue."""
        return sum(s.routed for s in self.suspects)


def find_project_label_errors(
    ctx: LoopContext,
    features: Features,
    *,
    n_splits: int = 5,
    top: int | None = None,
    route: bool = False,
    actor: str = "system",
) -> ProjectSuspects:
    """Rank the decided items whose final label is likely wrong; with ``route``, send them (the
    first ``top``, else all flagged) to the reviewer tier, most suspicious first."""
    owner = "find_project_label_errors"
    n_splits = check_int(owner, "n_splits", n_splits, minimum=2)
    if top is not None:
        top = check_int(owner, "top", top)
    config = ctx.config
    kind = ctx.kind
    if not kind.label_errors:
        raise ConfigError(f"label errors: not supported for {kind.title} projects")
    with ctx.engine.connect() as conn:
        rows = _decided(conn, ctx)
    if len(rows) < n_splits:
        raise ModelError(
            f"project {ctx.name!r} has {len(rows)} decided items; "
            f"{n_splits}-fold cross-validation needs at least {n_splits}"
        )
    cache = features.get(ctx)
    # The same labels give the same suspects: folds and models are seeded even when the project
    # draws fresh randomness elsewhere.
    seed = 0 if ctx.random_state is None else ctx.random_state
    ids = np.array([r.item_id for r in rows], dtype=np.int64)
    y = kind.targets([r.label for r in rows])
    probs = out_of_fold_probabilities(
        cache.X[cache.rows(ids)],
        y,
        make_model=lambda: model_for(config, random_state=seed),
        n_classes=len(config.labels),
        n_splits=n_splits,
        random_state=seed,
    )
    found = find_label_errors(y, probs)
    shown = slice(None) if top is None else slice(top)
    suspects = [
        Suspect(
            item_id=int(ids[row]),
            key=rows[row].key,
            index=int(row),
            given=config.labels[given],
            suggested=config.labels[suggested],
            score=float(score),
            source=rows[row].source,
        )
        for row, given, suggested, score in zip(
            found.indices[shown].tolist(),
            found.given[shown].tolist(),
            found.suggested[shown].tolist(),
            found.scores[shown].tolist(),
            strict=True,
        )
    ]
    if route:
        suspects = _route(ctx, suspects, actor)
    with ctx.engine.connect() as conn:
        annotators = _annotator_quality(conn, ctx, ids, probs)
    return ProjectSuspects(len(rows), len(found), suspects, annotators)


def _decided(conn: Connection, ctx: LoopContext) -> list[Any]:
    """Item id, key, final label and its source of every decided item, by item id."""
    fl, i = t.final_labels, t.items
    return list(
        conn.execute(
            select(fl.c.item_id, i.c.key, fl.c.label, fl.c.source)
            .join(i, i.c.id == fl.c.item_id)
            .where(fl.c.project_id == ctx.id, fl.c.source.in_(SOURCES))
            .order_by(fl.c.item_id)
        ).all()
    )


def _route(ctx: LoopContext, suspects: list[Suspect], actor: str) -> list[Suspect]:
    """Send each suspect not already waiting to the reviewer tier; return them marked."""
    i = t.items
    out = []
    with ctx.writer.begin() as conn:
        for s in suspects:
            # Only a decided item moves; round_id is cleared so the queue hands an auto-accepted
            # item out (it keeps its final label, model version and confidence).
            moved = conn.execute(
                i.update()
                .where(i.c.id == s.item_id, i.c.status.in_(("labelled", "auto")))
                .values(
                    tier="reviewer",
                    status="new",
                    assigned=0,
                    round_id=None,
                    # In [1e8, 2e8]: above the model's order, below holdout (1e9); scaled so
                    # scores a float can tell apart stay apart.
                    priority=SUSPECT_PRIORITY * (2.0 - s.score),
                )
            ).rowcount
            if moved:
                append_event(
                    conn,
                    actor=actor,
                    action="item.suspect",
                    project_id=ctx.id,
                    payload={
                        "item_id": s.item_id,
                        "tier": "reviewer",
                        "score": round(s.score, 6),
                        "given": s.given,
                        "suggested": s.suggested,
                        "source": s.source,
                    },
                )
            out.append(replace(s, routed=bool(moved)))
    return out


def _annotator_quality(
    conn: Connection, ctx: LoopContext, ids: np.ndarray, probs: np.ndarray
) -> list[AnnotatorQuality]:
    """CROWDLAB quality of the annotators of the checked items, when some item has two or more
    (each person's latest unflagged annotator-tier answer); else empty."""
    a, tk = t.annotations, t.tasks
    rows = conn.execute(
        select(a.c.item_id, a.c.annotator, a.c.label)
        .outerjoin(tk, tk.c.id == a.c.task_id)
        .where(
            a.c.project_id == ctx.id,
            a.c.flag.is_(None),
            (tk.c.tier == "annotator") | tk.c.id.is_(None),
        )
        .order_by(a.c.id)
    ).all()
    checked = set(ids.tolist())
    latest = {
        (r.item_id, r.annotator): r.label
        for r in rows
        if r.item_id in checked and isinstance(r.label, str)
    }
    per_item = Counter(item for item, _ in latest)
    if not per_item or max(per_item.values()) < 2:
        return []
    items = [item for item, _ in latest]
    annotators = [who for _, who in latest]
    result = multi_annotator_quality(
        items,
        annotators,
        list(latest.values()),
        probs[np.searchsorted(ids, sorted(per_item))],
        label_ids=list(ctx.config.labels),
    )
    answered = Counter(annotators)
    out = [
        AnnotatorQuality(str(who), float(q) if np.isfinite(q) else None, answered[who])
        for who, q in zip(
            result.annotator_ids.tolist(), result.annotator_quality.tolist(), strict=True
        )
    ]
    return sorted(out, key=lambda x: (x.quality is None, x.quality or 0.0, x.annotator))

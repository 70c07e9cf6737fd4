"""Import items into a project: atomic by default, or skipping and reporting every reject."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection, bindparam, func, select

from labelloop.errors import InputFileError, Reject
from labelloop.io.items import iter_items
from labelloop.io.records import ItemRecord
from labelloop.routing.holdout import draw_holdout, holdout_size
from labelloop.routing.rules import RuleSet
from labelloop.store import tables as t
from labelloop.store.events import append_event

if TYPE_CHECKING:
    from labelloop.loop.project import Project

BATCH = 5000
HOLDOUT_PRIORITY = 1e9


@dataclass(frozen=True)
class ImportReport:
    """What an import did."""

    added: int
    unchanged: int
    with_labels: int
    rejected: int
    rejects_path: Path | None
    holdout_added: int


def import_file(
    project: Project,
    path: Path,
    *,
    fmt: str | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    actor: str = "system",
) -> ImportReport:
    """Import ``path`` in one transaction.

    Without ``skip_invalid`` any bad record aborts the import, which then raises
    :class:`InputFileError` listing every reject and stores nothing. With it, the valid records
    are imported and the rejects written, one JSON object a line, to ``rejects_path`` (default:
    ``<file>.rejects.jsonl``). Items already in the project (same external id or content hash) are
    left as they are. ``progress`` is called with the number of records read so far.
    """
    rejects: list[Reject] = []
    added = unchanged = labelled = 0
    batch: list[ItemRecord] = []
    with project.writer.begin() as conn:
        for seen, record in enumerate(iter_items(path, config=project.config, fmt=fmt), 1):
            if isinstance(record, Reject):
                rejects.append(record)
            else:
                batch.append(record)
            if len(batch) >= BATCH:
                a, u, lab = _insert(conn, project, batch)
                added, unchanged, labelled = added + a, unchanged + u, labelled + lab
                batch.clear()
            if progress is not None and seen % 1000 == 0:
                progress(seen)
        if rejects and not skip_invalid:
            raise InputFileError(rejects)  # rolls the transaction back: nothing is stored
        a, u, lab = _insert(conn, project, batch)
        added, unchanged, labelled = added + a, unchanged + u, labelled + lab
        holdout_added = _top_up_holdout(conn, project)
        written = None
        if rejects:
            written = rejects_path or path.with_name(path.name + ".rejects.jsonl")
            _write_rejects(written, rejects)
        append_event(
            conn,
            actor=actor,
            action="items.import",
            project_id=project.id,
            payload={
                "file": str(path),
                "added": added,
                "unchanged": unchanged,
                "rejected": len(rejects),
                "holdout_added": holdout_added,
            },
        )
    return ImportReport(added, unchanged, labelled, len(rejects), written, holdout_added)


def _insert(conn: Connection, project: Project, batch: list[ItemRecord]) -> tuple[int, int, int]:
    if not batch:
        return 0, 0, 0
    keys = [r.key for r in batch]
    existing = set(
        conn.execute(
            select(t.items.c.key).where(t.items.c.project_id == project.id, t.items.c.key.in_(keys))
        ).scalars()
    )
    fresh = [r for r in batch if r.key not in existing]
    if fresh:
        tiers = _rules(project).tiers_for([r.data for r in fresh])
        # Before any model exists the queue is in random order (priority in [0, 1)).
        order = project.rng.random(len(fresh))
        conn.execute(
            t.items.insert(),
            [
                {
                    "project_id": project.id,
                    "key": r.key,
                    "data": r.data,
                    "given_label": r.label,
                    "is_holdout": False,
                    "status": "labelled" if r.label is not None else "new",
                    "tier": tier,
                    "priority": float(u),
                }
                for r, tier, u in zip(fresh, tiers, order, strict=True)
            ],
        )
    with_label = [r for r in fresh if r.label is not None]
    if with_label:
        ids = dict(
            conn.execute(
                select(t.items.c.key, t.items.c.id).where(
                    t.items.c.project_id == project.id,
                    t.items.c.key.in_([r.key for r in with_label]),
                )
            ).all()
        )
        conn.execute(
            t.final_labels.insert(),
            [
                {
                    "item_id": ids[r.key],
                    "project_id": project.id,
                    "label": r.label,
                    "source": "imported",
                    "decided_by": "import",
                    "guideline_version": None,
                }
                for r in with_label
            ],
        )
    return len(fresh), len(batch) - len(fresh), len(with_label)


def _rules(project: Project) -> RuleSet:
    return RuleSet([(rule.when, rule.tier) for rule in project.config.routing.rules])


def _top_up_holdout(conn: Connection, project: Project) -> int:
    """Keep a random holdout of the size the target asks for the current pool."""
    routing = project.config.routing
    n_items = (
        conn.execute(
            select(func.count()).select_from(t.items).where(t.items.c.project_id == project.id)
        ).scalar()
        or 0
    )
    have = (
        conn.execute(
            select(func.count())
            .select_from(t.items)
            .where(t.items.c.project_id == project.id, t.items.c.is_holdout)
        ).scalar()
        or 0
    )
    want = holdout_size(
        n_items,
        target_accuracy=routing.target_accuracy,
        confidence=routing.confidence,
        max_fraction=routing.holdout_max_fraction,
        override=routing.holdout_size,
    )
    if want <= have:
        return 0
    candidates = np.array(
        conn.execute(
            select(t.items.c.id)
            .where(
                t.items.c.project_id == project.id,
                t.items.c.status == "new",
                t.items.c.tier.is_(None),
                ~t.items.c.is_holdout,
            )
            .order_by(t.items.c.id)
        )
        .scalars()
        .all(),
        dtype=np.int64,
    )
    chosen = draw_holdout(candidates, want - have, project.rng)
    order = project.rng.random(len(chosen))
    conn.execute(
        t.items.update().where(t.items.c.id == bindparam("item_id")),
        [
            {"item_id": int(i), "is_holdout": True, "priority": HOLDOUT_PRIORITY + float(u)}
            for i, u in zip(chosen, order, strict=True)
        ],
    )
    return len(chosen)


def _write_rejects(path: Path, rejects: list[Reject]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for r in rejects:
            out.write(
                json.dumps({"file": r.file, "line": r.line, "field": r.field, "reason": r.reason})
                + "\n"
            )

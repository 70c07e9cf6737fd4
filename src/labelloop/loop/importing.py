"""Import items into a project: atomic by default, or skipping and reporting every reject.

Records stream from the file in batches of :data:`BATCH`; each batch is checked against the keys
already stored and written with :func:`~labelloop.store.bulk.insert_rows` (COPY on PostgreSQL),
all in one transaction. Memory holds one batch of records, never the file (the duplicate check
of :mod:`labelloop.io.items` keeps about 150 bytes a distinct key).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Integer, bindparam, func, select, text

from labelloop.errors import InputFileError, Reject
from labelloop.io.items import iter_items
from labelloop.io.records import ItemRecord
from labelloop.loop.context import LoopContext
from labelloop.loop.queue import HOLDOUT_PRIORITY
from labelloop.routing.holdout import draw_holdout, holdout_size
from labelloop.routing.rules import RuleSet, compile_rule
from labelloop.store import tables as t
from labelloop.store.bulk import column_in, insert_rows, plan_each_statement
from labelloop.store.events import append_event

BATCH = 5000
ANALYZE_AFTER = 1000  # new items that make PostgreSQL refresh the items table's statistics


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
    ctx: LoopContext,
    path: Path,
    *,
    fmt: str | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    gold: bool = False,
    actor: str = "system",
) -> ImportReport:
    """Import ``path`` in one transaction.

    Without ``skip_invalid`` any bad record aborts the import, which then raises
    :class:`InputFileError` listing every reject and stores nothing. With it, the valid records
    are imported and the rejects written, one JSON object a line, to ``rejects_path`` (default:
    ``<file>.rejects.jsonl``). Items already in the project (same external id or content hash) are
    left as they are. ``progress`` is called with the number of records read so far.

    With ``gold`` the records are gold questions: each needs its answer (in ``label_field``, or
    ``label``) and may carry a ``gold_note`` shown to whoever answers it wrongly.
    """
    rejects: list[Reject] = []
    added = unchanged = labelled = 0
    batch: list[ItemRecord] = []
    config = ctx.config
    if gold:
        config = config.model_copy(update={"label_field": config.label_field or "label"})
    with ctx.writer.begin() as conn:
        plan_each_statement(conn)
        for seen, record in enumerate(iter_items(path, config=config, fmt=fmt), 1):
            if gold and not isinstance(record, Reject) and record.label is None:
                record = Reject(
                    str(path), seen, config.label_field, "a gold question needs its answer"
                )
            if isinstance(record, Reject):
                rejects.append(record)
            else:
                batch.append(record)
            if len(batch) >= BATCH:
                a, u, lab = _insert(conn, ctx, batch, gold=gold)
                added, unchanged, labelled = added + a, unchanged + u, labelled + lab
                batch.clear()
            if progress is not None and seen % 1000 == 0:
                progress(seen)
        if rejects and not skip_invalid:
            raise InputFileError(rejects)  # rolls the transaction back: nothing is stored
        a, u, lab = _insert(conn, ctx, batch, gold=gold)
        added, unchanged, labelled = added + a, unchanged + u, labelled + lab
        holdout_added = 0 if gold else _top_up_holdout(conn, ctx)
        if added >= ANALYZE_AFTER and conn.dialect.name == "postgresql":
            # Fresh statistics: planned on a table it believes empty, next-task sorts the whole
            # pool (0.2 s at 200,000 items) instead of walking the queue index.
            conn.execute(text("ANALYZE items"))
        written = None
        if rejects:
            written = rejects_path or path.with_name(path.name + ".rejects.jsonl")
            _write_rejects(written, rejects)
        append_event(
            conn,
            actor=actor,
            action="items.import",
            project_id=ctx.id,
            payload={
                "file": str(path),
                "added": added,
                "unchanged": unchanged,
                "rejected": len(rejects),
                "holdout_added": holdout_added,
                "gold": gold,
            },
        )
    return ImportReport(added, unchanged, labelled, len(rejects), written, holdout_added)


def _insert(
    conn: Connection, ctx: LoopContext, batch: list[ItemRecord], *, gold: bool = False
) -> tuple[int, int, int]:
    if not batch:
        return 0, 0, 0
    if gold:
        return _insert_gold(conn, ctx, batch)
    fresh = _new_records(conn, ctx, batch)
    if fresh:
        tiers = _rules(ctx).tiers_for([r.data for r in fresh])
        skills = _skills(ctx, [r.data for r in fresh])
        # Before any model exists the queue is in random order (priority in [0, 1)).
        order = ctx.rng.random(len(fresh))
        insert_rows(
            conn,
            t.items,
            [
                {
                    "project_id": ctx.id,
                    "key": r.key,
                    "data": r.data,
                    "given_label": r.label,
                    "is_holdout": False,
                    "status": "labelled" if r.label is not None else "new",
                    "tier": tier,
                    "skill": skill,
                    "priority": float(u),
                }
                for r, tier, skill, u in zip(fresh, tiers, skills, order, strict=True)
            ],
        )
    with_label = [r for r in fresh if r.label is not None]
    if with_label:
        ids = dict(
            conn.execute(
                select(t.items.c.key, t.items.c.id).where(
                    t.items.c.project_id == ctx.id,
                    column_in(conn, t.items.c.key, [r.key for r in with_label]),
                )
            ).all()
        )
        insert_rows(
            conn,
            t.final_labels,
            [
                {
                    "item_id": ids[r.key],
                    "project_id": ctx.id,
                    "label": r.label,
                    "source": "imported",
                    "decided_by": "import",
                    "guideline_version": None,
                }
                for r in with_label
            ],
        )
    return len(fresh), len(batch) - len(fresh), len(with_label)


def _new_records(conn: Connection, ctx: LoopContext, batch: list[ItemRecord]) -> list[ItemRecord]:
    """The records of ``batch`` whose key is not in the project yet."""
    keys = [r.key for r in batch]
    existing = set(
        conn.execute(
            select(t.items.c.key).where(
                t.items.c.project_id == ctx.id, column_in(conn, t.items.c.key, keys)
            )
        ).scalars()
    )
    return [r for r in batch if r.key not in existing]


def _insert_gold(
    conn: Connection, ctx: LoopContext, batch: list[ItemRecord]
) -> tuple[int, int, int]:
    fresh = _new_records(conn, ctx, batch)
    skills = _skills(ctx, [r.data for r in fresh])
    if fresh:
        insert_rows(
            conn,
            t.items,
            [
                {
                    "project_id": ctx.id,
                    "key": r.key,
                    "data": {k: v for k, v in r.data.items() if k != "gold_note"},
                    "given_label": r.label,
                    "is_holdout": False,
                    "is_gold": True,
                    "gold_note": r.data.get("gold_note"),
                    "status": "gold",
                    "skill": skill,
                    "priority": 0.0,
                }
                for r, skill in zip(fresh, skills, strict=True)
            ],
        )
    return len(fresh), len(batch) - len(fresh), len(fresh)


def _rules(ctx: LoopContext) -> RuleSet:
    return RuleSet([(rule.when, rule.tier) for rule in ctx.config.routing.rules])


def _skills(ctx: LoopContext, records: list[dict[str, Any]]) -> list[str | None]:
    """The skill of the first skill rule each record matches (None: anyone may do it)."""
    rules = [(compile_rule(rule.when), rule.skill) for rule in ctx.config.routing.skills]
    if not rules:
        return [None] * len(records)
    return [next((skill for rule, skill in rules if rule.matches(r)), None) for r in records]


def _top_up_holdout(conn: Connection, ctx: LoopContext) -> int:
    """Keep a random holdout of the size the target asks for the current pool."""
    routing = ctx.config.routing
    n_items = (
        conn.execute(
            select(func.count())
            .select_from(t.items)
            .where(t.items.c.project_id == ctx.id, ~t.items.c.is_gold)
        ).scalar()
        or 0
    )
    have = (
        conn.execute(
            select(func.count())
            .select_from(t.items)
            .where(t.items.c.project_id == ctx.id, t.items.c.is_holdout)
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
    candidate = (
        t.items.c.project_id == ctx.id,
        t.items.c.status == "new",
        t.items.c.tier.is_(None),
        ~t.items.c.is_holdout,
    )
    n_candidates = (
        conn.execute(select(func.count()).select_from(t.items).where(*candidate)).scalar() or 0
    )
    # Draw places in id order (the very draw that drawing from the ids would make), then fetch
    # only the ids at those places: a million candidate ids never leave the database.
    places = draw_holdout(np.arange(n_candidates, dtype=np.int64), want - have, ctx.rng)
    if len(places) == 0:  # every item came with a label: nothing is left to hold out
        return 0
    ranked = (
        select(
            t.items.c.id,
            func.row_number(type_=Integer).over(order_by=t.items.c.id).label("place"),
        )
        .where(*candidate)
        .subquery()
    )
    ids = dict(
        conn.execute(
            select(ranked.c.place, ranked.c.id).where(
                column_in(conn, ranked.c.place, [int(p) + 1 for p in places])
            )
        ).all()
    )
    # A place can be gone if a concurrent answer took a candidate out between the two queries.
    chosen = [ids[int(p) + 1] for p in places if int(p) + 1 in ids]
    order = ctx.rng.random(len(chosen))
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

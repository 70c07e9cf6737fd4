"""Gold questions: items with known answers, mixed into the annotators' queues.

A gold answer never becomes a label; it measures the person. A wrong one is answered with the
right label and the guideline passage behind it. Once someone has given
``quality.min_gold_answers`` gold answers and their accuracy is under
``quality.min_annotator_accuracy``, they are flagged to admins, paused on the project, and their
open leases go back to the queue.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select

from labelloop.accounts.memberships import flag_member
from labelloop.errors import NotFoundError
from labelloop.loop.context import LoopContext
from labelloop.store import tables as t


@dataclass(frozen=True)
class GoldFeedback:
    """What a person is shown after a wrong gold answer."""

    correct_label: Any
    passage: str | None


def guideline_passage(guidelines: str, label: Any, note: str | None = None) -> str | None:
    """The gold item's own note, else the first guideline paragraph naming ``label``."""
    if note:
        return note
    names = label if isinstance(label, list) else [label]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", guidelines) if p.strip()]
    for paragraph in paragraphs:
        for name in names:
            if re.search(rf"(?<!\w){re.escape(str(name))}(?!\w)", paragraph, re.IGNORECASE):
                return paragraph
    return None


def gold_scores(
    conn: Connection, ctx: LoopContext, *, annotator: str | None = None
) -> dict[str, tuple[int, int]]:
    """Each annotator's (or only ``annotator``'s) (right, answered) gold questions, from their
    *first* answer to each: one taken back and answered again after seeing the right label counts
    as it was first given."""
    a, i = t.annotations, t.items
    who = [a.c.annotator == annotator] if annotator is not None else []
    rows = conn.execute(
        select(a.c.annotator, a.c.item_id, a.c.label, i.c.given_label)
        .join(i, i.c.id == a.c.item_id)
        .where(
            a.c.project_id == ctx.id,
            i.c.is_gold,
            or_(a.c.flag.is_(None), a.c.flag == "retracted"),
            *who,
        )
        .order_by(a.c.id.desc())
    ).all()
    first = {(r.annotator, r.item_id): r.label == r.given_label for r in rows}
    scores: dict[str, tuple[int, int]] = {}
    for (annotator, _item), right in first.items():
        hits, n = scores.get(annotator, (0, 0))
        scores[annotator] = (hits + int(right), n + 1)
    return scores


def check_gold_answer(
    conn: Connection,
    ctx: LoopContext,
    *,
    item: Any,
    label: Any,
    annotator: str,
    now: datetime,
) -> GoldFeedback | None:
    """Feedback for a wrong answer to gold ``item`` (None when right); flag the person if their
    gold accuracy fell under the floor."""
    _maybe_flag(conn, ctx, annotator, now)
    if label == item.given_label:
        return None
    return GoldFeedback(
        item.given_label,
        guideline_passage(t.current_guidelines(conn, ctx.id), item.given_label, item.gold_note),
    )


def _maybe_flag(conn: Connection, ctx: LoopContext, annotator: str, now: datetime) -> None:
    quality = ctx.config.quality
    if not quality.min_annotator_accuracy:
        return
    hits, n = gold_scores(conn, ctx, annotator=annotator).get(annotator, (0, 0))
    if n < quality.min_gold_answers or hits / n >= quality.min_annotator_accuracy:
        return
    reason = (
        f"gold accuracy {hits}/{n} = {hits / n:.2f} is under {quality.min_annotator_accuracy:.2f}"
    )
    # Answers stored through the library may come from a name without an account: nobody to pause.
    with contextlib.suppress(NotFoundError):
        flag_member(conn, project_id=ctx.id, username=annotator, reason=reason, now=now)
    release_leases(conn, ctx, annotator)


def release_leases(conn: Connection, ctx: LoopContext, annotator: str) -> int:
    """Return ``annotator``'s open leases on the project to the queue; an answer on one of them
    is refused (status "released")."""
    tk, i = t.tasks, t.items
    open_tasks = conn.execute(
        select(tk.c.id, tk.c.item_id, tk.c.kind).where(
            tk.c.project_id == ctx.id, tk.c.assignee == annotator, tk.c.status == "open"
        )
    ).all()
    if not open_tasks:
        return 0
    conn.execute(
        tk.update().where(tk.c.id.in_([r.id for r in open_tasks])).values(status="released")
    )
    for r in open_tasks:
        if r.kind != "gold":
            conn.execute(i.update().where(i.c.id == r.item_id).values(assigned=i.c.assigned - 1))
    return len(open_tasks)

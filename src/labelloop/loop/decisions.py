"""What an answer decides about its item, inside the answer's transaction.

An item at the annotator tier is decided once ``tasks.overlap`` distinct people answered it, by
the project's aggregation (a tie escalating it to the reviewer tier). With dynamic overlap
(``quality.max_overlap``) the posterior must reach ``min_posterior``: under it the item goes to
one more person, and to a reviewer once ``max_overlap`` people could not settle it. Gold
questions are scored, never decided. A reviewer's or expert's answer decides alone (source
``adjudicated``). An answer flagged ``ambiguous`` escalates the item to the reviewer tier. What
happened comes back as :mod:`~labelloop.loop.outcomes`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from labelloop.codec import key_label, label_key
from labelloop.loop.aggregating import VoteModel
from labelloop.loop.context import LoopContext
from labelloop.loop.gold import check_gold_answer
from labelloop.loop.outcomes import (
    Decided,
    Escalated,
    GoldScored,
    NeedsMoreAnswers,
    Outcome,
    RoundAnswered,
)
from labelloop.store import tables as t
from labelloop.store.events import append_event


def decide(
    conn: Connection,
    ctx: LoopContext,
    votes: VoteModel,
    item: Any,
    label: Any,
    annotator: str,
    tier: str,
    flag: str | None,
    version: int,
) -> list[Outcome]:
    """What ``annotator``'s answer ``label`` (at ``tier``, with ``flag``) decides about ``item``
    (its row, locked by the caller), under guideline ``version``."""
    outcomes: list[Outcome] = []
    if item.is_gold:
        feedback = None
        if flag is None:
            feedback = check_gold_answer(
                conn, ctx, item=item, label=label, annotator=annotator, now=ctx.clock()
            )
        outcomes.append(GoldScored(item.id, feedback))
    elif flag == "late":
        pass
    elif flag == "ambiguous":
        outcomes.append(escalate(conn, ctx, item.id, annotator, "flagged ambiguous"))
    elif tier != "annotator" or item.status != "new":
        source = "adjudicated" if tier != "annotator" else "human"
        outcomes.append(_final(conn, ctx, item.id, label, source, annotator, version))
    else:
        outcomes.append(_aggregate(conn, ctx, votes, item, annotator, version))
    if item.round_id is not None and not item.is_gold:
        outcomes.append(RoundAnswered(item.round_id))
    return outcomes


def _aggregate(
    conn: Connection, ctx: LoopContext, model: VoteModel, item: Any, annotator: str, version: int
) -> Outcome:
    """Decide, wait for more answers, ask one more person, or escalate.

    The project's aggregation gives the answers a posterior. With fixed overlap the best label
    decides unless another ties it (then a reviewer does); with dynamic overlap it decides once
    its posterior reaches ``min_posterior``, else one more person is asked, up to
    ``max_overlap``, then a reviewer."""
    config = ctx.config
    votes = _votes(conn, item.id)
    wanted = item.wanted or config.tasks.overlap
    if len(votes) < wanted:
        return NeedsMoreAnswers(item.id, wanted)
    top, posterior, tied = model.posterior(votes)
    dynamic = config.max_overlap() > config.tasks.overlap
    if (not dynamic and not tied) or (dynamic and posterior >= config.min_posterior()):
        by = annotator if len(votes) == 1 else f"{model.method} of {len(votes)}"
        return _final(conn, ctx, item.id, key_label(top), "human", by, version)
    if not dynamic:
        return escalate(conn, ctx, item.id, annotator, "annotators disagree")
    if len(votes) < config.max_overlap():
        return _ask_one_more(conn, ctx, item.id, len(votes) + 1, posterior)
    reason = f"posterior {posterior:.3f} after {len(votes)} answers"
    return escalate(conn, ctx, item.id, annotator, reason)


def _ask_one_more(
    conn: Connection, ctx: LoopContext, item_id: int, wanted: int, posterior: float
) -> NeedsMoreAnswers:
    conn.execute(t.items.update().where(t.items.c.id == item_id).values(wanted=wanted))
    append_event(
        conn,
        actor="labelloop",
        action="item.more_answers",
        project_id=ctx.id,
        payload={"item_id": item_id, "wanted": wanted, "posterior": round(posterior, 6)},
    )
    return NeedsMoreAnswers(item_id, wanted, posterior)


def _votes(conn: Connection, item_id: int) -> dict[str, str]:
    """Each person's latest unflagged annotator-tier answer, as a hashable key."""
    a, tk = t.annotations, t.tasks
    rows = conn.execute(
        select(a.c.annotator, a.c.label)
        .outerjoin(tk, tk.c.id == a.c.task_id)
        .where(
            a.c.item_id == item_id,
            a.c.flag.is_(None),
            (tk.c.tier == "annotator") | tk.c.id.is_(None),
        )
        .order_by(a.c.id)
    ).all()
    return {r.annotator: label_key(r.label) for r in rows}


def _final(
    conn: Connection,
    ctx: LoopContext,
    item_id: int,
    label: Any,
    source: str,
    decided_by: str,
    version: int,
) -> Decided:
    conn.execute(t.final_labels.delete().where(t.final_labels.c.item_id == item_id))
    conn.execute(
        t.final_labels.insert().values(
            item_id=item_id,
            project_id=ctx.id,
            label=label,
            source=source,
            decided_by=decided_by,
            guideline_version=version,
        )
    )
    conn.execute(t.items.update().where(t.items.c.id == item_id).values(status="labelled"))
    return Decided(item_id, label, source, decided_by)


def escalate(
    conn: Connection, ctx: LoopContext, item_id: int, actor: str, reason: str
) -> Escalated:
    """Send the item to the reviewer tier (it needs one decision there)."""
    conn.execute(
        t.items.update()
        .where(t.items.c.id == item_id)
        .values(tier="reviewer", assigned=0, status="new")
    )
    append_event(
        conn,
        actor=actor,
        action="item.escalate",
        project_id=ctx.id,
        payload={"item_id": item_id, "tier": "reviewer", "reason": reason},
    )
    return Escalated(item_id, "reviewer", reason)

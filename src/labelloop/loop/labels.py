"""Recording human work: annotations, the decisions they lead to, the audit trail.

An item at the annotator tier is decided once ``tasks.overlap`` distinct people answered it, by
the project's aggregation (a tie escalating it to the reviewer tier). With dynamic overlap
(``quality.max_overlap``) the posterior must reach ``min_posterior``: under it the item goes to
one more person, and to a reviewer once ``max_overlap`` people could not settle it. Gold
questions are scored, never decided. A reviewer's or expert's answer decides alone
(source ``adjudicated``). An answer flagged ``ambiguous`` escalates the item to the reviewer tier.
A person may :func:`retract` their last answer while nobody has built on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from labelloop.accounts.memberships import membership
from labelloop.codec import key_label, label_key
from labelloop.errors import ConfigError, ConflictError, NotFoundError, PermissionDenied
from labelloop.loop.aggregating import VoteModel
from labelloop.loop.context import LoopContext
from labelloop.loop.gold import GoldFeedback, check_gold_answer
from labelloop.loop.outcomes import (
    Decided,
    Escalated,
    GoldScored,
    NeedsMoreAnswers,
    Outcome,
    RetrainDue,
    RoundAnswered,
)
from labelloop.loop.training_set import labels_since_last_model
from labelloop.store import tables as t
from labelloop.store.events import append_event

FLAGS = ("ambiguous",)


@dataclass(frozen=True)
class AnnotationResult:
    """The stored annotation and what it led to (:mod:`~labelloop.loop.outcomes`); ``created``
    is False when a retry with the same key found it (and then nothing happened)."""

    annotation_id: int
    item_id: int
    created: bool
    tier: str | None = None
    outcomes: tuple[Outcome, ...] = ()

    @property
    def decided(self) -> bool:
        """Whether the item got its final label."""
        return any(isinstance(o, Decided) for o in self.outcomes)

    @property
    def escalated(self) -> bool:
        """Whether the item went up a tier."""
        return any(isinstance(o, Escalated) for o in self.outcomes)

    @property
    def gold_feedback(self) -> GoldFeedback | None:
        """The right answer and its guideline, after a wrong answer to a gold question."""
        return next((o.feedback for o in self.outcomes if isinstance(o, GoldScored)), None)


def submit(
    ctx: LoopContext,
    votes: VoteModel,
    task_id: int,
    answer: Any,
    *,
    person: str,
    client_key: str | None = None,
    flag: str | None = None,
) -> AnnotationResult:
    """``person``'s answer to their task ``task_id``: the unit of work of one answer.

    One transaction: the task must be ``person``'s, at a tier they still work at on the project
    (else :class:`NotFoundError`, as for a task that does not exist); then as :func:`annotate`.
    """
    return _answer(ctx, votes, None, answer, person, task_id, client_key, flag, member=True)


def annotate(
    ctx: LoopContext,
    votes: VoteModel,
    item_id: int,
    label: Any,
    *,
    annotator: str,
    task_id: int | None = None,
    client_key: str | None = None,
    flag: str | None = None,
) -> AnnotationResult:
    """Store ``annotator``'s answer under the current guideline version and decide if it can.

    One transaction, the item's row locked: idempotent on ``client_key`` (a retry returns the
    first annotation and stores nothing); a task is answered once (the schema refuses a second
    live answer too); a paused person's answers are refused. A late answer on an expired lease
    counts only if the item still has room for it, and is refused otherwise; an answer on a lease
    still open whose item was since decided or escalated is kept as a ``late`` opinion that
    decides nothing. The library trusts its caller with any task id (:func:`submit` does not).
    """
    return _answer(ctx, votes, item_id, label, annotator, task_id, client_key, flag, member=False)


def _answer(
    ctx: LoopContext,
    votes: VoteModel,
    item_id: int | None,
    label: Any,
    annotator: str,
    task_id: int | None,
    client_key: str | None,
    flag: str | None,
    *,
    member: bool,
) -> AnnotationResult:
    if flag is not None and flag not in FLAGS:
        raise ConfigError(f"flag: {flag!r} is not one of {', '.join(FLAGS)}")
    if flag is None or label is not None:
        label = ctx.kind.validate(label)
    if client_key is not None:
        found = _by_key(ctx, client_key)
        if found is not None:
            return found
    votes.refresh()  # a refit, when one is due, outside the write lock
    try:
        with ctx.writer.begin() as conn:
            if item_id is None:
                item_id = _own_task(conn, ctx, task_id, annotator, member=member)
            return _record(conn, ctx, votes, item_id, label, annotator, task_id, client_key, flag)
    except IntegrityError:
        found = _by_key(ctx, client_key) if client_key is not None else None
        if found is not None:  # a concurrent retry won the race
            return found
        if task_id is not None:  # the schema refused a second live answer to the task
            raise ConflictError(f"task {task_id} was already answered") from None
        raise


def _own_task(
    conn: Connection, ctx: LoopContext, task_id: int | None, person: str, *, member: bool
) -> int:
    """The item of ``person``'s task ``task_id``; with ``member``, only at a tier they still
    work at on the project. Anything else reads as missing: whether someone else's task exists
    is nobody else's business."""
    tk = t.tasks
    task = conn.execute(
        select(tk.c.item_id, tk.c.assignee, tk.c.tier).where(
            tk.c.id == task_id, tk.c.project_id == ctx.id
        )
    ).first()
    missing = NotFoundError(f"no task {task_id} of yours in this project")
    if task is None or task.assignee != person:
        raise missing
    if member:
        try:
            tiers = membership(conn, project_id=ctx.id, username=person).tiers
        except NotFoundError:
            raise missing from None
        if task.tier not in tiers:
            raise missing
    return int(task.item_id)


def _record(
    conn: Connection,
    ctx: LoopContext,
    votes: VoteModel,
    item_id: int,
    label: Any,
    annotator: str,
    task_id: int | None,
    client_key: str | None,
    flag: str | None,
) -> AnnotationResult:
    tk = t.tasks
    item = _locked_item(conn, ctx, item_id)
    if item is None:
        raise NotFoundError(f"item {item_id} is not in project {ctx.name!r}")
    if is_paused(conn, ctx.id, annotator):
        raise PermissionDenied(f"your work on {ctx.name} is paused until an admin reviews it")
    # Without a task id, the person's latest lease on the item is used.
    where = [tk.c.id == task_id] if task_id is not None else [tk.c.assignee == annotator]
    task = conn.execute(
        select(tk.c.id, tk.c.tier, tk.c.status, tk.c.lease_expires_at, tk.c.assignee)
        .where(tk.c.item_id == item_id, *where)
        .order_by(tk.c.id.desc())
        .limit(1)
    ).first()
    if task_id is not None and task is None:
        raise NotFoundError(f"task {task_id} is not a task of item {item_id}")
    if task is not None and client_key is not None:
        found = _by_key(conn, client_key)  # a retry that waited for the winner's lock
        if found is not None:
            return found
    if task_id is not None and task is not None:
        _check_open(conn, ctx, item, task)
    tier = task.tier if task is not None else (item.tier or "annotator")
    current = item.status in ("new", "auto") and (item.tier or "annotator") == tier
    if task is not None and not current and not item.is_gold:
        flag = "late"  # the item was decided or escalated while the lease was open
    version = t.latest_version(conn, t.guidelines, ctx.id)
    annotation_id = t.inserted_id(
        conn.execute(
            t.annotations.insert().values(
                project_id=ctx.id,
                item_id=item_id,
                task_id=task.id if task else None,
                annotator=annotator,
                label=label,
                guideline_version=version,
                client_key=client_key,
                flag=flag,
            )
        )
    )
    if task is not None:
        conn.execute(
            tk.update().where(tk.c.id == task.id).values(status="done", done_at=ctx.clock())
        )
    append_event(
        conn,
        actor=annotator,
        action="annotation.create",
        project_id=ctx.id,
        payload={
            "item_id": item_id,
            "annotation_id": annotation_id,
            "label": label,
            "flag": flag,
            "tier": tier,
            "guideline_version": version,
            "task_id": task.id if task else None,
        },
    )
    outcomes: list[Outcome] = []
    if item.is_gold:
        feedback = None
        if flag is None:
            feedback = check_gold_answer(
                conn, ctx, item=item, label=label, annotator=annotator, now=ctx.clock()
            )
        outcomes.append(GoldScored(item_id, feedback))
    elif flag == "late":
        pass
    elif flag == "ambiguous":
        outcomes.append(_escalate(conn, ctx, item_id, annotator, "flagged ambiguous"))
    elif tier != "annotator" or item.status != "new":
        source = "adjudicated" if tier != "annotator" else "human"
        outcomes.append(_decide(conn, ctx, item_id, label, source, annotator, version))
    else:
        outcomes.append(_aggregate(conn, ctx, votes, item, annotator, version))
    if item.round_id is not None and not item.is_gold:
        outcomes.append(RoundAnswered(item.round_id))
    if any(isinstance(o, Decided) for o in outcomes):
        due = labels_since_last_model(conn, ctx.id)
        if due >= ctx.config.retrain.every:
            outcomes.append(RetrainDue(due))
    return AnnotationResult(annotation_id, item_id, True, tier, tuple(outcomes))


def _locked_item(conn: Connection, ctx: LoopContext, item_id: int) -> Any:
    """The item's row, locked on PostgreSQL until the transaction ends: answers to one item are
    recorded one at a time, so each sees the others' votes (SQLite's writer is serial)."""
    i = t.items
    query = select(
        i.c.id,
        i.c.round_id,
        i.c.tier,
        i.c.status,
        i.c.wanted,
        i.c.assigned,
        i.c.is_gold,
        i.c.given_label,
        i.c.gold_note,
    ).where(i.c.id == item_id, i.c.project_id == ctx.id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).first()


def _check_open(conn: Connection, ctx: LoopContext, item: Any, task: Any) -> None:
    """Refuse an answer to ``task`` unless its lease is open, or expired with room left."""
    if task.status in ("done", "skipped"):
        raise ConflictError(f"task {task.id} was already {task.status}")
    if task.status == "released":
        raise PermissionDenied(f"task {task.id} was taken back while your work was paused")
    if task.status != "expired":
        return
    room = (item.wanted or ctx.config.tasks.overlap) if task.tier == "annotator" else 1
    open_again = (
        item.status == "new" and (item.tier or "annotator") == task.tier and item.assigned < room
    )
    if not (item.is_gold or open_again) or _holds_another(conn, task, item.id):
        ended = _aware(task.lease_expires_at)
        raise ConflictError(
            f"your lease on task {task.id} ended at {ended:%Y-%m-%d %H:%M:%S} UTC and the item "
            "went to someone else: this answer was not stored"
        )
    if not item.is_gold:  # its place was given back; it is taken again
        i = t.items
        conn.execute(i.update().where(i.c.id == item.id).values(assigned=i.c.assigned + 1))


def _holds_another(conn: Connection, task: Any, item_id: int) -> bool:
    """Whether the person behind the lapsed ``task`` holds or answered another task on
    ``item_id`` at its tier: that one is their place, and an answer on both would count once
    but fill two places."""
    tk = t.tasks
    other = conn.execute(
        select(tk.c.id)
        .where(
            tk.c.item_id == item_id,
            tk.c.assignee == task.assignee,
            tk.c.tier == task.tier,
            tk.c.id != task.id,
            tk.c.status.in_(("open", "done")),
        )
        .limit(1)
    ).first()
    return other is not None


def is_paused(conn: Connection, project_id: int, annotator: str) -> bool:
    """Whether ``annotator`` is flagged (paused) on the project."""
    m, u = t.memberships, t.users
    flagged = conn.execute(
        select(m.c.flagged_at)
        .join(u, u.c.id == m.c.user_id)
        .where(m.c.project_id == project_id, u.c.username == annotator)
    ).scalar()
    return flagged is not None


def _aware(at: datetime) -> datetime:
    """SQLite returns naive datetimes; the store writes UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


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
        return _decide(conn, ctx, item.id, key_label(top), "human", by, version)
    if not dynamic:
        return _escalate(conn, ctx, item.id, annotator, "annotators disagree")
    if len(votes) < config.max_overlap():
        return _ask_one_more(conn, ctx, item.id, len(votes) + 1, posterior)
    reason = f"posterior {posterior:.3f} after {len(votes)} answers"
    return _escalate(conn, ctx, item.id, annotator, reason)


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


def _decide(
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


def _escalate(
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


def _by_key(source: LoopContext | Connection, client_key: str) -> AnnotationResult | None:
    """The annotation stored under ``client_key``, read in ``source`` (a project's own
    connection, or the caller's transaction)."""
    query = select(t.annotations.c.id, t.annotations.c.item_id).where(
        t.annotations.c.client_key == client_key
    )
    if isinstance(source, Connection):
        row = source.execute(query).first()
    else:
        with source.engine.connect() as conn:
            row = conn.execute(query).first()
    return None if row is None else AnnotationResult(row.id, row.item_id, False)


FINAL = "this answer can no longer be undone: ask a reviewer to correct it"


def retract(
    ctx: LoopContext, task_id: int, *, annotator: str, now: datetime | None = None
) -> datetime:
    """Undo ``annotator``'s answer to ``task_id``: the answer is kept but marked retracted, a
    decision it led to is withdrawn, and the task is leased to them again (returns the new lease
    end).

    Allowed once per task, within ``tasks.undo_seconds`` of the answer, and only while nothing
    was built on it. Every other refusal reads the same (:data:`FINAL`), whatever the reason —
    someone answered the item since, it was escalated, its audit round was decided, a gold
    answer's feedback was shown — so a refusal never tells which kind of item it was. A gold
    question is scored by its first answer whatever happens after.
    """
    a, tk, i = t.annotations, t.tasks, t.items
    now = now or ctx.clock()
    window = ctx.config.tasks.undo_seconds
    with ctx.writer.begin() as conn:
        task = conn.execute(
            select(tk.c.id, tk.c.item_id, tk.c.tier, tk.c.status).where(
                tk.c.id == task_id, tk.c.project_id == ctx.id, tk.c.assignee == annotator
            )
        ).first()
        if task is None:
            raise NotFoundError(f"task {task_id} is not {annotator!r}'s")
        if is_paused(conn, ctx.id, annotator):
            raise PermissionDenied(f"your work on {ctx.name} is paused")
        item = _locked_item(conn, ctx, task.item_id)
        answers = conn.execute(
            select(a.c.id, a.c.label, a.c.flag, a.c.created_at)
            .where(a.c.task_id == task_id, a.c.annotator == annotator)
            .order_by(a.c.id.desc())
        ).all()
        answer = next((r for r in answers if r.flag in (None, "ambiguous")), None)
        if task.status != "done" or answer is None:
            raise ConflictError(f"task {task_id} has no answer to undo")
        if window == 0 or now - _aware(answer.created_at) > timedelta(seconds=window):
            raise ConflictError(f"an answer can be undone within {window} s of sending it")
        if any(r.flag == "retracted" for r in answers):
            raise ConflictError("an answer can be undone once")
        if _built_upon(conn, item, task, answer):
            raise ConflictError(FINAL)
        conn.execute(a.update().where(a.c.id == answer.id).values(flag="retracted"))
        if item.status == "labelled" and not item.is_gold:
            conn.execute(t.final_labels.delete().where(t.final_labels.c.item_id == task.item_id))
            conn.execute(i.update().where(i.c.id == task.item_id).values(status="new"))
        lease_end = now + timedelta(seconds=ctx.config.tasks.lease_seconds)
        conn.execute(
            tk.update()
            .where(tk.c.id == task_id)
            .values(status="open", done_at=None, lease_expires_at=lease_end)
        )
        append_event(
            conn,
            actor=annotator,
            action="annotation.retract",
            project_id=ctx.id,
            payload={"task_id": task_id, "item_id": task.item_id, "annotation_id": answer.id},
        )
    return lease_end


def _built_upon(conn: Connection, item: Any, task: Any, answer: Any) -> bool:
    """Whether undoing ``answer`` would undo more than the person's own work."""
    a = t.annotations
    later = conn.execute(
        select(a.c.id).where(a.c.item_id == item.id, a.c.id > answer.id).limit(1)
    ).first()
    if later is not None or (item.tier or "annotator") != task.tier:
        return True
    if item.is_gold:
        # The right label was shown after a wrong answer; an "ambiguous" flag is final as it is
        # on any other item (which it sends to a reviewer), so undoing it tells nothing.
        return answer.flag == "ambiguous" or answer.label != item.given_label
    if item.round_id is not None:
        rr = t.routing_rounds
        status = conn.execute(select(rr.c.status).where(rr.c.id == item.round_id)).scalar()
        return status != "sampling"
    return item.status not in ("new", "labelled")

"""One answer, one unit of work: check it, record it with its audit event, decide.

:func:`submit` (a person's own task) and :func:`annotate` (the library's item-based call) run
one transaction each: ownership, lease, flag, idempotency, the record, and what the answer
decides (:mod:`~labelloop.loop.decisions`). What happened comes back as values
(:mod:`~labelloop.loop.outcomes`) for :mod:`~labelloop.loop.dispatch` to react to after the
commit. Undoing an answer: :mod:`~labelloop.loop.retraction`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from labelloop.accounts.memberships import membership
from labelloop.codec import shown
from labelloop.errors import ConfigError, ConflictError, NotFoundError, PermissionDenied
from labelloop.loop.aggregating import VoteModel
from labelloop.loop.context import LoopContext
from labelloop.loop.decisions import decide
from labelloop.loop.gold import GoldFeedback
from labelloop.loop.outcomes import Decided, Escalated, GoldScored, Outcome, RetrainDue
from labelloop.loop.training_set import labels_since_last_model
from labelloop.store import tables as t
from labelloop.store.events import append_event

FLAGS = ("ambiguous",)
PAUSED = "your work on {project} is paused until an admin reviews it"


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
    watch_retrain: bool = True,
) -> AnnotationResult:
    """``person``'s answer to their task ``task_id``: the unit of work of one answer.

    One transaction: the task must be ``person``'s, at a tier they still work at on the project
    (else :class:`NotFoundError`, as for a task that does not exist); then as :func:`annotate`.
    """
    return _answer(ctx, votes, None, answer, person, task_id, client_key, flag, watch_retrain)


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
    watch_retrain: bool = True,
) -> AnnotationResult:
    """Store ``annotator``'s answer under the current guideline version and decide if it can.

    One transaction, the item's row locked: idempotent on ``client_key`` (a retry returns the
    first annotation and stores nothing); a task is answered once (the schema refuses a second
    live answer too); a paused person's answers are refused. A late answer on an expired lease
    counts only if the item still has room for it, and is refused otherwise; an answer on a lease
    still open whose item was since decided or escalated is kept as a ``late`` opinion that
    decides nothing. The library trusts its caller with any task id (:func:`submit` does not).

    When the answer decided its item and ``watch_retrain``, the outcomes end with
    :class:`RetrainDue` once ``retrain.every`` training labels have gathered since the newest
    model (counted after the commit, outside the write lock).
    """
    return _answer(ctx, votes, item_id, label, annotator, task_id, client_key, flag, watch_retrain)


def _answer(
    ctx: LoopContext,
    votes: VoteModel,
    item_id: int | None,
    label: Any,
    annotator: str,
    task_id: int | None,
    client_key: str | None,
    flag: str | None,
    watch_retrain: bool,
) -> AnnotationResult:
    if flag is not None and flag not in FLAGS:
        raise ConfigError(f"flag: {flag!r} is not one of {', '.join(FLAGS)}")
    if flag is None or label is not None:
        label = ctx.kind.validate(label)
    if client_key is not None:
        found = _by_key(ctx, client_key, annotator, item_id=item_id, task_id=task_id)
        if found is not None:
            return found
    votes.refresh()  # a refit, when one is due, outside the write lock
    try:
        with ctx.writer.begin() as conn:
            if item_id is None:
                item_id = _own_task(conn, ctx, task_id, annotator)
            elif is_paused(conn, ctx.id, annotator):
                raise PermissionDenied(PAUSED.format(project=ctx.name))
            result = _record(conn, ctx, votes, item_id, label, annotator, task_id, client_key, flag)
    except IntegrityError:
        found = None
        if client_key is not None:
            found = _by_key(ctx, client_key, annotator, item_id=item_id, task_id=task_id)
        if found is not None:  # a concurrent retry won the race
            return found
        if task_id is not None:  # the schema refused a second live answer to the task
            raise ConflictError(f"task {task_id} was already answered") from None
        raise
    if watch_retrain and result.decided:
        with ctx.engine.connect() as conn:
            due = labels_since_last_model(conn, ctx.id)
        if due >= ctx.config.retrain.every:
            result = replace(result, outcomes=(*result.outcomes, RetrainDue(due)))
    return result


def _own_task(conn: Connection, ctx: LoopContext, task_id: int | None, person: str) -> int:
    """The item of ``person``'s task ``task_id``, at a tier they still work at on the project;
    anything else reads as missing (whether someone else's task exists is nobody else's
    business). A paused person is refused."""
    tk = t.tasks
    task = conn.execute(
        select(tk.c.item_id, tk.c.assignee, tk.c.tier).where(
            tk.c.id == task_id, tk.c.project_id == ctx.id
        )
    ).first()
    missing = NotFoundError(f"no task {task_id} of yours in this project")
    if task is None or task.assignee != person:
        raise missing
    try:
        member = membership(conn, project_id=ctx.id, username=person)
    except NotFoundError:
        raise missing from None
    if task.tier not in member.tiers:
        raise missing
    if member.flagged_at is not None:
        raise PermissionDenied(PAUSED.format(project=ctx.name))
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
    item = locked_item(conn, ctx, item_id)
    if item is None:
        raise NotFoundError(f"item {item_id} is not in project {ctx.name!r}")
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
        # a retry that waited for the winner's lock
        found = _by_key(ctx, client_key, annotator, item_id=item_id, task_id=task_id, conn=conn)
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
    outcomes = decide(conn, ctx, votes, item, label, annotator, tier, flag, version)
    return AnnotationResult(annotation_id, item_id, True, tier, tuple(outcomes))


def locked_item(conn: Connection, ctx: LoopContext, item_id: int) -> Any:
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
        ended = aware(task.lease_expires_at)
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


def aware(at: datetime) -> datetime:
    """SQLite returns naive datetimes; the store writes UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _by_key(
    ctx: LoopContext,
    client_key: str,
    person: str,
    *,
    item_id: int | None,
    task_id: int | None,
    conn: Connection | None = None,
) -> AnnotationResult | None:
    """The annotation stored under ``client_key`` (read in ``conn``, the caller's transaction,
    else in a connection of its own) if it is this answer's retry: the same person, project,
    item and task. A key used for another answer is refused: keys are unique, and taking
    that answer for this one would drop this one."""
    a = t.annotations
    query = select(a.c.id, a.c.item_id, a.c.task_id, a.c.project_id, a.c.annotator).where(
        a.c.client_key == client_key
    )
    if conn is not None:
        row = conn.execute(query).first()
    else:
        with ctx.engine.connect() as own:
            row = own.execute(query).first()
    if row is None:
        return None
    same = (row.project_id, row.annotator) == (ctx.id, person)
    same &= item_id is None or row.item_id == item_id
    same &= task_id is None or row.task_id == task_id
    if not same:
        raise ConflictError(
            f"client_key {shown(client_key)} was used for another answer: "
            "send each answer with a key of its own"
        )
    return AnnotationResult(row.id, row.item_id, False)

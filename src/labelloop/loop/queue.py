"""Handing out work: leases on the most valuable items a person may do.

An item needs ``tasks.overlap`` annotations from distinct people. Each hand-out is a task leased to
one person for ``tasks.lease_seconds``; an expired lease returns the item to the queue. The
``items.assigned`` counter (leased + done tasks) is checked and bumped on the locked item row, so
under concurrency no item is handed out beyond its overlap: SQLite serialises writers with
``BEGIN IMMEDIATE``, PostgreSQL locks the rows it hands out (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, false, func, or_, select

from labelloop.errors import ConflictError, NotFoundError
from labelloop.io.records import data_problem
from labelloop.loop.context import LoopContext
from labelloop.loop.model_registry import promoted_version
from labelloop.store import locks
from labelloop.store import tables as t
from labelloop.store.events import append_event
from labelloop.tiers import TIERS

SUSPECT_PRIORITY = 1e8  # suspected label errors, sent back for review
HOLDOUT_PRIORITY = 1e9  # holdout items: HOLDOUT_PRIORITY + a random number under 1
AUDIT_PRIORITY = 2e9


@dataclass(frozen=True)
class Task:
    """One unit of human work. ``suggestion`` is withheld on holdout and audit items: a person
    checking the model must not be anchored by it."""

    id: int
    item_id: int
    key: str
    data: dict[str, Any]
    tier: str
    kind: str
    suggestion: Any | None
    confidence: float | None
    lease_expires_at: datetime


def _kind(is_holdout: bool, priority: float, tier: str | None, is_gold: bool = False) -> str:
    if is_gold:
        return "gold"
    if is_holdout:
        return "holdout"
    if priority >= AUDIT_PRIORITY:
        return "audit"
    return "rule" if tier is not None else "active"


def _waiting(ctx: LoopContext, tier: str, skills: Sequence[str] | None = None) -> tuple[Any, ...]:
    """Undecided items for ``tier`` with room for another person; candidates of a round under
    audit wait for its verdict (only its sample is handed out). With ``skills``, only items that
    need no skill or one of them."""
    if tier not in TIERS:
        raise ValueError(
            f"The 'tier' parameter must be one of {', '.join(TIERS)}. Got {tier!r} instead."
        )
    i = t.items
    tier_clause = (
        or_(i.c.tier.is_(None), i.c.tier == tier) if tier == "annotator" else i.c.tier == tier
    )
    # Reviewers and experts decide alone; escalating an item resets its counter. Dynamic overlap
    # raises an item's ``wanted`` one answer at a time.
    room = (
        i.c.assigned < func.coalesce(i.c.wanted, ctx.config.tasks.overlap)
        if tier == "annotator"
        else i.c.assigned < 1
    )
    clauses = (
        i.c.project_id == ctx.id,
        i.c.status == "new",
        tier_clause,
        room,
        or_(i.c.round_id.is_(None), i.c.priority >= AUDIT_PRIORITY),
    )
    return (*clauses, *_skill_clause(skills))


def _skill_clause(skills: Sequence[str] | None) -> tuple[Any, ...]:
    if skills is None:
        return ()
    i = t.items
    skilled = i.c.skill.in_(list(skills)) if skills else false()
    return (or_(i.c.skill.is_(None), skilled),)


def release_expired(conn: Connection, ctx: LoopContext, now: datetime) -> int:
    """Expire overdue leases and give their items their places back, each lease once.

    On PostgreSQL the items are locked first (the order a submit locks them in), skipping those
    another transaction holds; a lease is expired only while it is still open, so two concurrent
    hand-outs never give one place back twice."""
    i, tk = t.items, t.tasks
    overdue = select(tk.c.item_id).where(
        tk.c.project_id == ctx.id, tk.c.status == "open", tk.c.lease_expires_at < now
    )
    item_ids = [r.item_id for r in conn.execute(overdue.distinct()).all()]
    if not item_ids:
        return 0
    if conn.dialect.name == "postgresql":
        locked = select(i.c.id).where(i.c.id.in_(item_ids)).order_by(i.c.id)
        item_ids = list(conn.execute(locked.with_for_update(skip_locked=True)).scalars())
        if not item_ids:
            return 0
    expired = conn.execute(
        tk.update()
        .where(
            tk.c.project_id == ctx.id,
            tk.c.status == "open",
            tk.c.lease_expires_at < now,
            tk.c.item_id.in_(item_ids),
        )
        .values(status="expired")
        .returning(tk.c.item_id)
    ).all()
    if expired:
        _give_back(conn, [e.item_id for e in expired])
    return len(expired)


def _give_back(conn: Connection, item_ids: list[int]) -> None:
    """Give each of ``item_ids`` (one entry per lease) one place back; gold questions hold no
    places (everyone answers them), so theirs are left alone."""
    i = t.items
    conn.execute(
        i.update()
        .where(i.c.id == bindparam("item"), ~i.c.is_gold)
        .values(assigned=i.c.assigned - 1),
        [{"item": item_id} for item_id in item_ids],
    )


def next_tasks(
    ctx: LoopContext,
    n: int = 1,
    *,
    tier: str = "annotator",
    annotator: str = "anonymous",
    skills: Sequence[str] | None = None,
    resume: bool = False,
    max_leases: int | None = None,
    now: datetime | None = None,
) -> list[Task]:
    """Lease the ``n`` most valuable items waiting for ``tier`` that ``annotator`` has neither
    answered nor holds; items they skipped come after all others. With ``resume``, the tasks they
    still hold at ``tier`` come first (a reloaded page gets its work back). With ``skills``
    (None: any), only items that need no skill or one of them.

    With ``max_leases`` (the server passes ``tasks.max_leases``), nobody holds more open tasks
    on the project: past that, :class:`~labelloop.errors.ConflictError`.
    """
    i, tk = t.items, t.tasks
    now = now or ctx.clock()
    lease_end = now + timedelta(seconds=ctx.config.tasks.lease_seconds)
    mine = (tk.c.project_id == ctx.id, tk.c.assignee == annotator)
    # Answered or held at this tier: overlap needs distinct people; skipped items come last.
    had = select(tk.c.item_id).where(*mine, tk.c.tier == tier, tk.c.status.in_(("open", "done")))
    skipped = select(tk.c.item_id).where(*mine, tk.c.tier == tier, tk.c.status == "skipped")
    columns = (i.c.id, i.c.key, i.c.data, i.c.tier, i.c.is_holdout, i.c.is_gold, i.c.priority)
    with ctx.writer.begin() as conn:
        if max_leases is not None:
            # Concurrent hand-outs to one person must not each count the same open leases and
            # pass the cap together.
            locks.hold(conn, f"leases:{ctx.id}:{annotator}")
        release_expired(conn, ctx, now)
        held = _held(conn, ctx, annotator, tier) if resume else []
        wanted = n - len(held)
        if max_leases is not None:
            open_leases = conn.execute(
                select(func.count()).where(*mine, tk.c.status == "open")
            ).scalar_one()
            wanted = min(wanted, max_leases - open_leases)
        if wanted <= 0 and not held and n > 0:
            raise ConflictError(
                f"you hold {max_leases} open tasks on {ctx.name}, the most one person may: "
                "answer or skip some first"
            )
        rows: list[Any] = []
        if wanted > 0:
            n_gold = _gold_slots(ctx, wanted) if tier == "annotator" else 0
            seen = had.union(skipped)  # a skipped gold question never returns early
            gold = _pick_gold(conn, ctx, columns, seen, skills, n_gold) if n_gold else []
            waiting = (*_waiting(ctx, tier, skills), i.c.id.not_in(had))
            need = wanted - len(gold)
            # Not skipped before skipped; an item that cannot be sent is set aside and replaced.
            for where in ((*waiting, i.c.id.not_in(skipped)), (*waiting, i.c.id.in_(skipped))):
                while len(rows) < need:
                    picked = _pick(conn, columns, where, need - len(rows))
                    servable = _servable(conn, ctx, picked)
                    rows += servable
                    if len(servable) == len(picked):
                        break
            # With no ordinary work left for the person, a task handed out would be gold for sure.
            gold = _servable(conn, ctx, gold) if rows else []
            rows = _mix_in(ctx, rows, gold)
        blind = tier == "annotator" and _blind_phase(conn, ctx)
        version = promoted_version(conn, ctx.id)
        suggestions = _suggestions(conn, ctx, [r.id for r in (*held, *rows)], version)
        tasks = [
            Task(
                r.task_id,
                r.id,
                r.key,
                r.data,
                tier,
                r.kind,
                *_suggested(r.id, r.kind, suggestions, blind),
                r.lease_expires_at,
            )
            for r in held
        ]
        for r in rows:
            kind = _kind(r.is_holdout, r.priority or 0.0, r.tier, r.is_gold)
            task_id = t.inserted_id(
                conn.execute(
                    tk.insert().values(
                        project_id=ctx.id,
                        item_id=r.id,
                        tier=tier,
                        kind=kind,
                        priority=r.priority or 0.0,
                        status="open",
                        assignee=annotator,
                        lease_expires_at=lease_end,
                    )
                )
            )
            label, conf = _suggested(r.id, kind, suggestions, blind)
            tasks.append(Task(task_id, r.id, r.key, r.data, tier, kind, label, conf, lease_end))
        pooled = [r.id for r in rows if not r.is_gold]  # gold questions go to everyone
        if pooled:
            conn.execute(i.update().where(i.c.id.in_(pooled)).values(assigned=i.c.assigned + 1))
    return tasks


def _suggested(
    item_id: int, kind: str, suggestions: dict[int, tuple[Any, float]], blind: bool
) -> tuple[Any, float | None]:
    """The model's (label, confidence) a task shows: none on holdout and audit items, none at
    all in a blind phase."""
    if blind or kind in ("holdout", "audit"):
        return None, None
    return suggestions.get(item_id, (None, None))


def _held(conn: Connection, ctx: LoopContext, annotator: str, tier: str) -> list[Any]:
    """``annotator``'s open leases at ``tier``, oldest first, with their items."""
    i, tk = t.items, t.tasks
    return list(
        conn.execute(
            select(
                tk.c.id.label("task_id"),
                tk.c.kind,
                tk.c.lease_expires_at,
                i.c.id,
                i.c.key,
                i.c.data,
            )
            .join(i, i.c.id == tk.c.item_id)
            .where(
                tk.c.project_id == ctx.id,
                tk.c.assignee == annotator,
                tk.c.tier == tier,
                tk.c.status == "open",
            )
            .order_by(tk.c.id)
        ).all()
    )


def _pick(conn: Connection, columns: tuple[Any, ...], where: tuple[Any, ...], n: int) -> list[Any]:
    """Up to ``n`` waiting items by priority, locked on PostgreSQL (others skip them)."""
    if n <= 0:
        return []
    query = select(*columns).where(*where).order_by(t.items.c.priority.desc(), t.items.c.id)
    query = query.limit(n)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=t.items)
    return list(conn.execute(query).all())


def _pick_gold(
    conn: Connection,
    ctx: LoopContext,
    columns: tuple[Any, ...],
    had: Any,
    skills: Sequence[str] | None,
    n: int,
) -> list[Any]:
    """``n`` gold questions the person has neither answered, held nor skipped, drawn at random."""
    i = t.items
    query = (
        select(*columns)
        .where(
            i.c.project_id == ctx.id,
            i.c.status == "gold",
            i.c.id.not_in(had),
            *_skill_clause(skills),
        )
        .order_by(func.random())
        .limit(n)
    )
    return list(conn.execute(query).all())


def _mix_in(ctx: LoopContext, rows: list[Any], gold: list[Any]) -> list[Any]:
    """Gold questions at random places, so a gold question cannot be told by its position."""
    rows = list(rows)
    for r in gold:
        rows.insert(int(ctx.rng.integers(len(rows) + 1)), r)
    return rows


def _servable(conn: Connection, ctx: LoopContext, rows: list[Any]) -> list[Any]:
    """The rows whose data can be sent; any other is set aside (status "invalid") with an event
    naming the problem, so one bad item never breaks a hand-out."""
    good = []
    for r in rows:
        problem = data_problem(r.data)
        if problem is None:
            good.append(r)
            continue
        conn.execute(t.items.update().where(t.items.c.id == r.id).values(status="invalid"))
        append_event(
            conn,
            actor="labelloop",
            action="item.invalid",
            project_id=ctx.id,
            payload={"item_id": r.id, "reason": problem},
        )
    return good


def _blind_phase(conn: Connection, ctx: LoopContext) -> bool:
    """Whether holdout or audit items still wait: then no annotator task carries a suggestion,
    so that its absence never tells those items from the others."""
    i = t.items
    waiting = conn.execute(
        select(i.c.id)
        .where(i.c.project_id == ctx.id, i.c.status == "new", i.c.priority >= HOLDOUT_PRIORITY)
        .limit(1)
    ).first()
    return waiting is not None


def _gold_slots(ctx: LoopContext, n: int) -> int:
    """How many of ``n`` hand-outs are gold questions: each is one with ``quality.gold_rate``."""
    rate = ctx.config.quality.gold_rate
    return int((ctx.rng.random(n) < rate).sum()) if rate else 0


def skip_task(ctx: LoopContext, task_id: int, *, annotator: str) -> None:
    """Give a leased task back unanswered; the item goes to someone else.

    The item's row is locked first (as a submit locks it) and the task is skipped only while it
    is still open, so concurrent skips, or a skip racing a submit, give the place back once."""
    tk = t.tasks
    with ctx.writer.begin() as conn:
        task = conn.execute(
            select(tk.c.item_id, tk.c.status).where(
                tk.c.id == task_id, tk.c.project_id == ctx.id, tk.c.assignee == annotator
            )
        ).first()
        if task is None:
            raise NotFoundError(f"task {task_id} is not leased to {annotator!r}")
        if task.status != "open":
            return
        if conn.dialect.name == "postgresql":
            item = select(t.items.c.id).where(t.items.c.id == task.item_id)
            conn.execute(item.with_for_update())
        skipped = conn.execute(
            tk.update()
            .where(tk.c.id == task_id, tk.c.status == "open")
            .values(status="skipped", done_at=ctx.clock())
        )
        if skipped.rowcount != 1:
            return
        _give_back(conn, [task.item_id])
        append_event(
            conn,
            actor=annotator,
            action="task.skip",
            project_id=ctx.id,
            payload={"task_id": task_id, "item_id": task.item_id},
        )


def _suggestions(
    conn: Any, ctx: LoopContext, item_ids: list[int], version: int | None
) -> dict[int, tuple[Any, float]]:
    if version is None:
        return {}
    mv = t.model_versions
    p = t.predictions
    rows = conn.execute(
        select(p.c.item_id, p.c.label, p.c.confidence)
        .join(
            mv,
            and_(
                mv.c.id == p.c.model_version_id,
                mv.c.project_id == ctx.id,
                mv.c.version == version,
            ),
        )
        .where(p.c.item_id.in_(item_ids))
    ).all()
    return {r.item_id: (r.label, r.confidence) for r in rows}


def peek(ctx: LoopContext, n: int = 10, *, tier: str = "annotator") -> list[dict[str, Any]]:
    """The next ``n`` waiting items for ``tier`` in queue order, without handing them out."""
    i = t.items
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(i.c.id, i.c.key, i.c.tier, i.c.is_holdout, i.c.priority)
            .where(*_waiting(ctx, tier))
            .order_by(i.c.priority.desc(), i.c.id)
            .limit(n)
        ).all()
    return [
        {
            "item_id": r.id,
            "key": r.key,
            "kind": _kind(r.is_holdout, r.priority or 0.0, r.tier),
            "priority": r.priority,
        }
        for r in rows
    ]

"""Undoing one's own answer, while nobody has built on it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from labelloop.errors import ConflictError, NotFoundError, PermissionDenied
from labelloop.loop.context import LoopContext
from labelloop.loop.submission import aware, is_paused, locked_item
from labelloop.store import tables as t
from labelloop.store.events import append_event

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
        item = locked_item(conn, ctx, task.item_id)
        answers = conn.execute(
            select(a.c.id, a.c.label, a.c.flag, a.c.created_at)
            .where(a.c.task_id == task_id, a.c.annotator == annotator)
            .order_by(a.c.id.desc())
        ).all()
        answer = next((r for r in answers if r.flag in (None, "ambiguous")), None)
        if task.status != "done" or answer is None:
            raise ConflictError(f"task {task_id} has no answer to undo")
        if window == 0 or now - aware(answer.created_at) > timedelta(seconds=window):
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

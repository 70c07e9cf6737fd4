"""Recording human work: annotations, the decisions they lead to, the audit trail.

An item at the annotator tier is decided once ``tasks.overlap`` distinct people answered it: by
majority, a tie escalating it to the reviewer tier. With dynamic overlap (``quality.max_overlap``)
the project's aggregation gives the answers a posterior instead: under ``min_posterior`` the item
goes to one more person, and to a reviewer once ``max_overlap`` people could not settle it. Gold
questions are scored, never decided. A reviewer's or expert's answer decides alone
(source ``adjudicated``). An answer flagged ``ambiguous`` escalates the item to the reviewer tier.
A person may :func:`retract` their last answer while nobody has built on it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, or_, select
from sqlalchemy.exc import IntegrityError

from labelloop.errors import ConfigError, ConflictError, NotFoundError
from labelloop.loop.aggregating import label_key
from labelloop.loop.gold import GoldFeedback, check_gold_answer
from labelloop.loop.labelcodec import normalise_label
from labelloop.store import tables as t
from labelloop.store.events import append_event

if TYPE_CHECKING:
    from labelloop.loop.project import Project

FLAGS = ("ambiguous",)


@dataclass(frozen=True)
class AnnotationResult:
    """The stored annotation; ``created`` is False when a retry with the same key found it.

    ``decided`` says the item got its final label, ``escalated`` that it went up a tier."""

    annotation_id: int
    item_id: int
    created: bool
    round_id: int | None
    decided: bool = False
    escalated: bool = False
    gold_feedback: GoldFeedback | None = None


def annotate(
    project: Project,
    item_id: int,
    label: Any,
    *,
    annotator: str,
    task_id: int | None = None,
    client_key: str | None = None,
    flag: str | None = None,
) -> AnnotationResult:
    """Store ``annotator``'s answer under the current guideline version and decide if it can.

    Idempotent on ``client_key``: a retry returns the first annotation and stores nothing. A late
    answer on an expired lease is kept (the work was done). A task already answered is not
    answered twice: the second answer is refused unless it is a retry.
    """
    if flag is not None and flag not in FLAGS:
        raise ConfigError(f"flag: {flag!r} is not one of {', '.join(FLAGS)}")
    if flag is None or label is not None:
        label = normalise_label(project.config, label)
    if client_key is not None:
        found = _by_key(project, client_key)
        if found is not None:
            return found
    if project.config.max_overlap() > project.config.tasks.overlap:
        project.aggregator().refresh()  # a refit, when one is due, outside the write lock
    try:
        with project.writer.begin() as conn:
            return _record(conn, project, item_id, label, annotator, task_id, client_key, flag)
    except IntegrityError:
        if client_key is None:
            raise
        found = _by_key(project, client_key)  # a concurrent retry won the race
        if found is None:
            raise
        return found


def _record(
    conn: Connection,
    project: Project,
    item_id: int,
    label: Any,
    annotator: str,
    task_id: int | None,
    client_key: str | None,
    flag: str | None,
) -> AnnotationResult:
    i, tk = t.items, t.tasks
    item = conn.execute(
        select(
            i.c.id,
            i.c.round_id,
            i.c.tier,
            i.c.status,
            i.c.wanted,
            i.c.is_gold,
            i.c.given_label,
            i.c.gold_note,
        ).where(i.c.id == item_id, i.c.project_id == project.id)
    ).first()
    if item is None:
        raise NotFoundError(f"item {item_id} is not in project {project.name!r}")
    # The library trusts its caller with any task id; the server lets people submit only their
    # own leases. Without an id, the person's latest lease on the item is used.
    where = [tk.c.id == task_id] if task_id is not None else [tk.c.assignee == annotator]
    task = conn.execute(
        select(tk.c.id, tk.c.tier, tk.c.status)
        .where(tk.c.item_id == item_id, *where)
        .order_by(tk.c.id.desc())
        .limit(1)
    ).first()
    if task_id is not None and task is None:
        raise NotFoundError(f"task {task_id} is not a task of item {item_id}")
    if task_id is not None and task is not None and task.status in ("done", "skipped"):
        raise ConflictError(f"task {task_id} was already {task.status}")
    tier = task.tier if task is not None else (item.tier or "annotator")
    version = t.latest_version(conn, t.guidelines, project.id)
    annotation_id = t.inserted_id(
        conn.execute(
            t.annotations.insert().values(
                project_id=project.id,
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
            tk.update().where(tk.c.id == task.id).values(status="done", done_at=t.utcnow())
        )
        if task.status == "expired":  # its place was given back; it is taken again
            conn.execute(i.update().where(i.c.id == item_id).values(assigned=i.c.assigned + 1))
    append_event(
        conn,
        actor=annotator,
        action="annotation.create",
        project_id=project.id,
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
    decided = escalated = False
    if item.is_gold:
        feedback = None
        if flag is None:
            feedback = check_gold_answer(
                conn, project, item=item, label=label, annotator=annotator, now=t.utcnow()
            )
        return AnnotationResult(annotation_id, item_id, True, None, gold_feedback=feedback)
    if flag == "ambiguous":
        escalated = _escalate(conn, project, item_id, annotator, "flagged ambiguous")
    elif tier != "annotator" or item.status != "new":
        source = "adjudicated" if tier != "annotator" else "human"
        decided = _decide(conn, project, item_id, label, source, annotator, version)
    else:
        decided, escalated = _aggregate(conn, project, item, annotator, version)
    return AnnotationResult(annotation_id, item_id, True, item.round_id, decided, escalated)


def _aggregate(
    conn: Connection, project: Project, item: Any, annotator: str, version: int
) -> tuple[bool, bool]:
    """Decide, wait for more answers, ask one more person, or escalate; (decided, escalated)."""
    votes = _votes(conn, item.id)
    if len(votes) < (item.wanted or project.config.tasks.overlap):
        return False, False
    if project.config.max_overlap() == project.config.tasks.overlap:
        (top, count), *rest = Counter(votes.values()).most_common()
        if rest and rest[0][1] == count:
            return False, _escalate(conn, project, item.id, annotator, "annotators disagree")
        by = annotator if len(votes) == 1 else f"majority of {len(votes)}"
        return _decide(conn, project, item.id, _unkey(top), "human", by, version), False
    top, posterior = project.aggregator().posterior(votes)
    if posterior >= project.config.min_posterior():
        by = (
            annotator
            if len(votes) == 1
            else f"{project.config.quality.aggregation} of {len(votes)}"
        )
        return _decide(conn, project, item.id, _unkey(top), "human", by, version), False
    if len(votes) < project.config.max_overlap():
        _ask_one_more(conn, project, item.id, len(votes) + 1, posterior)
        return False, False
    reason = f"posterior {posterior:.3f} after {len(votes)} answers"
    return False, _escalate(conn, project, item.id, annotator, reason)


def _ask_one_more(
    conn: Connection, project: Project, item_id: int, wanted: int, posterior: float
) -> None:
    conn.execute(t.items.update().where(t.items.c.id == item_id).values(wanted=wanted))
    append_event(
        conn,
        actor="labelloop",
        action="item.more_answers",
        project_id=project.id,
        payload={"item_id": item_id, "wanted": wanted, "posterior": round(posterior, 6)},
    )


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


def _unkey(key: str) -> Any:
    return key[1:] if key.startswith("=") else (key.split("|") if key else [])


def _decide(
    conn: Connection,
    project: Project,
    item_id: int,
    label: Any,
    source: str,
    decided_by: str,
    version: int,
) -> bool:
    conn.execute(t.final_labels.delete().where(t.final_labels.c.item_id == item_id))
    conn.execute(
        t.final_labels.insert().values(
            item_id=item_id,
            project_id=project.id,
            label=label,
            source=source,
            decided_by=decided_by,
            guideline_version=version,
        )
    )
    conn.execute(t.items.update().where(t.items.c.id == item_id).values(status="labelled"))
    return True


def _escalate(conn: Connection, project: Project, item_id: int, actor: str, reason: str) -> bool:
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
        project_id=project.id,
        payload={"item_id": item_id, "tier": "reviewer", "reason": reason},
    )
    return True


def _by_key(project: Project, client_key: str) -> AnnotationResult | None:
    with project.engine.connect() as conn:
        row = conn.execute(
            select(t.annotations.c.id, t.annotations.c.item_id).where(
                t.annotations.c.client_key == client_key
            )
        ).first()
    return None if row is None else AnnotationResult(row.id, row.item_id, False, None)


def retract(project: Project, task_id: int, *, annotator: str) -> datetime:
    """Undo ``annotator``'s answer to ``task_id``: the answer is kept but marked retracted, a
    decision it led to is withdrawn, and the task is leased to them again (returns the new lease
    end). Refused once it cannot be undone alone: someone answered the item since, it was
    escalated, or it was an audit answer."""
    a, tk, i = t.annotations, t.tasks, t.items
    now = t.utcnow()
    with project.writer.begin() as conn:
        task = conn.execute(
            select(tk.c.id, tk.c.item_id, tk.c.tier, tk.c.status).where(
                tk.c.id == task_id, tk.c.project_id == project.id, tk.c.assignee == annotator
            )
        ).first()
        if task is None:
            raise NotFoundError(f"task {task_id} is not {annotator!r}'s")
        answer = conn.execute(
            select(a.c.id)
            .where(
                a.c.task_id == task_id,
                a.c.annotator == annotator,
                or_(a.c.flag.is_(None), a.c.flag != "retracted"),
            )
            .order_by(a.c.id.desc())
            .limit(1)
        ).first()
        if task.status != "done" or answer is None:
            raise ConflictError(f"task {task_id} has no answer to undo")
        item = conn.execute(
            select(i.c.tier, i.c.status, i.c.round_id, i.c.is_gold).where(i.c.id == task.item_id)
        ).one()
        later = conn.execute(
            select(a.c.id).where(a.c.item_id == task.item_id, a.c.id > answer.id).limit(1)
        ).first()
        if later is not None:
            raise ConflictError(
                "someone has answered this item since: ask a reviewer to correct it"
            )
        if item.round_id is not None:
            raise ConflictError("an audit answer cannot be undone: ask a reviewer to correct it")
        if (item.tier or "annotator") != task.tier:
            raise ConflictError("the item was escalated since: ask a reviewer to correct it")
        conn.execute(a.update().where(a.c.id == answer.id).values(flag="retracted"))
        if item.status == "labelled" and not item.is_gold:
            conn.execute(t.final_labels.delete().where(t.final_labels.c.item_id == task.item_id))
            conn.execute(i.update().where(i.c.id == task.item_id).values(status="new"))
        lease_end = now + timedelta(seconds=project.config.tasks.lease_seconds)
        conn.execute(
            tk.update()
            .where(tk.c.id == task_id)
            .values(status="open", done_at=None, lease_expires_at=lease_end)
        )
        append_event(
            conn,
            actor=annotator,
            action="annotation.retract",
            project_id=project.id,
            payload={"task_id": task_id, "item_id": task.item_id, "annotation_id": answer.id},
        )
    return lease_end

"""Red-team cases on the work flow the trust issue did not list: skips and lease expiry racing
each other and submits, and skipped gold questions coming back early (which tells them apart)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from labelloop.errors import ConflictError
from labelloop.loop.project import Project
from labelloop.store import tables as t
from races import race


def _import_gold(project: Project, tmp_path: Path, n: int) -> None:
    """``n`` gold questions whose answer is "a"."""
    gold = tmp_path / "gold.jsonl"
    rows = [{"id": f"g{i}", "text": f"gold {i}", "label": "a"} for i in range(n)]
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows))
    project.import_file(gold, gold=True)


def _miscounted(project: Project) -> dict[int, tuple[int, int]]:
    """Pool items whose ``assigned`` counter differs from their open and answered tasks:
    item id -> (counter, tasks)."""
    i, tk = t.items, t.tasks
    with project.engine.connect() as conn:
        held = dict(
            conn.execute(
                select(tk.c.item_id, func.count())
                .where(tk.c.project_id == project.id, tk.c.status.in_(("open", "done")))
                .group_by(tk.c.item_id)
            ).all()
        )
        items = conn.execute(
            select(i.c.id, i.c.assigned).where(i.c.project_id == project.id, ~i.c.is_gold)
        ).all()
    return {r.id: (r.assigned, held.get(r.id, 0)) for r in items if r.assigned != held.get(r.id, 0)}


def _waiting(project: Project) -> int:
    """Pool items still waiting for an answer."""
    i = t.items
    with project.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(i.c.project_id == project.id, i.c.status == "new")
            ).scalar_one()
        )


def test_concurrent_skips_of_one_task_give_its_place_back_once(text_project) -> None:
    project = text_project(tasks={"overlap": 2})
    (task,) = project.next_tasks(1, annotator="ann")
    race([lambda: project.skip_task(task.id, annotator="ann") for _ in range(8)])
    assert _miscounted(project) == {}


def test_a_skip_racing_a_submit_leaves_one_consistent_outcome(text_project) -> None:
    project = text_project(tasks={"overlap": 2})
    for _ in range(5):
        (task,) = project.next_tasks(1, annotator="ann")
        race(
            [
                lambda task=task: project.skip_task(task.id, annotator="ann"),
                lambda task=task: project.annotate(
                    task.item_id, "a", annotator="ann", task_id=task.id
                ),
            ]
        )
        with project.engine.connect() as conn:
            status = conn.execute(
                select(t.tasks.c.status).where(t.tasks.c.id == task.id)
            ).scalar_one()
            answers = conn.execute(
                select(func.count()).where(t.annotations.c.task_id == task.id)
            ).scalar_one()
        assert (status, answers) in (("done", 1), ("skipped", 0))
    assert _miscounted(project) == {}


def test_concurrent_hand_outs_expire_a_lease_once(text_project) -> None:
    project = text_project(n_items=30, tasks={"overlap": 3})
    past = t.utcnow() - timedelta(hours=2)
    for k in range(3):
        project.next_tasks(10, annotator=f"old{k}", now=past)  # every lease has expired
    people = [f"new{k}" for k in range(6)]
    race([lambda who=who: project.next_tasks(5, annotator=who) for who in people])
    assert _miscounted(project) == {}


def test_a_skipped_gold_question_comes_back_only_after_everything_else(
    text_project, tmp_path
) -> None:
    project = text_project(n_items=40, quality={"gold_rate": 0.3})
    _import_gold(project, tmp_path, 20)
    skipped = set()
    for task in project.next_tasks(10, annotator="ann"):
        project.skip_task(task.id, annotator="ann")
        skipped.add(task.data["text"])
    # While items the person never skipped are left, no skipped one comes back: whether a
    # skipped task returns early must not tell a gold question from an ordinary item.
    for _ in range(6):
        for task in project.next_tasks(5, annotator="ann"):
            assert task.data["text"] not in skipped
            project.annotate(task.item_id, "a", annotator="ann", task_id=task.id)


def test_gold_questions_are_not_handed_out_alone_once_the_queue_is_dry(
    text_project, tmp_path
) -> None:
    project = text_project(n_items=12, quality={"gold_rate": 0.5})
    _import_gold(project, tmp_path, 60)
    while _waiting(project):
        for task in project.next_tasks(5, annotator="ann"):
            project.annotate(task.item_id, "a", annotator="ann", task_id=task.id)
    # Nothing but gold questions is left for "ann": a task handed out now would be one for sure.
    assert [task.kind for task in project.next_tasks(5, annotator="ann")] == []


def test_concurrent_hand_outs_to_one_person_keep_the_lease_cap(text_project) -> None:
    project = text_project(n_items=80)

    def lease() -> list[Any]:
        return project.next_tasks(5, annotator="greedy", max_leases=5)

    race([lease for _ in range(8)])
    with project.engine.connect() as conn:
        held = conn.execute(
            select(func.count()).where(t.tasks.c.assignee == "greedy", t.tasks.c.status == "open")
        ).scalar_one()
    assert held <= 5


def test_answering_an_old_lease_and_a_new_one_on_one_item_does_not_strand_it(text_project) -> None:
    project = text_project(n_items=1, tasks={"overlap": 2})
    (old,) = project.next_tasks(1, annotator="ann", now=t.utcnow() - timedelta(hours=2))
    (new,) = project.next_tasks(1, annotator="ann")  # the lapsed lease's item comes back
    assert new.item_id == old.item_id
    # Their place is the new lease: an answer on both would count once but fill two places.
    with pytest.raises(ConflictError, match="went to someone else"):
        project.annotate(old.item_id, "a", annotator="ann", task_id=old.id)
    project.annotate(new.item_id, "a", annotator="ann", task_id=new.id)
    assert len(project.next_tasks(1, annotator="other")) == 1


def test_undoing_an_ambiguous_flag_does_not_tell_gold_questions_apart(
    text_project, tmp_path
) -> None:
    project = text_project(n_items=20, quality={"gold_rate": 0.5})
    _import_gold(project, tmp_path, 10)
    refusals = {}
    while len(refusals) < 2:
        for task in project.next_tasks(4, annotator="ann"):
            project.annotate(task.item_id, None, annotator="ann", task_id=task.id, flag="ambiguous")
            try:
                project.retract(task.id, annotator="ann")
                refusals[task.kind == "gold"] = "undone"
            except ConflictError as exc:
                refusals[task.kind == "gold"] = str(exc)
    # Flagging an ordinary item sends it to a reviewer, so its flag cannot be undone; a gold
    # question's must not be either, or "flag, then U" would tell which items are gold.
    assert refusals[True] == refusals[False]

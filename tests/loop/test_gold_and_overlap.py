"""Gold questions (mixed in, scored, feedback, flagging) and dynamic overlap."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from labelloop.accounts.memberships import get_membership
from labelloop.accounts.users import create_user
from labelloop.errors import InputFileError
from labelloop.loop.project import Project
from labelloop.store import tables as t

GUIDELINES = "Say a when the item is about apples.\n\nSay b for anything about bananas."


def _gold(tmp_path: Path, project: Project, n: int = 10) -> None:
    gold = tmp_path / "gold.jsonl"
    rows = [{"id": f"g{i}", "text": f"gold {i}", "label": "ab"[i % 2]} for i in range(n)]
    rows[0]["gold_note"] = "Apples are a, even green ones."
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows))
    project.import_file(gold, gold=True)


def test_gold_questions_are_mixed_in_at_the_rate_and_never_become_labels(
    text_project, tmp_path
) -> None:
    project = text_project(n_items=200, guidelines=GUIDELINES, quality={"gold_rate": 0.2})
    _gold(tmp_path, project, n=40)
    assert project.status()["items"] == 200, "gold questions are not part of the pool"
    tasks = project.next_tasks(100, annotator="ann")
    kinds = Counter(task.kind for task in tasks)
    assert 8 <= kinds["gold"] <= 35
    assert all("gold_note" not in task.data for task in tasks)
    positions = [n for n, task in enumerate(tasks) if task.kind == "gold"]
    assert positions[-1] > len(tasks) // 2, "gold is spread through the batch, not first"
    for task in tasks:
        project.annotate(task.item_id, "a", annotator="ann", task_id=task.id)
    with project.engine.connect() as conn:
        gold_finals = conn.execute(
            select(t.final_labels.c.item_id)
            .join(t.items, t.items.c.id == t.final_labels.c.item_id)
            .where(t.items.c.is_gold)
        ).all()
    assert gold_finals == []
    again = project.next_tasks(100, annotator="ann")
    assert not {task.item_id for task in again} & {task.item_id for task in tasks}


def test_a_wrong_gold_answer_shows_the_right_label_and_the_guideline(
    text_project, tmp_path
) -> None:
    project = text_project(n_items=30, guidelines=GUIDELINES, quality={"gold_rate": 0.5})
    _gold(tmp_path, project)
    answered = 0
    while answered < 10:
        for task in project.next_tasks(5, annotator="ann"):
            if task.kind != "gold":
                continue
            answered += 1
            with project.engine.connect() as conn:
                key, truth = conn.execute(
                    select(t.items.c.key, t.items.c.given_label).where(t.items.c.id == task.item_id)
                ).one()
            wrong = "b" if truth == "a" else "a"
            right = project.annotate(task.item_id, truth, annotator="bob")
            assert right.gold_feedback is None
            result = project.annotate(task.item_id, wrong, annotator="ann", task_id=task.id)
            assert result.gold_feedback.correct_label == truth
            expected = {"a": "Say a when", "b": "Say b for"}[truth]
            if key == "id:g0":
                expected = "Apples are a, even green ones."
            assert result.gold_feedback.passage.startswith(expected)


def test_an_annotator_under_the_floor_is_flagged_and_loses_their_leases(
    text_project, tmp_path
) -> None:
    project = text_project(
        n_items=100,
        guidelines=GUIDELINES,
        quality={"gold_rate": 0.5, "min_annotator_accuracy": 0.8, "min_gold_answers": 4},
    )
    _gold(tmp_path, project, n=20)
    create_user(project.engine, "ann", "long enough pw", "annotator")
    project.add_member("ann")
    flagged = False
    for _ in range(20):
        tasks = project.next_tasks(4, annotator="ann")
        gold = [task for task in tasks if task.kind == "gold"]
        if not gold:
            continue
        project.annotate(gold[0].item_id, "a", annotator="ann", task_id=gold[0].id)
        member = get_membership(project.engine, project_id=project.id, username="ann")
        if member.flagged_at is not None:
            flagged = True
            break
    assert flagged, "half the gold answers are b: an always-a annotator falls under 0.8"
    assert "gold accuracy" in member.flag_reason
    with project.engine.connect() as conn:
        still_open = conn.execute(
            select(t.tasks.c.id).where(t.tasks.c.assignee == "ann", t.tasks.c.status == "open")
        ).all()
    assert still_open == []


def test_gold_import_needs_answers(text_project, tmp_path) -> None:
    project = text_project(n_items=30, guidelines=GUIDELINES)
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "g1", "text": "x", "label": "a"}\n{"id": "g2", "text": "y"}\n')
    with pytest.raises(InputFileError) as info:
        project.import_file(gold, gold=True)
    assert "gold.jsonl:2" in str(info.value) and "needs its answer" in str(info.value)


@pytest.mark.parametrize("method", ["majority", "dawid-skene"])
def test_dynamic_overlap_asks_one_more_then_escalates(text_project, method) -> None:
    project = text_project(
        n_items=12,
        guidelines=GUIDELINES,
        tasks={"overlap": 2},
        quality={"max_overlap": 3, "aggregation": method, "min_posterior": 0.9},
    )
    item = project.next_tasks(1, annotator="p1")[0]
    second = next(x for x in project.next_tasks(20, annotator="p2") if x.item_id == item.item_id)
    project.annotate(item.item_id, "a", annotator="p1", task_id=item.id)
    result = project.annotate(item.item_id, "b", annotator="p2", task_id=second.id)
    assert not result.decided and not result.escalated
    third = [x for x in project.next_tasks(20, annotator="p3") if x.item_id == item.item_id]
    assert third, "a split vote asks a third person"
    fourth = [x for x in project.next_tasks(20, annotator="p4") if x.item_id == item.item_id]
    assert fourth == [], "no more than one extra person at a time"
    last = project.annotate(item.item_id, "a", annotator="p3", task_id=third[0].id)
    assert last.escalated, "2 of 3 is under the 0.9 posterior and the overlap is used up"
    assert project.status()["queue"]["reviewer"] == 1


def test_unanimous_answers_settle_without_extra_people(text_project) -> None:
    project = text_project(
        n_items=12, guidelines=GUIDELINES, tasks={"overlap": 2}, quality={"max_overlap": 4}
    )
    item = project.next_tasks(1, annotator="p1")[0]
    second = next(x for x in project.next_tasks(20, annotator="p2") if x.item_id == item.item_id)
    project.annotate(item.item_id, "a", annotator="p1", task_id=item.id)
    assert project.annotate(item.item_id, "a", annotator="p2", task_id=second.id).decided


def test_the_answers_table_is_read_once_until_an_answer_changes(text_project):
    project = text_project(n_items=30, guidelines=GUIDELINES, tasks={"overlap": 2})
    tasks = project.next_tasks(2, annotator="ann")
    project.annotate(tasks[0].item_id, "a", annotator="ann", task_id=tasks[0].id)
    with project.engine.connect() as conn:
        first = project.answers.table(conn, project.context)
        assert (
            project.answers.table(conn, project.context) is first
        )  # nothing changed: the same table
    assert first == ((tasks[0].item_id,), ("ann",), ('"a"',))
    project.annotate(tasks[1].item_id, "b", annotator="ann", task_id=tasks[1].id)
    with project.engine.connect() as conn:
        second = project.answers.table(conn, project.context)
    assert second[0] == (tasks[0].item_id, tasks[1].item_id) and second[2] == ('"a"', '"b"')
    project.retract(tasks[1].id, annotator="ann")
    with project.engine.connect() as conn:
        assert (
            project.answers.table(conn, project.context) == first
        )  # a retracted answer leaves the table


@pytest.mark.parametrize(
    ("method", "decided"), [("majority", False), ("one-coin", True), ("dawid-skene", True)]
)
def test_fixed_overlap_decides_by_the_configured_aggregation(text_project, method, decided) -> None:
    """Two people split on an item: a vote is tied, but a fit that learned one of them is
    reliable and the other contradicts the reliable ones settles it."""
    project = text_project(
        n_items=40, guidelines=GUIDELINES, tasks={"overlap": 2}, quality={"aggregation": method}
    )
    ids = [task.item_id for task in project.next_tasks(21, annotator="x")]
    for n, item in enumerate(ids[:10]):  # two reliable people agree
        truth = "ab"[n % 2]
        project.annotate(item, truth, annotator="good1")
        project.annotate(item, truth, annotator="good2")
    for n, item in enumerate(ids[10:20]):  # one of them against someone who says the opposite
        truth = "ab"[n % 2]
        project.annotate(item, truth, annotator="good2")
        project.annotate(item, "ba"[n % 2], annotator="bad")
    project.annotate(ids[20], "a", annotator="good1")
    result = project.annotate(ids[20], "b", annotator="bad")
    assert result.decided is decided and result.escalated is not decided
    if decided:
        with project.engine.connect() as conn:
            final = conn.execute(
                select(t.final_labels.c.label, t.final_labels.c.decided_by).where(
                    t.final_labels.c.item_id == ids[20]
                )
            ).one()
        assert final.label == "a" and final.decided_by == f"{method} of 2"

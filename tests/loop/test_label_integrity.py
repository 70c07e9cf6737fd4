"""What a careless or dishonest annotator cannot do to the labels: rig gold scores, undo forever,
lose items to a reload, override someone's label late, or corrupt labels through their names."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from labelloop.config import parse_config
from labelloop.errors import ConfigError, ConflictError, InputFileError
from labelloop.loop.gold import gold_scores
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings
from labelloop.store import tables as t


def _gold(tmp_path: Path, project: Project, n: int = 10) -> None:
    gold = tmp_path / "gold.jsonl"
    rows = [{"id": f"g{i}", "text": f"gold {i}", "label": "a"} for i in range(n)]
    gold.write_text("".join(json.dumps(r) + "\n" for r in rows))
    project.import_file(gold, gold=True)


def _gold_task(project: Project, annotator: str) -> Any:
    for _ in range(50):
        for task in project.next_tasks(5, annotator=annotator):
            if task.kind == "gold":
                return task
    raise AssertionError("no gold question handed out")


def test_gold_is_scored_by_the_first_answer_and_feedback_ends_undo(text_project, tmp_path) -> None:
    project = text_project(quality={"gold_rate": 0.5})
    _gold(tmp_path, project)
    task = _gold_task(project, "ann")
    wrong = project.annotate(task.item_id, "b", annotator="ann", task_id=task.id)
    assert wrong.gold_feedback is not None and wrong.gold_feedback.correct_label == "a"
    with pytest.raises(ConflictError, match="can no longer be undone"):
        project.retract(task.id, annotator="ann")
    # A right answer shows no feedback, so undoing it looks like undoing any answer; the score
    # still keeps the first answer whatever comes after.
    right = _gold_task(project, "bob")
    project.annotate(right.item_id, "a", annotator="bob", task_id=right.id)
    project.retract(right.id, annotator="bob")
    project.annotate(right.item_id, "b", annotator="bob", task_id=right.id)
    with project.engine.connect() as conn:
        scores = gold_scores(conn, project)
    assert scores["ann"] == (0, 1)
    assert scores["bob"] == (1, 1)


def test_undo_has_a_window_and_works_once(text_project) -> None:
    project = text_project(tasks={"undo_seconds": 30})
    first, second = project.next_tasks(2, annotator="ann")
    project.annotate(first.item_id, "a", annotator="ann", task_id=first.id)
    late = t.utcnow() + timedelta(seconds=31)
    with pytest.raises(ConflictError, match="within 30 s"):
        project.retract(first.id, annotator="ann", now=late)
    project.annotate(second.item_id, "a", annotator="ann", task_id=second.id)
    project.retract(second.id, annotator="ann")
    project.annotate(second.item_id, "b", annotator="ann", task_id=second.id)
    with pytest.raises(ConflictError, match="undone once"):
        project.retract(second.id, annotator="ann")


def test_undo_can_be_switched_off(text_project) -> None:
    project = text_project(tasks={"undo_seconds": 0})
    (task,) = project.next_tasks(1, annotator="ann")
    project.annotate(task.item_id, "a", annotator="ann", task_id=task.id)
    with pytest.raises(ConflictError, match="within 0 s"):
        project.retract(task.id, annotator="ann")


def test_a_reload_gets_back_what_the_person_holds(text_project) -> None:
    project = text_project(n_items=12)
    held = project.next_tasks(3, annotator="solo")
    again = project.next_tasks(3, annotator="solo", resume=True)
    assert [x.id for x in again] == [x.id for x in held]
    more = project.next_tasks(5, annotator="solo", resume=True)
    assert [x.id for x in more[:3]] == [x.id for x in held]
    assert len({x.item_id for x in more}) == 5


def test_a_solo_annotator_can_finish_every_item(text_project) -> None:
    """Skipping never withholds an item for good from the only person who can do it."""
    project = text_project(n_items=12)
    skipped = project.next_tasks(3, annotator="solo")
    for task in skipped:
        project.skip_task(task.id, annotator="solo")
    answered = set()
    while tasks := project.next_tasks(4, annotator="solo"):
        for task in tasks:
            project.annotate(task.item_id, "a", annotator="solo", task_id=task.id)
            answered.add(task.item_id)
    assert {task.item_id for task in skipped} <= answered
    assert project.status()["by_status"].get("new", 0) == 0


def test_the_lease_cap_limits_what_one_person_holds(text_project) -> None:
    project = text_project(n_items=30)
    assert len(project.next_tasks(100, annotator="greedy", max_leases=7)) == 7
    with pytest.raises(ConflictError, match="hold 7 open tasks"):
        project.next_tasks(1, annotator="greedy", max_leases=7)
    assert len(project.next_tasks(100, annotator="other", max_leases=7)) == 7


@pytest.mark.parametrize("name", ["=cats", "cats|dogs", "+1", "@here", '"quoted"', "[x]"])
def test_label_names_round_trip_through_answers_and_decisions(text_project, close, name) -> None:
    multi = "|" not in name  # '|' is refused in multi-label projects (below)
    project = text_project(labels=[name, "other"], multi_label=multi, tasks={"overlap": 2})
    close(project)
    label = [name] if multi else name
    ann = project.next_tasks(1, annotator="ann")[0]
    bob = next(x for x in project.next_tasks(5, annotator="bob") if x.item_id == ann.item_id)
    project.annotate(ann.item_id, label, annotator="ann", task_id=ann.id)
    assert project.annotate(bob.item_id, label, annotator="bob", task_id=bob.id).decided
    with project.engine.connect() as conn:
        final = conn.execute(
            select(t.final_labels.c.label).where(t.final_labels.c.item_id == ann.item_id)
        ).scalar()
    assert final == label


@pytest.mark.parametrize(
    ("labels", "multi", "problem"),
    [
        (["cats|dogs", "x"], True, "must not hold '|'"),
        ([" padded", "x"], False, "leading or trailing"),
        (["tab\tbed", "x"], False, "control characters"),
        (["\ud83d", "x"], False, "lone surrogates"),
    ],
)
def test_label_names_that_cannot_round_trip_are_refused(labels, multi, problem) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_config({"name": "p", "labels": labels, "multi_label": multi})


def test_items_that_cannot_be_served_are_rejected_at_import(text_project, tmp_path) -> None:
    project = text_project(n_items=2)
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(300):
        node["x"] = {}
        node = node["x"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"id": "ok", "text": "fine"})
        + "\n"
        + '{"id": "surrogate", "text": "broken \\ud83d here"}\n'
        + json.dumps({"id": "deep", "text": "deep", "meta": deep})
        + "\n"
        + '{"id": "key", "text": "k", "meta": {"\\udc00": 1}}\n'
    )
    with pytest.raises(InputFileError) as info:
        project.import_file(bad)
    found = {(r.line, r.field): r.reason for r in info.value.rejects}
    assert set(found) == {(2, "text"), (3, "meta"), (4, "meta")}
    assert "lone surrogate" in found[2, "text"]
    assert "deeper than" in found[3, "meta"]
    assert project.status()["items"] == 2, "a bad file imports nothing"


def test_no_annotator_task_carries_a_suggestion_while_holdout_items_wait(
    tmp_path, store_url, close
) -> None:
    """Holdout and audit items are shown without the model's suggestion; so that its absence
    does not give them away, nobody's tasks carry one while such items wait."""
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    config = {
        "name": "spam",
        "labels": ["ham", "spam"],
        "model": {"kind": "plugin", "plugin": "test_loop_models:KeywordModel"},
        "routing": {"holdout_size": 10},
        "retrain": {"every": 1000},
    }
    project = Project.create(config, engine=connect(settings), settings=settings, retrain="off")
    close(project)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        "".join(
            json.dumps({"id": i, "text": "win a prize" if i % 3 == 0 else "meeting"}) + "\n"
            for i in range(60)
        )
    )
    project.import_file(rows)
    for task in project.next_tasks(30, annotator="a"):
        truth = "spam" if "win" in task.data["text"] else "ham"
        project.annotate(task.item_id, truth, annotator="a", task_id=task.id)
    assert project.train().promoted
    (seen,) = project.next_tasks(1, annotator="b")
    assert seen.suggestion is not None, "the holdout is done: suggestions are back"
    with project.writer.begin() as conn:  # one more holdout item waits
        waiting = (
            conn.execute(
                select(t.items.c.id)
                .where(t.items.c.status == "new", t.items.c.id != seen.item_id)
                .order_by(t.items.c.id)
            )
            .scalars()
            .first()
        )
        conn.execute(
            t.items.update()
            .where(t.items.c.id == waiting)
            .values(is_holdout=True, priority=1e9 + 0.5)
        )
    tasks = project.next_tasks(5, annotator="c")
    assert {task.kind for task in tasks} == {"holdout", "active"}
    assert all(task.suggestion is None and task.confidence is None for task in tasks)

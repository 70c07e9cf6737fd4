"""Task orchestration: leases, overlap to distinct people, expiry, skip, escalation, concurrency."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from labelloop.errors import ConflictError
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings
from labelloop.store import tables as t


def _project(tmp_path: Path, store_url: str, n_items: int = 40, **tasks) -> Project:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    config = {
        "name": "q",
        "labels": ["a", "b"],
        "routing": {"holdout_size": 10},
        "retrain": {"every": 1000},
        "tasks": tasks,
    }
    project = Project.create(
        config, engine=connect(settings), settings=settings, retrain="off", random_state=0
    )
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(json.dumps({"id": i, "text": f"item {i}"}) + "\n" for i in range(n_items))
    )
    project.import_file(items)
    return project


def test_overlap_hands_each_item_to_distinct_people(tmp_path, store_url, close) -> None:
    project = _project(tmp_path, store_url, n_items=6, overlap=3)
    close(project)
    seen: Counter[int] = Counter()
    for person in ["ann", "bob", "cat", "dan"]:
        tasks = project.next_tasks(10, annotator=person)
        assert len({task.item_id for task in tasks}) == len(tasks)
        seen.update(task.item_id for task in tasks)
    assert set(seen.values()) == {3}, "every item went to exactly three people"


def test_an_item_is_decided_by_majority_and_a_tie_escalates(tmp_path, store_url, close) -> None:
    project = _project(tmp_path, store_url, n_items=2, overlap=2)
    close(project)
    ann, bob = project.next_tasks(2, annotator="ann"), project.next_tasks(2, annotator="bob")
    first = {t.item_id: t for t in ann}
    agree = ann[0].item_id
    for task, label in [(first[agree], "a"), (ann[1], "a")]:
        assert not project.annotate(task.item_id, label, annotator="ann", task_id=task.id).decided
    results = {
        task.item_id: project.annotate(
            task.item_id, "a" if task.item_id == agree else "b", annotator="bob", task_id=task.id
        )
        for task in bob
    }
    assert results[agree].decided
    other = next(i for i in results if i != agree)
    assert results[other].escalated
    review = project.next_tasks(5, tier="reviewer", annotator="rev")
    assert [task.item_id for task in review] == [other]
    done = project.annotate(other, "b", annotator="rev", task_id=review[0].id)
    assert done.decided
    with project.engine.connect() as conn:
        source = conn.execute(
            select(t.final_labels.c.source).where(t.final_labels.c.item_id == other)
        ).scalar()
    assert source == "adjudicated"


def test_ambiguous_goes_to_the_reviewer_tier(tmp_path, store_url, close) -> None:
    project = _project(tmp_path, store_url, n_items=3)
    close(project)
    task = project.next_tasks(1, annotator="ann")[0]
    result = project.annotate(
        task.item_id, None, annotator="ann", task_id=task.id, flag="ambiguous"
    )
    assert result.escalated and not result.decided
    assert project.status()["queue"]["reviewer"] == 1
    with pytest.raises(ConflictError):
        project.annotate(task.item_id, "a", annotator="ann", task_id=task.id)


def test_a_late_answer_counts_only_while_the_item_has_room(tmp_path, store_url, close) -> None:
    project = _project(tmp_path, store_url, n_items=2, lease_seconds=60)
    close(project)
    first, second = project.next_tasks(2, annotator="ann")
    later = first.lease_expires_at + timedelta(seconds=1)
    again = project.next_tasks(1, annotator="bob", now=later)  # expires both leases
    assert [x.item_id for x in again] == [first.item_id]
    bob = project.annotate(first.item_id, "b", annotator="bob", task_id=again[0].id)
    assert bob.decided
    with pytest.raises(ConflictError, match="went to someone else"):
        project.annotate(first.item_id, "a", annotator="ann", task_id=first.id)
    with project.engine.connect() as conn:
        final = conn.execute(
            select(t.final_labels.c.label).where(t.final_labels.c.item_id == first.item_id)
        ).scalar()
    assert final == "b", "a late answer never overrides"
    late = project.annotate(second.item_id, "a", annotator="ann", task_id=second.id)
    assert late.created and late.decided, "nobody took the item: the late answer counts"


def test_skipped_items_come_back_after_the_others(tmp_path, store_url, close) -> None:
    project = _project(tmp_path, store_url, n_items=2)
    close(project)
    task = project.next_tasks(1, annotator="ann")[0]
    project.skip_task(task.id, annotator="ann")
    other = project.next_tasks(1, annotator="ann")[0]
    assert other.item_id != task.item_id, "the others first"
    assert [x.item_id for x in project.next_tasks(1, annotator="ann")] == [task.item_id]


def test_concurrent_hand_out_never_exceeds_the_overlap(tmp_path, store_url, close) -> None:
    project = _project(tmp_path, store_url, n_items=60, overlap=2)
    close(project)
    errors: list[BaseException] = []

    def work(person: str) -> None:
        try:
            for n in range(200):
                tasks = project.next_tasks(1, annotator=person)
                if not tasks:
                    return
                task = tasks[0]
                key = f"{person}-{task.id}"
                for _ in range(2):  # a client retry must not double the annotation
                    project.annotate(
                        task.item_id,
                        "a" if n % 3 else "b",
                        annotator=person,
                        task_id=task.id,
                        client_key=key,
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"p{k}",)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with project.engine.connect() as conn:
        per_item = conn.execute(
            select(t.tasks.c.item_id, func.count())
            .where(t.tasks.c.tier == "annotator")
            .group_by(t.tasks.c.item_id)
        ).all()
        annotations = conn.execute(select(t.annotations.c.item_id, t.annotations.c.annotator)).all()
    assert max(count for _, count in per_item) <= 2
    assert len(annotations) == len(set(annotations)), "no person answered an item twice"
    assert len(per_item) == 60


def test_retract_withdraws_the_decision_and_leases_the_task_again(
    tmp_path, store_url, close
) -> None:
    project = _project(tmp_path, store_url, n_items=3, overlap=2)
    close(project)
    ann = project.next_tasks(1, annotator="ann")[0]
    bob = next(x for x in project.next_tasks(3, annotator="bob") if x.item_id == ann.item_id)
    project.annotate(ann.item_id, "a", annotator="ann", task_id=ann.id)
    assert project.annotate(bob.item_id, "a", annotator="bob", task_id=bob.id).decided
    with pytest.raises(ConflictError, match="can no longer be undone"):
        project.retract(ann.id, annotator="ann")  # bob answered the item since
    project.retract(bob.id, annotator="bob")
    assert project.status()["label_sources"] == {}
    with pytest.raises(ConflictError, match="no answer to undo"):
        project.retract(bob.id, annotator="bob")
    result = project.annotate(bob.item_id, "b", annotator="bob", task_id=bob.id)
    assert result.escalated, "a 1-1 split now, without the retracted answer"
    with pytest.raises(ConflictError, match="undone once"):
        project.retract(bob.id, annotator="bob")

"""Estimated dataset accuracy, annotator skill, quality gates and certification."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from labelloop.errors import ConflictError
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings
from labelloop.store import tables as t


def _project(tmp_path: Path, store_url: str, target: float = 0.9, **quality) -> Project:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    config = {
        "name": "c",
        "labels": ["a", "b"],
        "guidelines": "a for even, b for odd",
        "routing": {"holdout_size": 10, "target_accuracy": target},
        "retrain": {"every": 1000},
        "quality": quality,
    }
    project = Project.create(
        config, engine=connect(settings), settings=settings, retrain="off", random_state=0
    )
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"id": i, "text": f"item {i}"}) + "\n" for i in range(30)))
    project.import_file(items)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "".join(
            json.dumps({"id": f"g{i}", "text": f"gold {i}", "label": "ab"[i % 2]}) + "\n"
            for i in range(20)
        )
    )
    project.import_file(gold, gold=True)
    return project


def _truth(project: Project, item_id: int) -> str:
    with project.engine.connect() as conn:
        key = conn.execute(select(t.items.c.key).where(t.items.c.id == item_id)).scalar_one()
    return "ab"[int(key.split(":")[1].lstrip("g")) % 2]


def _work(project: Project, annotator: str, wrong_gold: int = 0) -> None:
    missed = 0
    while tasks := project.next_tasks(10, annotator=annotator):
        for task in tasks:
            label = _truth(project, task.item_id)
            if task.kind == "gold" and missed < wrong_gold:
                label, missed = ("b" if label == "a" else "a"), missed + 1
            project.annotate(task.item_id, label, annotator=annotator, task_id=task.id)


def test_gates_name_what_fails_and_a_passing_dataset_is_certified(
    tmp_path, store_url, close
) -> None:
    # A dozen right gold answers bound a person's accuracy only to ~0.73 (95 %, exact).
    project = _project(tmp_path, store_url, target=0.6, gold_rate=0.3, min_gold_answers=3)
    close(project)
    with pytest.raises(ConflictError, match="complete: 30 items still have no final label"):
        project.certify()
    _work(project, "ann")
    gates = {g.name: g for g in project.check_gates()}
    assert gates["holdout"].passed and gates["complete"].passed
    accuracy = project.estimated_accuracy()
    assert accuracy["n_items"] == 30 and accuracy["low"] <= accuracy["estimate"] <= 1.0
    report = {row["annotator"]: row for row in project.annotator_report()}
    ann = report["ann"]
    assert ann["gold_answers"] >= 3 and ann["gold_accuracy"] == 1.0
    assert ann["gold_low"] < 1.0 == ann["gold_high"]
    # Exact interval for n right of n: (alpha/2)^(1/n) at 95 %.
    assert ann["gold_low"] == pytest.approx(0.025 ** (1 / ann["gold_answers"]))
    assert gates["estimated_accuracy"].passed, gates["estimated_accuracy"].detail
    done = project.certify()
    version = project.export(tmp_path / "out.jsonl", fmt="jsonl")
    assert version.provenance["certified"] is True and version.id == done["version_id"]


def test_an_unreliable_annotator_fails_the_gold_and_accuracy_gates(
    tmp_path, store_url, close
) -> None:
    project = _project(
        tmp_path, store_url, gold_rate=0.4, min_gold_answers=3, gates={"min_gold_accuracy": 0.9}
    )
    close(project)
    _work(project, "ann", wrong_gold=4)
    gates = {g.name: g for g in project.check_gates()}
    assert not gates["gold_accuracy"].passed
    assert "gold answers right" in gates["gold_accuracy"].detail
    with pytest.raises(ConflictError, match="gold_accuracy"):
        project.certify()
    version = project.export(tmp_path / "out.jsonl", fmt="jsonl")
    assert version.provenance["certified"] is False


def test_agreement_gate_without_overlap_is_not_measurable(tmp_path, store_url, close) -> None:
    project = _project(tmp_path, store_url, gates={"min_agreement": 0.6})
    close(project)
    _work(project, "ann")
    gate = next(g for g in project.check_gates() if g.name == "agreement")
    assert not gate.passed and "not measurable" in gate.detail


def test_dawid_skene_rates_a_careless_annotator_below_careful_ones(
    tmp_path, store_url, close
) -> None:
    project = _project(tmp_path, store_url)
    close(project)
    with project.writer.begin() as conn:
        conn.execute(t.items.update().where(t.items.c.project_id == project.id).values(wanted=3))
    rng = np.random.default_rng(0)
    for person in ("ann", "bob", "cat"):
        for task in project.next_tasks(30, annotator=person):
            label = _truth(project, task.item_id)
            if person == "cat" and rng.random() < 0.5:
                label = "b" if label == "a" else "a"
            project.annotate(task.item_id, label, annotator=person, task_id=task.id)
    report = {row["annotator"]: row for row in project.annotator_report()}
    assert report["cat"]["ds_accuracy"] < min(report["ann"]["ds_accuracy"], 0.9)
    assert report["cat"]["ds_low"] < report["cat"]["ds_accuracy"] < report["cat"]["ds_high"]

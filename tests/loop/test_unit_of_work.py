"""One answer, one unit of work: ``submit`` returns what happened as values, and only the
person's own task at a tier they still work at can be answered."""

from __future__ import annotations

import json

import pytest

from labelloop.accounts.users import create_user
from labelloop.errors import NotFoundError
from labelloop.loop import submission
from labelloop.loop.outcomes import (
    Decided,
    Escalated,
    GoldScored,
    NeedsMoreAnswers,
    RetrainDue,
)
from labelloop.loop.project import Project

PEOPLE = (("ann1", "annotator"), ("ann2", "annotator"), ("rev", "reviewer"))


def _project(text_project, **config) -> Project:
    """A project of 8 items with two annotators and a reviewer on it."""
    project = text_project(n_items=8, routing={}, **config)
    for name, role in PEOPLE:
        create_user(project.engine, name, role=role, password="a-long-password")
        project.add_member(name)
    return project


def _same_item(project: Project) -> tuple[int, int]:
    first = project.next_tasks(1, annotator="ann1")[0]
    second = next(
        x
        for x in project.next_tasks(8, annotator="ann2", resume=True)
        if x.item_id == first.item_id
    )
    return first.id, second.id


def test_outcomes_say_what_each_answer_led_to(text_project) -> None:
    project = _project(text_project, tasks={"overlap": 2}, retrain={"every": 1})
    one, two = _same_item(project)
    first = project.submit(one, "a", person="ann1")
    assert first.outcomes == (NeedsMoreAnswers(first.item_id, 2),)
    # The step itself tells when a retrain is due; a project that never retrains on its own
    # (retrain="off", as here) does not ask it to count.
    second = submission.submit(project.context, project.votes, two, "a", person="ann2")
    decided = Decided(first.item_id, "a", "human", "majority of 2")
    assert second.outcomes == (decided, RetrainDue(1)) and second.decided

    one, two = _same_item(project)
    project.submit(one, "a", person="ann1")
    split = project.submit(two, "b", person="ann2")
    assert split.outcomes == (Escalated(split.item_id, "reviewer", "annotators disagree"),)


def test_a_retry_with_the_same_key_returns_the_first_answer_and_no_outcomes(text_project) -> None:
    project = _project(text_project)
    task = project.next_tasks(1, annotator="ann1")[0]
    first = project.submit(task.id, "a", person="ann1", client_key="k1")
    retry = project.submit(task.id, "a", person="ann1", client_key="k1")
    assert first.created and first.decided
    assert not retry.created and retry.outcomes == ()
    assert retry.annotation_id == first.annotation_id


def test_gold_answers_are_scored_not_decided(text_project, tmp_path) -> None:
    project = _project(text_project, quality={"gold_rate": 0.5})
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "".join(json.dumps({"id": f"g{n}", "text": "g", "label": "a"}) + "\n" for n in range(6))
    )
    project.import_file(gold, gold=True)
    task = next(x for x in project.next_tasks(8, annotator="ann1") if x.kind == "gold")
    result = project.submit(task.id, "b", person="ann1")
    (scored,) = result.outcomes
    assert isinstance(scored, GoldScored) and scored.feedback.correct_label == "a"
    assert not result.decided


def test_only_ones_own_task_on_a_project_one_is_still_on_can_be_answered(text_project) -> None:
    project = _project(text_project, tasks={"overlap": 2})
    mine = project.next_tasks(1, tier="annotator", annotator="rev")[0]
    theirs = project.next_tasks(1, annotator="ann1")[0]
    with pytest.raises(NotFoundError, match=f"no task {theirs.id} of yours"):
        project.submit(theirs.id, "a", person="rev")
    with pytest.raises(NotFoundError, match="no task 999999 of yours"):
        project.submit(999999, "a", person="rev")
    project.remove_member("ann1", actor="admin")
    with pytest.raises(NotFoundError, match=f"no task {theirs.id} of yours"):
        project.submit(theirs.id, "a", person="ann1")
    assert project.submit(mine.id, "a", person="rev").created


def test_a_project_that_does_not_retrain_is_not_told_a_retrain_is_due(text_project) -> None:
    project = _project(text_project, retrain={"every": 1})
    task = project.next_tasks(1, annotator="ann1")[0]
    result = project.submit(task.id, "a", person="ann1")
    assert result.decided and not any(isinstance(o, RetrainDue) for o in result.outcomes)
    assert project.labels_since_last_model() >= project.config.retrain.every  # it would be due

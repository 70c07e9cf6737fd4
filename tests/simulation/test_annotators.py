"""Simulated annotators and the replay of real crowd answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelloop.errors import InputFileError
from labelloop.simulation.annotators import CrowdReplay, SimulatedAnnotator, Team

LABELS = ("a", "b", "c")


def test_simulated_annotator_is_right_at_its_accuracy() -> None:
    rng = np.random.default_rng(1)
    annotator = SimulatedAnnotator("x", LABELS, accuracy=0.8)
    answers = [annotator.answer("k", "b", rng)[1] for _ in range(4000)]
    right = np.mean([a == "b" for a in answers])
    assert right == pytest.approx(0.8, abs=0.03)
    assert set(answers) == set(LABELS), "mistakes fall on the other labels"


def test_a_confusion_matrix_decides_the_answers() -> None:
    confusion = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    annotator = SimulatedAnnotator("x", LABELS, confusion=confusion)
    rng = np.random.default_rng(0)
    assert [annotator.answer("k", t, rng)[1] for t in LABELS] == ["b", "c", "a"]


def test_accuracy_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match="The 'accuracy' parameter of SimulatedAnnotator"):
        SimulatedAnnotator("x", LABELS, accuracy=1.5)


def test_team_members_share_the_work() -> None:
    team = Team([SimulatedAnnotator(f"m{i}", LABELS) for i in range(3)])
    rng = np.random.default_rng(0)
    names = {team.answer("k", "a", rng)[0] for _ in range(60)}
    assert names == {"m0", "m1", "m2"}


def test_crowd_replay_uses_each_real_answer_once(tmp_path: Path) -> None:
    crowd = tmp_path / "answers.csv"
    crowd.write_text("item,annotator,label\n1,w1,a\n1,w2,b\n2,w1,c\n")
    replay = CrowdReplay.from_file(crowd)
    rng = np.random.default_rng(0)
    first = {replay.answer("id:1", "a", rng) for _ in range(2)}
    assert first == {("w1", "a"), ("w2", "b")}
    assert replay.answer("id:2", "c", rng) == ("w1", "c")
    with pytest.raises(KeyError, match="no answer for item '3'"):
        replay.answer("id:3", "a", rng)


def test_crowd_file_without_the_columns_names_them(tmp_path: Path) -> None:
    crowd = tmp_path / "answers.tsv"
    crowd.write_text("question\tworker\tanswer\n1\tw\ta\n")
    with pytest.raises(InputFileError, match="item"):
        CrowdReplay.from_file(crowd)
    replay = CrowdReplay.from_file(
        crowd, item_col="question", annotator_col="worker", label_col="answer"
    )
    assert replay.answers == {"1": [("w", "a")]}

"""``labelloop quality`` on a project whose answers come from the shell (two people per item)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelloop.cli.main import app

runner = CliRunner()

CONFIG = """
name = "tickets"
labels = ["bug", "question", "feature"]

[routing]
holdout_size = 10
holdout_max_fraction = 0.5

[retrain]
every = 1000
min_labels = 6

[tasks]
overlap = 2
"""
WORDS = {"bug": "crash error broken", "question": "how why help", "feature": "please add wish"}


def truth(i: int) -> str:
    return ("bug", "question", "feature")[i % 3]


@pytest.fixture
def env(tmp_path: Path, store_url: str) -> dict[str, str]:
    return {"LABELLOOP_DATA_DIR": str(tmp_path / "data"), "LABELLOOP_DATABASE_URL": store_url}


def invoke(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_quality_prints_agreement_and_confused_labels(tmp_path: Path, env) -> None:
    (tmp_path / "project.toml").write_text(CONFIG)
    invoke(env, "init", str(tmp_path / "project.toml"))
    items = tmp_path / "items.jsonl"
    items.write_text(
        "".join(
            json.dumps({"id": i, "text": WORDS[truth(i)], "team": "a" if i < 15 else "b"}) + "\n"
            for i in range(30)
        )
    )
    invoke(env, "import", "tickets", str(items))
    assert "no item has two answers" in invoke(env, "quality", "tickets")
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "annotator", "label"])
        for i in range(30):
            writer.writerow([i, "ann", truth(i)])
            # Bob calls every other feature request a question.
            bob = "question" if truth(i) == "feature" and i % 2 else truth(i)
            writer.writerow([i, "bob", bob])
    invoke(env, "answers", "tickets", str(answers))
    invoke(env, "train", "tickets")
    out = invoke(env, "quality", "tickets", "--slice", "team")
    assert "Krippendorff's alpha" in out and "over 30 items" in out
    assert "Agreement per label" in out and "Agreement per slice" in out
    assert "question / feature" in out, "the confused pair, in schema order"
    assert "human vs model v1" in out
    report = json.loads(
        invoke(env, "quality", "tickets", "--json", "--top", "1", "--slice", "team")
    )
    agreement, guide = report["agreement"], report["guidelines"]
    assert agreement["measurable"] and agreement["pairs"][0]["n_items"] == 30
    assert [g["value"] for g in agreement["slices"]["groups"]] == ["a", "b"]
    (pair,) = guide["annotators"]["confused"]
    assert pair["labels"] == ["question", "feature"] and pair["count"] == 5

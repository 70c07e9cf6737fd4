"""The command line, end to end on a real store (SQLite and PostgreSQL)."""

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
labels = ["bug", "question"]
guidelines = "Is the ticket a bug report or a question?"

[routing]
target_accuracy = 0.9
holdout_size = 12
rules = [{ when = "amount > 9000", tier = "expert" }]

[retrain]
every = 10

[query]
batch_size = 10
"""


def _items(n: int) -> list[dict]:
    bug = ["crash", "error", "broken", "fails", "exception"]
    question = ["how", "why", "where", "can", "help"]
    rows = []
    for i in range(n):
        words = bug if i % 2 else question
        rows.append(
            {
                "id": i,
                "text": f"{words[i % 5]} {words[(i + 2) % 5]} app",
                "amount": 9500 if i == 7 else i,
                "truth": "bug" if i % 2 else "question",
            }
        )
    return rows


@pytest.fixture
def env(tmp_path: Path, store_url: str) -> dict[str, str]:
    (tmp_path / "project.toml").write_text(CONFIG)
    return {"LABELLOOP_DATA_DIR": str(tmp_path / "data"), "LABELLOOP_DATABASE_URL": store_url}


def invoke(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_loop_from_the_shell(tmp_path: Path, env: dict[str, str]) -> None:
    rows = _items(120)
    items = tmp_path / "items.csv"
    with items.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "text", "amount"])
        writer.writeheader()
        writer.writerows({k: r[k] for k in ("id", "text", "amount")} for r in rows)
    assert "created project tickets" in invoke(env, "init", str(tmp_path / "project.toml"))
    assert "added 120 items" in invoke(env, "import", "tickets", str(items))
    assert "already there" in invoke(env, "import", "tickets", str(items))
    queue = invoke(env, "queue", "tickets", "-n", "5")
    assert "holdout" in queue
    assert "id:7" in invoke(env, "queue", "tickets", "--tier", "expert")
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "annotator", "label"])
        writer.writerows([r["id"], "ann", r["truth"]] for r in rows[:60])
    assert "stored 60 answers" in invoke(env, "answers", "tickets", str(answers))
    assert "stored 0 answers" not in invoke(env, "answers", "tickets", str(answers))
    assert "annotation" in invoke(env, "label", "tickets", "id:61", "bug", "--annotator", "ann")
    assert "model v" in invoke(env, "train", "tickets")
    invoke(env, "route", "tickets")
    status = json.loads(invoke(env, "status", "tickets", "--json"))
    assert status["items"] == 120 and status["models"]
    # Item 7 is routed to the expert tier by the rule: its answer is an adjudication.
    assert status["label_sources"] == {"human": 60, "adjudicated": 1}
    out = tmp_path / "export.parquet"
    assert "dataset version" in invoke(env, "export", "tickets", str(out), "--format", "parquet")
    assert out.exists()
    assert "audit log intact" in invoke(env, "audit", "verify")


def test_a_bad_file_exits_with_every_reject_named(tmp_path: Path, env: dict[str, str]) -> None:
    invoke(env, "init", str(tmp_path / "project.toml"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "ok"}\n{"id": 2, "text": ""}\n{oops\n')
    result = runner.invoke(app, ["import", "tickets", str(bad)], env=env)
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output and "'text'" in result.output
    assert "bad.jsonl:3" in result.output and "nothing was imported" in result.output
    status = json.loads(invoke(env, "status", "tickets", "--json"))
    assert status["items"] == 0


def test_an_invalid_config_names_the_key(tmp_path: Path, env: dict[str, str]) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(
        'name = "x"\nlabels = ["a", "b"]\n[routing]\ntarget_accuracy = 1.5\n'
        '[query]\nstrategy = "psychic"\n'
    )
    result = runner.invoke(app, ["init", str(broken)], env=env)
    assert result.exit_code == 2
    assert "routing.target_accuracy" in result.output
    assert "query.strategy" in result.output and "psychic" in result.output


def test_an_unknown_project_is_a_clean_error(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["status", "nope"], env=env)
    assert result.exit_code == 2 and "no project called 'nope'" in result.output


def _sim_config(tmp_path: Path) -> Path:
    """The test project's config, reading the true label from the field ``y``."""
    config = tmp_path / "sim.toml"
    config.write_text(CONFIG.replace("guidelines", 'label_field = "y"\nguidelines'))
    return config


def _labelled_file(tmp_path: Path, rows: list[dict]) -> Path:
    """``rows`` as a JSONL dataset whose true label is in the field ``y``."""
    data = tmp_path / "labelled.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": r["id"], "text": r["text"], "y": r["truth"]}) + "\n" for r in rows
        )
    )
    return data


def test_simulate_prints_json_for_scripts(tmp_path: Path) -> None:
    rows = _items(200)
    data = _labelled_file(tmp_path, rows)
    config = _sim_config(tmp_path)
    result = runner.invoke(
        app,
        [
            "simulate",
            "--dataset",
            str(data),
            "--config",
            str(config),
            "--json",
            "--annotator-accuracy",
            "0.95",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"curve", "final_label_accuracy", "human_share", "labels_used"} <= set(out)
    assert out["baseline"]["strategy"] == "random"
    assert 0 < out["human_share"] <= 1 and out["labels_used"] > 0


def test_simulate_replays_real_crowd_answers(tmp_path: Path) -> None:
    rows = _items(150)
    data = _labelled_file(tmp_path, rows)
    crowd = tmp_path / "crowd.csv"
    with crowd.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["item", "annotator", "label"])
        for r in rows:  # two workers, one of them always says "bug"
            writer.writerow([r["id"], "careful", r["truth"]])
            writer.writerow([r["id"], "lazy", "bug"])
    config = _sim_config(tmp_path)
    result = runner.invoke(
        app,
        [
            "simulate",
            "--dataset",
            str(data),
            "--config",
            str(config),
            "--crowd",
            str(crowd),
            "--no-baseline",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert "baseline" not in out
    assert 0.5 < out["final_label_accuracy"] < 1.0, "half the lazy worker's answers are wrong"


def test_members_get_tiers_and_skills(tmp_path: Path, env: dict[str, str]) -> None:
    invoke(env, "init", str(tmp_path / "project.toml"))
    invoke(env, "user", "add", "ada", "--role", "reviewer", "--password", "long enough pw")
    out = invoke(
        env,
        "member",
        "set",
        "tickets",
        "ada",
        "--tier",
        "annotator",
        "--skill",
        "german",
        "--skill",
        "legal",
    )
    assert "tier annotator, skills german, legal" in out
    assert "german, legal" in invoke(env, "member", "list", "tickets")
    result = runner.invoke(app, ["member", "set", "tickets", "ada", "--tier", "expert"], env=env)
    assert result.exit_code == 2 and "reviewer cannot work at the expert tier" in result.output


def test_the_creator_is_a_member_and_members_can_be_removed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    invoke(env, "user", "add", "ada", "--role", "reviewer", "--password", "long enough pw")
    invoke(env, "init", str(tmp_path / "project.toml"), "--actor", "ada")
    assert "ada" in invoke(env, "member", "list", "tickets")
    assert "ada removed from tickets" in invoke(env, "member", "remove", "tickets", "ada")
    assert "ada" not in invoke(env, "member", "list", "tickets")
    result = runner.invoke(app, ["member", "remove", "tickets", "ada"], env=env)
    assert result.exit_code == 2 and "'ada' is not a member" in result.output


def test_gold_import_annotators_and_certify(tmp_path: Path, env: dict[str, str]) -> None:
    invoke(env, "init", str(tmp_path / "project.toml"))
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "g1", "text": "crash app", "label": "bug"}\n')
    assert "added 1 gold questions" in invoke(env, "import", "tickets", str(gold), "--gold")
    assert "annotator" in invoke(env, "annotators", "tickets")
    result = runner.invoke(app, ["certify", "tickets"], env=env)
    assert result.exit_code == 1
    assert "not certified" in result.output and "holdout" in result.output

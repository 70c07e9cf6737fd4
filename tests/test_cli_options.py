"""Global options (--data-dir, --db) work before the command and after it, on every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from labelloop.cli.main import app

runner = CliRunner()

CONFIG = 'name = "tickets"\nlabels = ["bug", "question"]\n'


def _run(env: dict[str, str | None], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def elsewhere(tmp_path: Path) -> dict[str, str | None]:
    """The environment points at another, empty store: only the options can find the project."""
    return {"LABELLOOP_DATA_DIR": str(tmp_path / "elsewhere"), "LABELLOOP_DATABASE_URL": None}


def test_options_after_the_command_reach_the_store(
    tmp_path: Path, store_url: str, elsewhere: dict[str, str | None]
):
    (tmp_path / "project.toml").write_text(CONFIG)
    data = str(tmp_path / "data")
    made = _run(
        elsewhere, "init", str(tmp_path / "project.toml"), "--db", store_url, "--data-dir", data
    )
    assert "created project tickets" in made
    status = json.loads(_run(elsewhere, "status", "tickets", "--json", "--db", store_url))
    assert status["project"] == "tickets"
    # the same options before the command still work, and a later value wins
    assert "tickets" in _run(elsewhere, "--db", store_url, "status", "tickets")
    decoy = f"sqlite:///{tmp_path / 'decoy.db'}"
    assert "tickets" in _run(elsewhere, "--db", decoy, "status", "tickets", "--db", store_url)
    # nested groups take them after the subcommand and between the group and the subcommand
    assert "store at revision" in _run(elsewhere, "db", "upgrade", "--db", store_url)
    assert "store at revision" in _run(elsewhere, "db", "--db", store_url, "upgrade")
    _run(elsewhere, "member", "list", "tickets", "--db", store_url)
    _run(elsewhere, "queue", "tickets", "-n", "3", "--data-dir", data, "--db", store_url)
    # without them the environment's empty store is used, which has no such project
    missing = runner.invoke(app, ["status", "tickets"], env=elsewhere)
    assert missing.exit_code == 2 and "tickets" in missing.output


def test_data_dir_after_the_command_holds_the_default_store(
    tmp_path: Path, elsewhere: dict[str, str | None]
):
    (tmp_path / "project.toml").write_text(CONFIG)
    data = tmp_path / "data"
    _run(elsewhere, "init", str(tmp_path / "project.toml"), "--data-dir", str(data))
    assert (data / "labelloop.db").is_file()
    assert not (tmp_path / "elsewhere").exists()
    assert "tickets" in _run(elsewhere, "status", "tickets", "--data-dir", str(data))


def _commands(group: TyperGroup, path: str = "") -> list[tuple[str, typer.core.TyperCommand]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{path}{name}", command))
        if isinstance(command, TyperGroup):
            found += _commands(command, f"{path}{name} ")
    return found


def test_every_command_accepts_the_global_options():
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    commands = _commands(root)
    assert len(commands) > 20
    for name, command in commands:
        flags = {flag for p in command.params for flag in getattr(p, "opts", [])}
        assert {"--data-dir", "--db"} <= flags, name
    help_text = runner.invoke(app, ["status", "--help"]).output
    assert "Global options" in help_text and "LABELLOOP_DATA_DIR" in help_text


def test_answers_refuses_one_column_for_two_roles(
    tmp_path: Path, store_url: str, elsewhere: dict[str, str | None]
):
    (tmp_path / "project.toml").write_text(CONFIG)
    _run(elsewhere, "init", str(tmp_path / "project.toml"), "--db", store_url)
    items = tmp_path / "items.csv"
    items.write_text("id,text\n1,app crashes\n")
    _run(elsewhere, "import", "tickets", str(items), "--db", store_url)
    answers = tmp_path / "answers.csv"
    answers.write_text("item,annotator,label\n1,ann,bug\n")
    args = ["answers", "tickets", str(answers), "--label-col", "annotator", "--db", store_url]
    result = runner.invoke(app, args, env=elsewhere)
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "annotator_col and label_col name the same column 'annotator'" in said
    status = json.loads(_run(elsewhere, "status", "tickets", "--json", "--db", store_url))
    assert status["label_sources"] == {}

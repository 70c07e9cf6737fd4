"""The README documents every setting and every command."""

from __future__ import annotations

from pathlib import Path

from labelloop.cli.main import app
from labelloop.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    for name in Settings.model_fields:
        assert f"LABELLOOP_{name.upper()}" in README, name


def test_every_command_is_in_the_readme() -> None:
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    names += [
        f"{g.name} {c.name}"
        for g in app.registered_groups
        for c in g.typer_instance.registered_commands
    ]
    for name in names:
        assert f"labelloop {name}" in README, name


def test_the_architecture_shows_the_multi_label_kind_as_it_is() -> None:
    root = Path(__file__).resolve().parents[1]
    doc = (root / "docs" / "architecture.md").read_text()
    for part in ("__init__.py", "kind.py"):
        path = f"src/labelloop/kinds/multi_label/{part}"
        code = (root / path).read_text().rstrip("\n")
        assert f"`{path}`:\n\n```python\n{code}\n```" in doc, path


def test_the_readme_library_example_runs(tmp_path, monkeypatch) -> None:
    section = README[README.index("## Library") :]
    start = section.index("```python\n") + len("```python\n")
    code = section[start : section.index("\n```", start)]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LABELLOOP_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "tickets.jsonl").write_text(
        "".join(f'{{"id": {n}, "text": "ticket {n}"}}\n' for n in range(30))
    )
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["result"].created and scope["result"].outcomes

"""``labelloop aggregate`` on small long tables: custom columns, -o, formats and clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelloop.cli.main import app

runner = CliRunner()

# three items; "q3" is a 2-1 split; "w4" answers one item only
ANSWERS = [
    ("q1", "w1", "cat"),
    ("q1", "w2", "cat"),
    ("q1", "w3", "dog"),
    ("q2", "w1", "dog"),
    ("q2", "w2", "dog"),
    ("q2", "w3", "dog"),
    ("q3", "w1", "cat"),
    ("q3", "w2", "cat"),
    ("q3", "w4", "dog"),
]


def _said(output: str) -> str:
    """The message with Rich's line wrapping (and error box sides) undone."""
    return " ".join(output.replace("│", " ").split())


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _write(path: Path, header: tuple[str, str, str], delimiter: str = ",") -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(ANSWERS)
    return path


def test_custom_columns_to_stdout(tmp_path: Path):
    path = _write(tmp_path / "answers.csv", ("question", "worker", "answer"))
    result = runner.invoke(
        app,
        [
            "aggregate",
            str(path),
            "--item-col",
            "question",
            "--annotator-col",
            "worker",
            "--label-col",
            "answer",
            "--method",
            "majority",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert [(r["item"], r["label"]) for r in rows] == [("q1", "cat"), ("q2", "dog"), ("q3", "cat")]
    assert [float(r["posterior"]) for r in rows] == pytest.approx([2 / 3, 1.0, 2 / 3])
    summary = _said(result.stderr)
    assert "3 items, 4 annotators, 9 answers, 2 labels; method majority" in summary


@pytest.mark.parametrize("method", ["majority", "wawa", "one-coin", "dawid-skene"])
def test_output_file_for_every_method(tmp_path: Path, method: str):
    path = _write(tmp_path / "answers.csv", ("item", "annotator", "label"))
    out = tmp_path / "labels.csv"
    result = runner.invoke(app, ["aggregate", str(path), "--method", method, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    rows = _rows(out.read_text())
    assert list(rows[0]) == ["item", "label", "posterior"]
    assert [r["label"] for r in rows] == ["cat", "dog", "cat"]
    assert all(0.5 <= float(r["posterior"]) <= 1.0 for r in rows)
    assert f"written to {out}" in _said(result.stderr)


def test_default_method_is_dawid_skene_and_seed_is_repeatable(tmp_path: Path):
    path = _write(tmp_path / "answers.csv", ("item", "annotator", "label"))
    first = runner.invoke(app, ["aggregate", str(path)])
    second = runner.invoke(app, ["aggregate", str(path)])
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    assert "method dawid-skene" in _said(first.stderr)


def test_tab_separated_and_jsonl(tmp_path: Path):
    tsv = _write(tmp_path / "answers.tsv", ("item", "annotator", "label"), delimiter="\t")
    jsonl = tmp_path / "answers.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps({"item": i, "annotator": a, "label": lab}) + "\n" for i, a, lab in ANSWERS
        )
    )
    outputs = []
    for path in (tsv, jsonl):
        result = runner.invoke(app, ["aggregate", str(path), "--method", "wawa"])
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert [r["label"] for r in _rows(outputs[0])] == ["cat", "dog", "cat"]


def test_missing_column_names_file_column_and_columns_present(tmp_path: Path):
    path = _write(tmp_path / "answers.csv", ("question", "worker", "answer"))
    result = runner.invoke(app, ["aggregate", str(path), "--item-col", "question"])
    assert result.exit_code == 2
    said = _said(result.output)
    assert str(path) in said
    assert "no column 'annotator' (set by --annotator-col)" in said
    assert "its columns are: 'question', 'worker', 'answer'" in said


def test_empty_value_is_a_reject_with_its_line(tmp_path: Path):
    path = _write(tmp_path / "answers.csv", ("item", "annotator", "label"))
    with path.open("a") as f:
        f.write("q4,w1,\n")
    result = runner.invoke(app, ["aggregate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:11: field 'label': empty value" in _said(result.output)


def test_unknown_method_and_file_type(tmp_path: Path):
    path = _write(tmp_path / "answers.csv", ("item", "annotator", "label"))
    result = runner.invoke(app, ["aggregate", str(path), "--method", "glad"])
    assert result.exit_code == 2
    assert "'glad' is not one of majority, wawa, one-coin, dawid-skene" in _said(result.output)
    other = tmp_path / "answers.xlsx"
    other.write_text("x")
    result = runner.invoke(app, ["aggregate", str(other)])
    assert result.exit_code == 2
    assert "unknown file type '.xlsx'" in _said(result.output)

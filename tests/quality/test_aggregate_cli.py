"""``labelloop aggregate`` on small long tables: custom columns, -o, formats and clear errors."""

from __future__ import annotations

import csv
import inspect
import io
import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from labelloop.cli.main import app
from labelloop.quality.aggregation.em import EMAggregator

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


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--label-col", "item"], "--item-col and --label-col name the same column 'item'"),
        (
            ["--item-col", "label", "--annotator-col", "label"],
            "--item-col, --annotator-col and --label-col name the same column 'label'",
        ),
    ],
)
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_one_column_for_two_roles_is_refused(
    tmp_path: Path, options: list[str], named: str, suffix: str
):
    path = tmp_path / f"answers{suffix}"
    if suffix == ".csv":
        _write(path, ("item", "annotator", "label"))
    else:
        path.write_text(
            "".join(
                json.dumps({"item": i, "annotator": a, "label": v}) + "\n" for i, a, v in ANSWERS
            )
        )
    result = runner.invoke(app, ["aggregate", str(path), *options])
    assert result.exit_code == 2
    assert "item,label,posterior" not in result.output
    said = _said(result.output)
    assert said.startswith("error: ") and named in said


def test_em_options_reach_the_fit_and_convergence_is_reported(tmp_path: Path):
    path = _write(tmp_path / "answers.csv", ("item", "annotator", "label"))
    default = runner.invoke(app, ["aggregate", str(path)])
    assert default.exit_code == 0, default.output
    assert re.search(r"converged in \d+ iterations", _said(default.stderr))
    cut = runner.invoke(app, ["aggregate", str(path), "--method", "one-coin", "--max-iter", "1"])
    assert cut.exit_code == 0, cut.output
    assert "did not converge in 1 iteration (tol 1e-06)" in _said(cut.stderr)
    smooth = runner.invoke(app, ["aggregate", str(path), "--alpha", "5", "--tol", "1e-9"])
    assert smooth.exit_code == 0, smooth.output
    posteriors = [float(r["posterior"]) for r in _rows(smooth.stdout)]
    assert posteriors != [float(r["posterior"]) for r in _rows(default.stdout)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--tol", "0"], "The 'tol' parameter of DawidSkene must be a float > 0. Got 0.0"),
        (["--max-iter", "0"], "The 'max_iter' parameter of DawidSkene must be an int >= 1"),
        (["--alpha", "-1"], "The 'alpha' parameter of DawidSkene must be a float >= 0"),
        (
            ["--method", "wawa", "--alpha", "1"],
            "--alpha: options of the methods fitted by EM (one-coin, dawid-skene), not of 'wawa'",
        ),
    ],
)
def test_bad_em_options_are_named(tmp_path: Path, options: list[str], message: str):
    path = _write(tmp_path / "answers.csv", ("item", "annotator", "label"))
    result = runner.invoke(app, ["aggregate", str(path), *options])
    assert result.exit_code == 2
    assert message in _said(result.output)


def test_em_option_help_states_the_estimators_defaults():
    root = typer.main.get_command(app)
    helps = {p.name: p.help for p in root.commands["aggregate"].params}
    for name, param in inspect.signature(EMAggregator.__init__).parameters.items():
        if name in ("alpha", "max_iter", "tol"):
            assert f"(default {param.default:g})." in helps[name], name

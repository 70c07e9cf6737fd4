"""``labelloop find-errors`` on .npy and .csv inputs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from labelloop.cli.main import app
from labelloop.quality.label_errors import check_probs, find_label_errors

runner = CliRunner()


def _data(seed: int = 0, n: int = 300, k: int = 3):
    """Confident, mostly right probabilities; ten labels flipped away from the argmax."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, size=n)
    probs = rng.dirichlet(np.ones(k), size=n) * 0.2
    probs[np.arange(n), truth] += 0.8
    given = truth.copy()
    flipped = rng.choice(n, size=10, replace=False)
    given[flipped] = (truth[flipped] + 1) % k
    return given, probs, set(flipped.tolist())


def _said(output: str) -> str:
    """The message with Rich's line wrapping undone."""
    return " ".join(output.split())


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_npy_inputs_to_stdout(tmp_path: Path):
    given, probs, flipped = _data()
    np.save(tmp_path / "labels.npy", given)
    np.save(tmp_path / "probs.npy", probs)
    result = runner.invoke(
        app,
        [
            "find-errors",
            "--labels",
            str(tmp_path / "labels.npy"),
            "--probs",
            str(tmp_path / "probs.npy"),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert list(rows[0]) == ["rank", "index", "given", "suggested", "score"]
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    suspects = find_label_errors(given, probs)
    assert [int(r["index"]) for r in rows] == suspects.indices.tolist()
    assert {int(r["index"]) for r in rows} <= flipped
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores)
    for r in rows:
        assert int(r["given"]) == given[int(r["index"])]
        assert int(r["suggested"]) == probs[int(r["index"])].argmax()
    assert f"300 items, {len(suspects)} flagged" in result.stderr


def test_csv_inputs_with_class_names_and_output_file(tmp_path: Path):
    given, probs, flipped = _data(1)
    names = np.array(["bird", "cat", "dog"])
    with (tmp_path / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "label"])
        w.writerows([i, names[g]] for i, g in enumerate(given))
    np.savetxt(tmp_path / "probs.csv", probs, delimiter=",")
    out = tmp_path / "suspects.csv"
    result = runner.invoke(
        app,
        [
            "find-errors",
            "--labels",
            str(tmp_path / "labels.csv"),
            "--probs",
            str(tmp_path / "probs.csv"),
            "-o",
            str(out),
            "--top",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    rows = _rows(out.read_text())
    assert len(rows) == 5
    assert {int(r["index"]) for r in rows} <= flipped
    for r in rows:
        i = int(r["index"])
        assert r["given"] == names[given[i]]
        assert r["suggested"] == names[probs[i].argmax()]
    assert f"{len(find_label_errors(given, probs))} flagged" in result.stderr
    assert f"wrote 5 to {out}" in result.stderr


def test_probs_csv_header_fixes_the_class_order(tmp_path: Path):
    given, probs, _ = _data(2)
    names = np.array(["zebra", "ant", "mole"])  # column order, not sorted
    (tmp_path / "labels.csv").write_text("label\n" + "\n".join(names[given]) + "\n")
    np.savetxt(tmp_path / "probs.csv", probs, delimiter=",", header=",".join(names), comments="")
    result = runner.invoke(
        app,
        [
            "find-errors",
            "--labels",
            str(tmp_path / "labels.csv"),
            "--probs",
            str(tmp_path / "probs.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = _rows(result.stdout)
    assert len(rows) == len(find_label_errors(given, probs))
    assert all(r["suggested"] == names[probs[int(r["index"])].argmax()] for r in rows)


@pytest.mark.parametrize(
    ("labels", "probs", "message"),
    [
        ("labels.npy", "short.npy", "has 300 labels but"),
        ("labels.npy", "bad_rows.npy", "row 0 sums to"),
        ("labels.txt", "probs.npy", "unsupported file type '.txt'"),
        ("missing.npy", "probs.npy", "no such file"),
        ("headerless.csv", "probs.npy", "looks like data; add a header row"),
        ("labels.npy", "ragged.csv", "line 2: 2 values, expected 3"),
    ],
)
def test_bad_input_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, labels: str, probs: str, message: str
):
    monkeypatch.chdir(tmp_path)  # short relative paths: Rich wraps long lines
    given, good, _ = _data()
    np.save(tmp_path / "labels.npy", given)
    np.save(tmp_path / "probs.npy", good)
    np.save(tmp_path / "short.npy", good[:-1])
    np.save(tmp_path / "bad_rows.npy", good / 2)
    (tmp_path / "labels.txt").write_text("0\n1\n")
    (tmp_path / "headerless.csv").write_text("0\n1\n2\n")
    (tmp_path / "ragged.csv").write_text("0.2,0.3,0.5\n0.5,0.5\n")
    result = runner.invoke(app, ["find-errors", "--labels", labels, "--probs", probs])
    assert result.exit_code == 2
    said = _said(result.output)
    assert said.startswith("error: ") and message in said
    bad = labels if labels != "labels.npy" else probs
    assert bad in said


def test_class_names_must_cover_the_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    _, probs, _ = _data()
    (tmp_path / "labels.csv").write_text("label\n" + "\n".join(["a", "b"] * 150) + "\n")
    np.save(tmp_path / "probs.npy", probs)
    result = runner.invoke(
        app,
        [
            "find-errors",
            "--labels",
            "labels.csv",
            "--probs",
            "probs.npy",
        ],
    )
    assert result.exit_code == 2
    assert "labels.csv: 2 distinct class names but probs has 3 columns" in _said(result.output)


def _rounded(seed: int = 0) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """Binary probabilities as the label-errors study stored IMDB's: float32, then a 1e-5 floor
    added to every class without renormalising, so confident rows hold 1.0000012 and rows sum
    to 1 + 2e-5."""
    given, probs, flipped = _data(seed, k=2)
    probs = probs.astype(np.float32).astype(np.float64) + 1e-5
    confident = np.flatnonzero(probs.max(axis=1) > 0.97)[:20]
    top = probs[confident].argmax(axis=1)
    probs[confident, top] = 1.0000012
    probs[confident, 1 - top] = 1.88e-05
    assert probs.max() > 1 and np.abs(probs.sum(axis=1) - 1).max() > 1e-5
    return given, probs, flipped


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_probabilities_off_by_rounding_are_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
):
    monkeypatch.chdir(tmp_path)
    given, probs, flipped = _rounded()
    np.save("labels.npy", given)
    if suffix == ".npy":
        np.save("probs.npy", probs)
    else:
        Path("probs.csv").write_text("".join(f"{a!r},{b!r}\n" for a, b in probs.tolist()))
    result = runner.invoke(
        app, ["find-errors", "--labels", "labels.npy", "--probs", f"probs{suffix}"]
    )
    assert result.exit_code == 0, result.output
    found = {int(r["index"]) for r in _rows(result.stdout)}
    assert found and found <= flipped
    exact = np.clip(probs, 0, 1) / np.clip(probs, 0, 1).sum(axis=1, keepdims=True)
    assert found == set(find_label_errors(given, exact).indices.tolist())


@pytest.mark.parametrize(
    ("value", "shown"), [(1.01, "row 3 holds 1.01"), (-0.002, "row 3 holds -0.002")]
)
def test_probabilities_beyond_rounding_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: float, shown: str
):
    monkeypatch.chdir(tmp_path)
    given, probs, _ = _rounded()
    probs[3] = [value, 1 - value]
    np.save("labels.npy", given)
    np.save("probs.npy", probs)
    result = runner.invoke(app, ["find-errors", "--labels", "labels.npy", "--probs", "probs.npy"])
    assert result.exit_code == 2
    assert f"probs.npy: probabilities must be probabilities in [0, 1]; {shown}" in _said(
        result.output
    )


def test_the_library_hands_cleanlab_exact_probabilities():
    from cleanlab.internal.validation import assert_valid_inputs

    given, probs, flipped = _rounded(1)
    P = check_probs(probs)
    assert P.min() >= 0 and P.max() <= 1
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert_valid_inputs(X=None, y=given, pred_probs=P)
    assert set(find_label_errors(given, probs).indices.tolist()) <= flipped


IMDB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "label_errors"


def test_the_label_errors_study_imdb_file(tmp_path: Path):
    probs, labels = IMDB / "imdb_test_set_pyx.npy", IMDB / "imdb_test_set_original_labels.npy"
    if not (probs.is_file() and labels.is_file()):
        pytest.skip(f"no IMDB files of the label-errors study in {IMDB}")
    out = tmp_path / "suspects.csv"
    args = ["find-errors", "--labels", str(labels), "--probs", str(probs), "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(_rows(out.read_text())) > 1000  # the study flagged 1,310 of 25,000

"""``labelloop find-errors``: rank likely label errors from labels and out-of-fold probabilities,
or over a project's final labels.

Files:

* ``--labels``: ``.npy`` (1-D) or ``.csv`` with a header row, using the column named ``label``
  or else the only column. Whole numbers are class indices into the probs columns; any other
  values are class names, mapped to the probs columns by the probs CSV header when it names the
  classes, else in sorted order (every class must then appear at least once).
* ``--probs``: ``.npy`` (n × k) or ``.csv`` of n rows × k numbers, with an optional header row.

``--project NAME`` instead checks the project's decided items with out-of-fold probabilities of
its own model kind (:mod:`labelloop.loop.suspect_labels`); ``--route`` sends the suspects to the
reviewer queue.

Writes ``rank,index,given,suggested,score`` as CSV (stdout unless ``-o``), lowest label quality
first, plus ``item,key,source`` for a project (``index``: the row among its decided items, in
item-id order); the summary goes to stderr.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

from labelloop.errors import ModelError

_INT = re.compile(r"\s*[+-]?\d+\s*")
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
HEADER = ["rank", "index", "given", "suggested", "score"]


def _fail(path: Path, reason: str) -> ModelError:
    return ModelError(f"{path}: {reason}")


def _read_csv(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _fail(path, f"cannot be read: {exc}") from None
    if not rows:
        raise _fail(path, "is empty")
    return rows


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise _fail(path, f"is not a readable .npy array without pickled objects: {exc}") from None


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise _fail(path, f"unsupported file type {suffix or '(none)'!r}; use .npy or .csv")
    if not path.is_file():
        raise _fail(path, "no such file")
    return suffix


def read_labels(path: Path) -> np.ndarray:
    """Labels as a 1-D array: int64 class indices, or strings (class names)."""
    if _suffix(path) == ".npy":
        arr = _load_npy(path)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise _fail(path, f"labels must be 1-D; got shape {arr.shape}")
        if arr.dtype.kind in "US":
            return arr.astype(str)
        if arr.dtype.kind in "iu" or arr.size == 0:
            return arr.astype(np.int64)
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            return arr.astype(np.int64)
        raise _fail(path, f"labels must be whole numbers or strings; got dtype {arr.dtype}")
    header, *rows = _read_csv(path)
    names = [h.strip() for h in header]
    if "label" in names:
        col = names.index("label")
    elif len(names) == 1:
        col = 0
        if _NUMBER.fullmatch(names[0]):
            raise _fail(path, f"the first row {names[0]!r} looks like data; add a header row")
    else:
        raise _fail(path, f"has {len(names)} columns and none is named 'label'")
    values = []
    for line, row in enumerate(rows, start=2):
        value = row[col].strip() if col < len(row) else ""
        if not value:
            raise _fail(path, f"line {line}: empty label")
        values.append(value)
    if values and all(_INT.fullmatch(v) for v in values):
        return np.array([int(v) for v in values], dtype=np.int64)
    return np.array(values, dtype=str)


def read_probs(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """The (n, k) probability matrix, and the CSV header when there is one."""
    if _suffix(path) == ".npy":
        arr = _load_npy(path)
        if arr.dtype.kind not in "iuf":
            raise _fail(path, f"probabilities must be numbers; got dtype {arr.dtype}")
        return arr.astype(np.float64), None
    rows = _read_csv(path)
    header = None
    if not all(_NUMBER.fullmatch(v) for v in rows[0]):
        header, rows = [h.strip() for h in rows[0]], rows[1:]
    width = len(header) if header else len(rows[0]) if rows else 0
    out = np.empty((len(rows), width))
    first = 2 if header else 1
    for line, row in enumerate(rows, start=first):
        if len(row) != width:
            raise _fail(path, f"line {line}: {len(row)} values, expected {width}")
        bad = [v for v in row if not _NUMBER.fullmatch(v)]
        if bad:
            raise _fail(path, f"line {line}: {bad[0]!r} is not a number")
        out[line - first] = [float(v) for v in row]
    return out, header


def _encode(
    labels: np.ndarray, k: int, header: list[str] | None, path: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Class names → column indices, and the names in column order: the probs header's when it
    names k distinct classes that include every label, else sorted."""
    classes = np.unique(labels)
    if header is not None and len(set(header)) == k and set(classes.tolist()) <= set(header):
        classes = np.array(header)
    elif len(classes) != k:
        raise _fail(
            path,
            f"{len(classes)} distinct class names but probs has {k} columns; class names map "
            "to the columns in sorted order, so each class must appear",
        )
    order = np.argsort(classes)
    return order[np.searchsorted(classes[order], labels)], classes


def find_errors(
    ctx: typer.Context,
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="Given labels: .npy or .csv (column 'label')."),
    ] = None,
    probs: Annotated[
        Path | None,
        typer.Option("--probs", help="Out-of-fold probabilities: .npy or .csv, n × k."),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", help="Check a project's final labels instead of files."),
    ] = None,
    route: Annotated[
        bool, typer.Option("--route", help="With --project: send the suspects to reviewers.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="CSV to write (default: stdout).")
    ] = None,
    top: Annotated[
        int | None, typer.Option("--top", min=1, help="Write (and route) only the first N.")
    ] = None,
) -> None:
    """Rank likely label errors (confident learning): from labels and out-of-fold
    probabilities, or over a project's final labels with --project."""
    if project is not None and labels is None and probs is None:
        n, flagged, header, rows, note = _from_project(ctx, project, top=top, route=route)
    elif project is None and labels is not None and probs is not None:
        if route:
            raise typer.BadParameter("--route needs --project", param_hint="--route")
        n, flagged, header, rows = _from_files(labels, probs, top=top)
        note = ""
    else:
        raise typer.BadParameter("give --labels and --probs, or --project (not both)")
    if output is None:
        _write(sys.stdout, header, rows)
    else:
        try:
            with output.open("w", newline="", encoding="utf-8") as f:
                _write(f, header, rows)
        except OSError as exc:
            raise _fail(output, f"cannot be written: {exc}") from None
    share = flagged / n if n else 0.0
    where = f"; wrote {len(rows):,} to {output}" if output is not None else ""
    Console(stderr=True).print(
        f"[bold]{n:,}[/] items, [bold]{flagged:,}[/] flagged as likely label errors "
        f"({share:.1%}){where}{note}",
        highlight=False,
        soft_wrap=True,
    )


def _from_files(
    labels: Path, probs: Path, *, top: int | None
) -> tuple[int, int, list[str], list[list[Any]]]:
    """Items, flagged, CSV header and rows from a labels file and a probabilities file."""
    from labelloop.quality.label_errors import check_labels, check_probs, find_label_errors

    given = read_labels(labels)
    matrix, header = read_probs(probs)
    try:
        P = check_probs(matrix, name="probabilities")
    except ModelError as exc:
        raise _fail(probs, str(exc)) from None
    if len(given) != len(P):
        raise ModelError(
            f"{labels} has {len(given)} labels but {probs} has {len(P)} rows; "
            "they must be aligned row for row"
        )
    names: np.ndarray | None = None
    if given.dtype.kind == "U":
        y, names = _encode(given, P.shape[1], header, labels)
    else:
        try:
            y = check_labels(given, P.shape[1], name="labels")
        except ModelError as exc:
            raise _fail(labels, str(exc)) from None
    suspects = find_label_errors(y, P)
    shown = len(suspects) if top is None else min(top, len(suspects))

    def name(codes: np.ndarray) -> list[Any]:
        return names[codes].tolist() if names is not None else codes.tolist()

    rows = zip(
        range(1, shown + 1),
        suspects.indices[:shown].tolist(),
        name(suspects.given[:shown]),
        name(suspects.suggested[:shown]),
        (f"{s:.6g}" for s in suspects.scores[:shown]),
        strict=True,
    )
    return len(y), len(suspects), HEADER, [list(r) for r in rows]


def _from_project(
    ctx: typer.Context, name: str, *, top: int | None, route: bool
) -> tuple[int, int, list[str], list[list[Any]], str]:
    """Items, flagged, CSV header and rows, and a note on routing and annotators, from a
    project's final labels (:mod:`labelloop.loop.suspect_labels`)."""
    from labelloop.cli.context import open_project

    project = open_project(ctx, name, retrain="off")
    found = project.find_label_errors(top=top, route=route, actor="cli")
    rows = [
        [rank, s.index, s.given, s.suggested, f"{s.score:.6g}", s.item_id, s.key, s.source]
        for rank, s in enumerate(found.suspects, start=1)
    ]
    note = f"; sent {found.routed:,} to the reviewer queue" if route else ""
    if found.annotators:
        worst = ", ".join(
            f"{a.annotator} {a.quality:.3f}" if a.quality is not None else f"{a.annotator} -"
            for a in found.annotators[:5]
        )
        note += f"; annotator quality (CROWDLAB, worst first): {worst}"
    return found.n_items, found.n_flagged, [*HEADER, "item", "key", "source"], rows, note


def _write(f: Any, header: list[str], rows: list[list[Any]]) -> None:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)

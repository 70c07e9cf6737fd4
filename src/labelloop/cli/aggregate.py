"""``labelloop aggregate``: each item's label, with its posterior, from several people's answers.

Reads a long table — one row per answer, with item, annotator and label columns — from CSV, TSV
(``.tsv``/``.txt``, tab-separated), JSONL or Parquet, runs a truth-inference method from
:mod:`labelloop.quality.aggregation` and writes ``item,label,posterior`` as CSV (stdout unless
``-o``); the summary goes to stderr.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from labelloop.errors import ConfigError, InputFileError, Reject

DELIMITED = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
RECORDS = (".jsonl", ".ndjson", ".parquet")
EM_PANEL = "EM options"


def _missing(path: Path, wanted: dict[str, str], present: list[str]) -> None:
    """Raise ``ConfigError`` naming the first wanted column the file lacks, and its columns."""
    for option, column in wanted.items():
        if column not in present:
            shown = ", ".join(repr(c) for c in present) or "none"
            raise ConfigError(
                f"{path} has no column {column!r} (set by {option}); its columns are: {shown}"
            )


def _delimited(path: Path, wanted: dict[str, str]) -> tuple[list[list[str]], list[Reject]]:
    columns = list(wanted.values())
    rows, rejects = [], []
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f, delimiter=DELIMITED[path.suffix.lower()])
            _missing(path, wanted, [c.strip() for c in reader.fieldnames or []])
            reader.fieldnames = [c.strip() for c in reader.fieldnames or []]
            line = reader.line_num
            for record in reader:
                start, line = line + 1, reader.line_num
                values = [record.get(c) for c in columns]
                empty = [c for c, v in zip(columns, values, strict=True) if not (v or "").strip()]
                if empty:
                    rejects.append(Reject(str(path), start, empty[0], "empty value"))
                else:
                    rows.append([str(v).strip() for v in values])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputFileError([Reject(str(path), 0, None, f"cannot be read: {exc}")]) from None
    return rows, rejects


def _records(path: Path, wanted: dict[str, str]) -> tuple[list[list[str]], list[Reject]]:
    from labelloop.io.readers import read_records

    columns = list(wanted.values())
    rows: list[list[str]] = []
    rejects: list[Reject] = []
    seen: set[str] = set()
    for line, record in read_records(path):
        if isinstance(record, Reject):
            rejects.append(record)
            continue
        seen.update(record)
        empty = [c for c in columns if record.get(c) is None or str(record[c]).strip() == ""]
        if empty:
            rejects.append(Reject(str(path), line, empty[0], "missing or empty value"))
        else:
            rows.append([str(record[c]).strip() for c in columns])
    if rows or rejects:
        _missing(path, wanted, sorted(seen))
    return rows, rejects


def read_answers(path: Path, wanted: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """The item, annotator and label columns of ``path`` (``wanted``: option -> column name)."""
    from labelloop.quality.long_table import check_columns

    check_columns(wanted)
    suffix = path.suffix.lower()
    if suffix in DELIMITED:
        rows, rejects = _delimited(path, wanted)
    elif suffix in RECORDS:
        rows, rejects = _records(path, wanted)
    else:
        known = ", ".join((*DELIMITED, *RECORDS))
        raise ConfigError(f"{path}: unknown file type {suffix or '(none)'!r}; use {known}")
    if rejects:
        raise InputFileError(rejects)
    if not rows:
        raise ConfigError(f"{path} holds no answers")
    items, annotators, labels = (list(column) for column in zip(*rows, strict=True))
    return items, annotators, labels


def aggregate(
    answers: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="Long table of answers: CSV, TSV (.tsv/.txt), JSONL or Parquet.",
        ),
    ],
    method: Annotated[
        str,
        typer.Option(help="majority, wawa, one-coin or dawid-skene."),
    ] = "dawid-skene",
    item_col: Annotated[str, typer.Option(help="Column naming the item.")] = "item",
    annotator_col: Annotated[str, typer.Option(help="Column naming the annotator.")] = "annotator",
    label_col: Annotated[str, typer.Option(help="Column holding the answer.")] = "label",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="CSV to write (default: stdout).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed that breaks ties.")] = 0,
    alpha: Annotated[
        float | None,
        typer.Option(
            help="one-coin, dawid-skene: smoothing, the pseudo-answers added to every count "
            "the M-step estimates (default 0.01).",
            rich_help_panel=EM_PANEL,
        ),
    ] = None,
    max_iter: Annotated[
        int | None,
        typer.Option(
            help="one-coin, dawid-skene: most EM iterations (default 100).",
            rich_help_panel=EM_PANEL,
        ),
    ] = None,
    tol: Annotated[
        float | None,
        typer.Option(
            help="one-coin, dawid-skene: stop when the mean log-likelihood per answer changes "
            "by less (default 1e-06).",
            rich_help_panel=EM_PANEL,
        ),
    ] = None,
) -> None:
    """Infer each item's label from several annotators' answers; write item,label,posterior."""
    from labelloop.quality.aggregation import AGGREGATORS

    if method not in AGGREGATORS:
        raise typer.BadParameter(
            f"{method!r} is not one of {', '.join(AGGREGATORS)}", param_hint="--method"
        )
    fit_options = {"alpha": alpha, "max_iter": max_iter, "tol": tol}
    est = _estimator(method, seed, {k: v for k, v in fit_options.items() if v is not None})
    wanted = {"--item-col": item_col, "--annotator-col": annotator_col, "--label-col": label_col}
    items, annotators, labels = read_answers(answers, wanted)
    start = time.perf_counter()
    est.fit(items, annotators, labels)
    seconds = time.perf_counter() - start
    result = est.results()
    rows = zip(
        result["item"].tolist(),
        result["label"].tolist(),
        (f"{p:.6g}" for p in result["posterior"]),
        strict=True,
    )
    if output is None:
        _write(sys.stdout, rows)
    else:
        try:
            with output.open("w", newline="", encoding="utf-8") as f:
                _write(f, rows)
        except OSError as exc:
            raise ConfigError(f"{output} (-o) cannot be written: {exc}") from None
    where = f"; written to {output}" if output is not None else ""
    Console(stderr=True).print(
        f"[bold]{len(est.item_ids_):,}[/] items, [bold]{len(est.annotator_ids_):,}[/] annotators, "
        f"{len(items):,} answers, {len(est.label_ids_)} labels; method [bold]{method}[/] "
        f"in {seconds:.3f} s{_convergence(est)}{where}",
        highlight=False,
        soft_wrap=True,
    )


def _estimator(method: str, seed: int, fit_options: dict[str, Any]) -> Any:
    """The aggregator, its parameters checked before any file is read; EM options given to a
    method without EM are refused."""
    from labelloop.quality.aggregation import AGGREGATORS, make_aggregator
    from labelloop.quality.aggregation.em import EMAggregator

    if fit_options and not issubclass(AGGREGATORS[method], EMAggregator):
        given = ", ".join(f"--{name.replace('_', '-')}" for name in fit_options)
        em = ", ".join(n for n, cls in AGGREGATORS.items() if issubclass(cls, EMAggregator))
        raise typer.BadParameter(
            f"{given}: options of the methods fitted by EM ({em}), not of {method!r}",
            param_hint="--method",
        )
    est = make_aggregator(method, random_state=seed, **fit_options)
    try:
        est._validate_params()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return est


def _convergence(est: Any) -> str:
    """How the EM fit ended, for the summary; empty for methods without EM."""
    if not hasattr(est, "converged_"):
        return ""
    runs = f"{est.n_iter_} iteration{'s' if est.n_iter_ != 1 else ''}"
    if est.converged_:
        return f"; converged in {runs}"
    return f"; [yellow]did not converge[/] in {runs} (tol {est.tol:g}): raise --max-iter or --tol"


def _write(f: Any, rows: Any) -> None:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(["item", "label", "posterior"])
    writer.writerows(rows)

"""Write export rows as JSONL, CSV or Parquet, or save them as a Hugging Face dataset.

Rows stream through in batches of :data:`BATCH_ROWS`. A file is written under a temporary name
beside ``path`` and renamed into place at the end, so a failed export leaves nothing half-written.
CSV and Parquet take their columns from the first batch; a later row with another column raises
``ValueError`` rather than losing it. Lists (multi-label) are JSON lists in JSONL, ``a|b`` in CSV
and ``list<string>`` in Parquet; nested objects are JSON strings in CSV and Parquet.

CSV text that a spreadsheet could run as a formula gets a ``'`` in front
(:mod:`labelloop.io.csv_cells`, undone when labelloop reads the file).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from labelloop._validation import check_choice
from labelloop.io.csv_cells import guard
from labelloop.io.formats import FORMATS

BATCH_ROWS = 10_000

Rows = Iterable[dict[str, Any]]


def write_rows(rows: Rows, path: str | Path, fmt: str) -> int:
    """Write ``rows`` to ``path`` as ``fmt`` (jsonl, csv or parquet); return how many."""
    check_choice("write_rows", "fmt", fmt, FORMATS)
    writers: dict[str, Callable[[Iterator[dict[str, Any]], Path], int]] = {
        "jsonl": _write_jsonl,
        "csv": _write_csv,
        "parquet": _write_parquet,
    }
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        count = writers[fmt](iter(rows), tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def write_hf_dataset(rows: list[dict[str, Any]], path: str | Path) -> None:
    """Save ``rows`` as a Hugging Face dataset with ``save_to_disk`` (needs ``labelloop[hf]``)."""
    try:
        import datasets
    except ImportError as exc:
        raise ImportError(
            "Exporting a Hugging Face dataset needs the 'datasets' package: "
            "pip install 'labelloop[hf]'"
        ) from exc
    datasets.Dataset.from_list(rows).save_to_disk(str(path))


def _write_jsonl(rows: Iterator[dict[str, Any]], path: Path) -> int:
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
            count += 1
    return count


def _columns(batch: list[dict[str, Any]]) -> list[str]:
    """Every key of ``batch`` in order of first appearance."""
    return list(dict.fromkeys(key for row in batch for key in row))


def _check_columns(row: dict[str, Any], known: set[str], number: int) -> None:
    extra = row.keys() - known
    if extra:
        raise ValueError(
            f"row {number} has column(s) {', '.join(sorted(extra))} that the first "
            f"{BATCH_ROWS} rows do not have; give every row the same keys"
        )


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "|".join(str(part) for part in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def _write_csv(rows: Iterator[dict[str, Any]], path: Path) -> int:
    first = list(islice(rows, BATCH_ROWS))
    columns = _columns(first)
    known = set(columns)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        if columns:
            writer.writerow([guard(column) for column in columns])
        for count, row in enumerate(chain(first, rows), 1):
            _check_columns(row, known, count)
            writer.writerow([guard(_csv_cell(row.get(column))) for column in columns])
    return count


def _parquet_row(row: dict[str, Any]) -> dict[str, Any]:
    if not any(isinstance(value, dict) for value in row.values()):
        return row
    return {
        key: json.dumps(value, sort_keys=True, ensure_ascii=False)
        if isinstance(value, dict)
        else value
        for key, value in row.items()
    }


def _schema(table: pa.Table) -> pa.Schema:
    """The first batch's schema, with all-null columns typed as strings (or string lists)."""
    fields = []
    for field in table.schema:
        if pa.types.is_null(field.type):
            field = field.with_type(pa.string())
        elif pa.types.is_list(field.type) and pa.types.is_null(field.type.value_type):
            field = field.with_type(pa.list_(pa.string()))
        fields.append(field)
    return pa.schema(fields)


def _write_parquet(rows: Iterator[dict[str, Any]], path: Path) -> int:
    count = 0
    writer: pq.ParquetWriter | None = None
    try:
        while batch := [_parquet_row(row) for row in islice(rows, BATCH_ROWS)]:
            table = _table(batch, writer.schema if writer else None, count)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
            count += len(batch)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        pq.write_table(pa.table({}), path)
    return count


def _table(batch: list[dict[str, Any]], schema: pa.Schema | None, done: int) -> pa.Table:
    """Arrow table of ``batch``; the first one fixes the schema that later ones must fit."""
    try:
        if schema is None:
            table = pa.Table.from_pylist(batch)
            return table.cast(_schema(table))
        known = set(schema.names)
        for number, row in enumerate(batch, done + 1):
            _check_columns(row, known, number)
        return pa.Table.from_pylist(batch, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(
            f"rows {done + 1}-{done + len(batch)} do not fit one column type per column ({exc})"
        ) from exc

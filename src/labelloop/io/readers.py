"""Stream the records of a JSONL, CSV or Parquet file as ``(line, record)`` pairs.

A record that cannot be parsed comes out as a :class:`~labelloop.errors.Reject` in place of the
dict, so one bad line never stops the stream. Only a file that cannot be read at all raises
:class:`~labelloop.errors.InputFileError`, and it does so when :func:`read_records` is called,
before the first record. Nothing holds more than one line (or one Parquet batch) in memory.

"Line" is the physical line where the record starts (JSONL, CSV: the header is line 1) or the
1-based row number (Parquet). A CSV cell loses the ``'`` labelloop's export put in front of text
a spreadsheet could run (:func:`~labelloop.io.csv_cells.unguard`).
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from labelloop.errors import InputFileError, Reject
from labelloop.io.csv_cells import unguard
from labelloop.io.formats import detect_format

Record = dict[str, Any]
Row = tuple[int, Record | Reject]

PARQUET_BATCH_ROWS = 10_000


def read_records(path: str | Path, *, fmt: str | None = None) -> Iterator[Row]:
    """Yield ``(line, record_or_reject)`` for every record of ``path``.

    The format comes from the suffix (``.jsonl``, ``.ndjson``, ``.csv``, ``.parquet``) unless
    ``fmt`` (``jsonl``, ``csv`` or ``parquet``) is given.
    """
    path = Path(path)
    kind = detect_format(path, fmt)
    _check_readable(path)
    if kind == "jsonl":
        return _read_jsonl(path)
    if kind == "csv":
        return _read_csv(path)
    try:
        pq.read_metadata(path)
    except (pa.ArrowException, OSError) as exc:
        raise _file_error(path, f"not a readable Parquet file ({exc})") from None
    return _read_parquet(path)


def _file_error(path: Path, reason: str) -> InputFileError:
    """The error for a file that cannot be read at all (line 0: the file as a whole)."""
    return InputFileError([Reject(str(path), 0, None, reason)])


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise _file_error(path, "file not found")
    if not path.is_file():
        raise _file_error(path, "not a file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise _file_error(path, f"cannot read ({exc.strerror})") from None


def _json_kind(value: object) -> str:
    kinds = {list: "an array", str: "a string", bool: "true/false", type(None): "null"}
    return kinds.get(type(value), "a number")


def _read_jsonl(path: Path) -> Iterator[Row]:
    name = str(path)
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield lineno, Reject(name, lineno, None, f"not valid UTF-8 (byte {exc.start + 1})")
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                reason = f"invalid JSON: {exc.msg} (column {exc.colno})"
                yield lineno, Reject(name, lineno, None, reason)
                continue
            except (ValueError, RecursionError) as exc:
                yield lineno, Reject(name, lineno, None, f"invalid JSON: {exc}")
                continue
            if isinstance(value, dict):
                yield lineno, value
            else:
                reason = f"expected a JSON object, got {_json_kind(value)}"
                yield lineno, Reject(name, lineno, None, reason)


def _decoded_lines(f: BinaryIO, bad: set[int]) -> Iterator[str]:
    """Decode ``f`` line by line, noting in ``bad`` the numbers of lines that are not UTF-8."""
    for lineno, raw in enumerate(f, 1):
        if lineno == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.add(lineno)
            yield raw.decode("utf-8", "replace")


def _read_csv(path: Path) -> Iterator[Row]:
    name = str(path)
    bad: set[int] = set()
    with path.open("rb") as f:
        # strict: a quote never closed is an error, not a field swallowing the rest of the file
        reader = csv.reader(_decoded_lines(f, bad), strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield 1, Reject(name, 1, None, f"cannot parse the CSV header: {exc}")
            return
        header = [unguard(column) for column in header]
        problem = _header_problem(header, bad)
        if problem is not None:
            yield 1, Reject(name, 1, *problem)
            return
        width = len(header)
        last = reader.line_num
        while True:
            start = last + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last = reader.line_num
                yield start, Reject(name, start, None, f"cannot parse CSV: {exc}")
                continue
            last = reader.line_num
            if bad and not bad.isdisjoint(range(start, last + 1)):
                bad.clear()
                yield start, Reject(name, start, None, "not valid UTF-8")
            elif len(row) == width:
                yield start, dict(zip(header, map(unguard, row), strict=True))
            elif row:  # an empty row is a blank line
                reason = f"expected {width} columns as in the header, got {len(row)}"
                yield start, Reject(name, start, None, reason)


def _header_problem(header: list[str], bad: set[int]) -> tuple[str | None, str] | None:
    if bad:
        return None, "the header is not valid UTF-8"
    if not header:
        return None, "line 1 must be the header (the column names); it is empty"
    seen: set[str] = set()
    for column in header:
        if column in seen:
            return column, "the header names this column twice"
        seen.add(column)
    return None


def _read_parquet(path: Path) -> Iterator[Row]:
    name = str(path)
    pf = pq.ParquetFile(path)
    row = 0
    try:
        temporal = [
            field.name
            for field in pf.schema_arrow
            if pa.types.is_timestamp(field.type)
            or pa.types.is_date(field.type)
            or pa.types.is_time(field.type)
        ]
        for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for record in _plain(batch).to_pylist():
                row += 1
                for column in temporal:  # datetimes become ISO 8601 strings
                    if record[column] is not None:
                        record[column] = record[column].isoformat()
                yield row, record
    except pa.ArrowException as exc:
        yield row + 1, Reject(name, row + 1, None, f"cannot read the rest of the file ({exc})")
    finally:
        pf.close()


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Cast decimal columns to float64 so every value is a plain JSON type."""
    if not any(pa.types.is_decimal(field.type) for field in batch.schema):
        return batch
    columns = [
        column.cast(pa.float64()) if pa.types.is_decimal(column.type) else column
        for column in batch.columns
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)

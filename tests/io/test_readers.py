"""read_records: every format, line numbers, bad lines as rejects, unreadable files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelloop.errors import InputFileError, Reject
from labelloop.io.readers import read_records


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_lines_blank_lines_and_bad_json(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.jsonl",
        '{"text": "one"}\n\n{"text": oops}\n[1, 2]\n{"text": "five"}\n',
    )
    rows = list(read_records(path))
    assert [line for line, _ in rows] == [1, 3, 4, 5]
    assert rows[0] == (1, {"text": "one"})
    assert isinstance(rows[1][1], Reject)
    assert rows[1][1].line == 3
    assert "invalid JSON" in rows[1][1].reason
    assert isinstance(rows[2][1], Reject)
    assert "expected a JSON object, got an array" in rows[2][1].reason
    assert rows[3] == (5, {"text": "five"})


def test_jsonl_invalid_utf8_is_a_reject(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_bytes(b'\xef\xbb\xbf{"text": "bom"}\n{"text": "\xff"}\n{"text": "ok"}\n')
    rows = list(read_records(path))
    assert rows[0] == (1, {"text": "bom"})
    assert isinstance(rows[1][1], Reject)
    assert rows[1][1].line == 2
    assert rows[2] == (3, {"text": "ok"})


def test_csv_multiline_field_keeps_line_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.csv",
        'id,text\n1,plain\n2,"spans\nthree\nlines"\n\n3,after\n4,"x",extra\n5,last\n',
    )
    rows = list(read_records(path))
    assert rows[0] == (2, {"id": "1", "text": "plain"})
    assert rows[1] == (3, {"id": "2", "text": "spans\nthree\nlines"})
    assert rows[2] == (7, {"id": "3", "text": "after"})
    line, reject = rows[3]
    assert line == 8
    assert isinstance(reject, Reject)
    assert reject.line == 8
    assert "expected 2 columns" in reject.reason
    assert rows[4] == (9, {"id": "5", "text": "last"})


def test_csv_ragged_short_row_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n3\r\n4,5\r\n")
    rows = list(read_records(path))
    assert rows[0] == (2, {"a": "1", "b": "2"})
    assert isinstance(rows[1][1], Reject)
    assert rows[1][0] == 3
    assert rows[2] == (4, {"a": "4", "b": "5"})


def test_csv_duplicate_header_and_empty_file(tmp_path: Path) -> None:
    rows = list(read_records(_write(tmp_path / "dup.csv", "a,a\n1,2\n")))
    assert len(rows) == 1
    assert isinstance(rows[0][1], Reject)
    assert rows[0][1].field == "a"
    assert list(read_records(_write(tmp_path / "empty.csv", ""))) == []


def test_parquet_row_numbers_and_plain_types(tmp_path: Path) -> None:
    import datetime
    import decimal

    path = tmp_path / "a.parquet"
    table = pa.table(
        {
            "text": ["a", "b", "c"],
            "at": [datetime.datetime(2024, 1, 2, 3, 4, 5), None, None],
            "amount": pa.array([decimal.Decimal("1.50"), None, None], pa.decimal128(5, 2)),
        }
    )
    pq.write_table(table, path, row_group_size=2)
    rows = list(read_records(path))
    assert [line for line, _ in rows] == [1, 2, 3]
    assert rows[0][1] == {"text": "a", "at": "2024-01-02T03:04:05", "amount": 1.5}


def test_fmt_overrides_suffix(tmp_path: Path) -> None:
    path = _write(tmp_path / "data.txt", '{"text": "x"}\n')
    assert list(read_records(path, fmt="jsonl")) == [(1, {"text": "x"})]


def test_unknown_suffix_missing_file_and_bad_parquet(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"unknown file format '\.txt'"):
        read_records(_write(tmp_path / "data.txt", "x"))
    with pytest.raises(ValueError, match="'fmt' parameter"):
        read_records(tmp_path / "data.txt", fmt="xml")
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputFileError, match="file not found") as info:
        read_records(missing)
    assert info.value.rejects[0].file == str(missing)
    with pytest.raises(InputFileError, match="not a readable Parquet file"):
        read_records(_write(tmp_path / "bad.parquet", "not parquet"))

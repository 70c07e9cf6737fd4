"""write_rows round trips through read_records; the Hugging Face export; content hashes."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pytest

from labelloop.config import ProjectConfig
from labelloop.errors import Reject
from labelloop.io.hashing import dir_sha256, file_sha256
from labelloop.io.items import iter_items
from labelloop.io.readers import read_records
from labelloop.io.records import ItemRecord
from labelloop.io.writers import write_hf_dataset, write_rows

ROWS = [
    {"id": "a", "text": 'first, "quoted"\nline', "labels": ["art", "tech"], "meta": {"k": 1}},
    {"id": "b", "text": "second", "labels": [], "meta": {"k": 2}},
    {"id": "c", "text": "third", "labels": ["law"], "meta": None},
]


def _read(path: Path) -> list[dict]:
    records = [record for _, record in read_records(path)]
    assert not any(isinstance(r, Reject) for r in records)
    return records  # type: ignore[return-value]


def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    assert write_rows(iter(ROWS), path, "jsonl") == 3
    assert _read(path) == ROWS


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    assert write_rows(ROWS, path, "csv") == 3
    back = _read(path)
    assert back[0] == {
        "id": "a",
        "text": 'first, "quoted"\nline',
        "labels": "art|tech",
        "meta": '{"k": 1}',
    }
    assert back[2]["meta"] == ""


def test_parquet_round_trip_with_lists(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "out.parquet"
    assert write_rows(ROWS, path, "parquet") == 3
    labels_type = pq.read_schema(path).field("labels").type
    assert pa.types.is_list(labels_type)
    assert labels_type.value_type == pa.string()
    back = _read(path)
    assert [r["labels"] for r in back] == [["art", "tech"], [], ["law"]]
    assert back[0]["meta"] == '{"k": 1}'


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_exported_items_import_again(tmp_path: Path, multi_config: ProjectConfig, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    write_rows(({k: v for k, v in r.items() if k != "meta"} for r in ROWS), path, fmt)
    items = list(iter_items(path, config=multi_config))
    assert all(isinstance(i, ItemRecord) for i in items)
    assert [(i.key, i.label) for i in items] == [  # type: ignore[union-attr]
        ("id:a", ["art", "tech"]),
        ("id:b", None),
        ("id:c", ["law"]),
    ]


def test_parquet_all_null_first_column_and_empty(tmp_path: Path) -> None:
    rows = [{"label": None}] * 3 + [{"label": "pos"}]
    assert write_rows(rows, tmp_path / "n.parquet", "parquet") == 4
    assert write_rows([], tmp_path / "e.parquet", "parquet") == 0
    assert list(read_records(tmp_path / "e.parquet")) == []
    assert write_rows([], tmp_path / "e.csv", "csv") == 0


def test_new_column_fails_without_leaving_a_file(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    rows = ({"a": i} if i < 10_005 else {"a": i, "b": 1} for i in range(10_010))
    with pytest.raises(ValueError, match="row 10006 has column"):
        write_rows(rows, path, "csv")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="'fmt' parameter"):
        write_rows([], path, "xlsx")


def test_hf_dataset_round_trip(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = [{k: v for k, v in r.items() if k != "meta"} for r in ROWS]
    write_hf_dataset(rows, tmp_path / "hf")
    back = datasets.load_from_disk(str(tmp_path / "hf"))
    assert back.to_list() == rows
    write_hf_dataset(rows, tmp_path / "again")
    assert dir_sha256(tmp_path / "hf") == dir_sha256(tmp_path / "again")


def test_hf_export_without_datasets_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` fail
    with pytest.raises(ImportError, match=r"pip install 'labelloop\[hf\]'"):
        write_hf_dataset([{"a": 1}], tmp_path / "hf")


def test_content_hashes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        (root / "sub").mkdir(parents=True)
        (root / "x.txt").write_text("x", encoding="utf-8")
        (root / "sub" / "y.txt").write_text("y", encoding="utf-8")
    assert file_sha256(a / "x.txt") == file_sha256(b / "x.txt")
    assert dir_sha256(a) == dir_sha256(b)
    (b / "sub" / "y.txt").rename(b / "sub" / "z.txt")
    assert dir_sha256(a) != dir_sha256(b)
    with pytest.raises(NotADirectoryError):
        dir_sha256(a / "x.txt")

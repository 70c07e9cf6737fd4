"""The import-speed benchmark runs end to end on SQLite with tiny sizes (no timing assertions)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.import_speed import format_table, run


def test_import_speed_runs_on_tiny_sizes(tmp_path: Path):
    rows = run(
        items=500, naive_items=50, backends=["sqlite"], formats=["jsonl", "csv"], tmp=tmp_path
    )
    assert [(r.fmt, r.method, r.items) for r in rows] == [
        ("jsonl", "import_file", 500),
        ("csv", "import_file", 500),
        ("jsonl", "executemany", 500),
        ("jsonl", "row_by_row", 50),
    ]
    assert all(r.seconds > 0 and r.peak_rss_mb > 0 for r in rows)
    assert "peak RSS MB" in format_table(rows)

"""The task-latency benchmark runs end to end on SQLite with tiny sizes (no timing assertions)."""

from __future__ import annotations

from benchmarks.task_latency import format_table, run_backend


def test_task_latency_runs_on_tiny_sizes():
    row = run_backend("sqlite", items=500, annotators=4, seconds=2)
    assert row.backend == "sqlite"
    assert row.requests > 0
    assert row.double_assignments == 0
    assert row.lost == 0
    assert row.doubled == 0
    assert "double assignments" in format_table([row])

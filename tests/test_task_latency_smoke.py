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


def test_task_latency_runs_against_a_server_process(tmp_path):
    log = tmp_path / "server.log"
    row = run_backend("sqlite", items=500, annotators=4, seconds=2, workers=1, server_log=log)
    assert not row.refused, row.refused
    assert row.workers == 1
    assert row.requests > 0
    assert not [k for k in row.errors if " 5" in k], row.errors
    assert (row.double_assignments, row.lost, row.doubled) == (0, 0, 0)
    assert log.exists()
    assert "| 1 " in format_table([row])


def test_label_studio_comparison_runs_our_side_without_label_studio(tmp_path, capsys):
    from benchmarks.label_studio_load import main

    missing = tmp_path / "no-label-studio"
    main(["--items", "300", "--annotators", "3", "--seconds", "2", "--label-studio", str(missing)])
    out = capsys.readouterr().out
    assert f"Label Studio is not installed at {missing}" in out
    assert "labelloop (sqlite)" in out and "Label Studio 1" not in out

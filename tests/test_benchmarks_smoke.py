"""The selection-speed benchmark runs end to end on tiny sizes (no timing assertions)."""

from __future__ import annotations

from benchmarks.selection_speed import format_table, run


def test_selection_speed_runs_on_tiny_sizes():
    rows = run(n_proba=2_000, n_classes=5, n_embed=300, dim=8, n_labelled=20, batch=10, repeats=1)
    assert [r.method for r in rows] == [
        "least_confidence",
        "margin",
        "entropy",
        "random",
        "kcenter",
        "hybrid",
        "density_cluster",
    ]
    assert all(r.seconds > 0 and r.baseline_seconds > 0 for r in rows)
    assert "speed-up" in format_table(rows)

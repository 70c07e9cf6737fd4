"""The login-burst benchmark runs end to end on SQLite with tiny sizes (no timing assertions)."""

from __future__ import annotations

from benchmarks.login_burst import PHASES, format_table, run_backend


def test_login_burst_runs_against_a_server_process(tmp_path):
    rows = run_backend("sqlite", burst=15, users=2, seconds=1.5, log_dir=tmp_path)
    assert [r.phase for r in rows] == [phase.name for phase in PHASES]
    quiet, health, *logins = rows
    assert quiet.hashes == 0 and not quiet.answers and quiet.requests > 0
    assert health.hashes == 0 and health.answers == {"200": 15}
    for row in logins:
        assert sum(row.answers.values()) == 15 and set(row.answers) <= {"401", "429", "429 busy"}
        assert 1 <= row.hashes == row.answers["401"] <= row.limit  # spoofed addresses too
    assert not any(row.errors for row in rows)
    assert "others p99 ms" in format_table(rows)

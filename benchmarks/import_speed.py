"""Bulk import speed and memory: a million text items from JSONL and CSV into SQLite and PostgreSQL.

A deterministic file of ``--items`` short texts with ids is written to a temp dir (JSONL and CSV).
Each import runs in a child process of its own, into a new project on a fresh store (a SQLite file;
a PostgreSQL database created here and dropped afterwards), and reports its seconds and its peak
RSS (``ru_maxrss`` of the importing process; "growth" is the peak minus the peak before the import
started, i.e. what the import itself added to an interpreter with labelloop loaded).

Methods, side by side:

* ``import_file``   — the library (:func:`labelloop.loop.importing.import_file`): one transaction,
  batches of 5,000, COPY on PostgreSQL, executemany on SQLite, holdout top-up;
* ``executemany``   — the previous path, rebuilt here: the same stream, key check per batch of
  5,000 and a plain SQLAlchemy executemany insert (no holdout top-up). It gets the library's
  ``plan_cache_mode`` guard on PostgreSQL: without it a generic plan can turn the key check into
  a full scan per batch (seen: over 8 s a batch at 500,000 rows), which would measure luck;
* ``row_by_row``    — naive: one INSERT statement per item, same transaction; run on
  ``--naive-items`` only (it is slow), and said so in the table.

Run: ``python benchmarks/import_speed.py [--items 1000000] [--naive-items 50000]
[--backends sqlite,postgresql] [--formats jsonl,csv] [--quick]`` (``--quick``: 50,000 items,
naive on 10,000).
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import ``benchmarks`` from the repository root instead
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
from sqlalchemy import Connection, select

from benchmarks.stores import aligned, fresh_store

WORDS = ("good", "bad", "fine", "poor", "great", "awful", "ok", "meh", "nice", "dull")
METHODS = ("import_file", "executemany", "row_by_row")
BATCH = 5000


@dataclass
class Row:
    """One import's result."""

    backend: str
    fmt: str
    method: str
    items: int
    seconds: float
    peak_rss_mb: float
    rss_growth_mb: float

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds if self.seconds else float("nan")


# -- the file and the store ------------------------------------------------------------------


def write_items(tmp: Path, n: int, fmt: str, *, random_state: int = 0) -> Path:
    """``n`` short texts with ids, the same for a given ``random_state``; JSONL or CSV."""
    rng = np.random.default_rng(random_state)
    path = tmp / f"items_{n}.{fmt}"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh) if fmt == "csv" else None
        if out is not None:
            out.writerow(["id", "text"])
        for start in range(0, n, 100_000):
            words = rng.integers(0, len(WORDS), size=(min(100_000, n - start), 8))
            for k, row in enumerate(words, start):
                line = " ".join(WORDS[w] for w in row) + f" {k}"
                if out is not None:
                    out.writerow([f"i{k}", line])
                else:
                    fh.write(json.dumps({"id": f"i{k}", "text": line}) + "\n")
    return path


# -- the child: one import, timed ------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _baseline_import(project: Any, path: Path, *, row_by_row: bool) -> int:
    """The previous path (executemany per batch) or the naive one (a statement per row)."""
    from labelloop.errors import Reject
    from labelloop.io.items import iter_items
    from labelloop.store import tables as t
    from labelloop.store.bulk import plan_each_statement

    def flush(conn: Connection, batch: list[Any]) -> int:
        keys = [r.key for r in batch]
        existing = set(
            conn.execute(
                select(t.items.c.key).where(
                    t.items.c.project_id == project.id, t.items.c.key.in_(keys)
                )
            ).scalars()
        )
        order = project.rng.random(len(batch))
        rows = [
            {
                "project_id": project.id,
                "key": r.key,
                "data": r.data,
                "given_label": r.label,
                "is_holdout": False,
                "status": "new",
                "tier": None,
                "skill": None,
                "priority": float(u),
            }
            for r, u in zip(batch, order, strict=True)
            if r.key not in existing
        ]
        if row_by_row:
            for row in rows:
                conn.execute(t.items.insert().values(**row))
        elif rows:
            conn.execute(t.items.insert(), rows)
        return len(rows)

    added = 0
    batch: list[Any] = []
    with project.writer.begin() as conn:
        plan_each_statement(conn)
        for record in iter_items(path, config=project.config):
            if isinstance(record, Reject):
                continue
            batch.append(record)
            if len(batch) >= BATCH:
                added += flush(conn, batch)
                batch.clear()
        if batch:
            added += flush(conn, batch)
    return added


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    from labelloop.loop.project import Project, connect
    from labelloop.settings import Settings

    settings = Settings(data_dir=Path(spec["data_dir"]), database_url=spec["url"])
    engine = connect(settings, spec["url"])
    project = Project.create(
        {"name": "bulk", "labels": ["a", "b"], "retrain": {"every": 10**9}},
        engine=engine,
        settings=settings,
        retrain="off",
        random_state=0,
    )
    before = _peak_rss_mb()
    start = time.perf_counter()
    if spec["method"] == "import_file":
        added = project.import_file(Path(spec["path"])).added
    else:
        added = _baseline_import(
            project, Path(spec["path"]), row_by_row=spec["method"] == "row_by_row"
        )
    seconds = time.perf_counter() - start
    peak = _peak_rss_mb()
    project.close()
    engine.dispose()
    return {"added": added, "seconds": seconds, "peak": peak, "growth": peak - before}


# -- the parent ------------------------------------------------------------------------------


def run_one(backend: str, fmt: str, method: str, path: Path, n: int, tmp: Path) -> Row:
    """Import ``path`` (``n`` items) with ``method`` into a fresh ``backend`` store, in a child."""
    if method not in METHODS:
        raise ValueError(
            f"The 'method' parameter must be one of {', '.join(METHODS)}. Got {method!r} instead."
        )
    with fresh_store(backend, tmp) as url:
        spec = {"url": url, "path": str(path), "method": method, "data_dir": str(tmp / "data")}
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode:
        raise RuntimeError(f"the {backend}/{method} import failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["added"] != n:
        raise RuntimeError(f"the {backend}/{method} import added {result['added']}, not {n}")
    return Row(backend, fmt, method, n, result["seconds"], result["peak"], result["growth"])


def run(
    *,
    items: int,
    naive_items: int,
    backends: list[str],
    formats: list[str],
    tmp: Path,
) -> list[Row]:
    """Every backend × format with the library, and each baseline on JSONL."""
    files = {fmt: write_items(tmp, items, fmt) for fmt in formats}
    naive = write_items(tmp, naive_items, "jsonl")
    rows = []
    for backend in backends:
        for fmt in formats:
            rows.append(run_one(backend, fmt, "import_file", files[fmt], items, tmp))
            print(_progress(rows[-1]), flush=True)
        if "jsonl" in files:
            rows.append(run_one(backend, "jsonl", "executemany", files["jsonl"], items, tmp))
            print(_progress(rows[-1]), flush=True)
        rows.append(run_one(backend, "jsonl", "row_by_row", naive, naive_items, tmp))
        print(_progress(rows[-1]), flush=True)
    return rows


def _progress(row: Row) -> str:
    return f"  {row.backend} {row.fmt} {row.method}: {row.items:,} items in {row.seconds:.1f} s"


def format_table(rows: list[Row]) -> str:
    """One table, backends and methods side by side."""
    head = (
        "backend",
        "format",
        "method",
        "items",
        "seconds",
        "items/s",
        "peak RSS MB",
        "growth MB",
    )
    body = [
        (
            r.backend,
            r.fmt,
            r.method,
            f"{r.items:,}",
            f"{r.seconds:.1f}",
            f"{r.items_per_s:,.0f}",
            f"{r.peak_rss_mb:.0f}",
            f"{r.rss_growth_mb:.0f}",
        )
        for r in rows
    ]
    return aligned(head, body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--naive-items", type=int, default=50_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--formats", default="jsonl,csv")
    parser.add_argument("--quick", action="store_true", help="50,000 items, naive on 10,000")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    if args.quick:
        args.items, args.naive_items = 50_000, 10_000
    with tempfile.TemporaryDirectory(prefix="labelloop-import-") as tmp_name:
        print(f"writing {args.items:,} items, importing ...", flush=True)
        rows = run(
            items=args.items,
            naive_items=args.naive_items,
            backends=args.backends.split(","),
            formats=args.formats.split(","),
            tmp=Path(tmp_name),
        )
    print()
    print(format_table(rows))
    print(f"\nrow_by_row runs on {args.naive_items:,} items only (one statement per item is slow).")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2))


if __name__ == "__main__":
    main()

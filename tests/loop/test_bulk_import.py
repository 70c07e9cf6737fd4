"""Imports larger than one batch: still one transaction (COPY on PostgreSQL), labels kept."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from labelloop.errors import InputFileError
from labelloop.loop.importing import BATCH
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings
from labelloop.store import tables as t

N = BATCH + 300  # two batches


@pytest.fixture
def project(store_url: str, tmp_path: Path) -> Iterator[Project]:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    engine = connect(settings)
    project = Project.create(
        {
            "name": "bulk",
            "labels": ["neg", "pos"],
            "label_field": "label",
            "routing": {"holdout_size": 30},
        },
        engine=engine,
        settings=settings,
        retrain="off",
        random_state=0,
    )
    yield project
    project.close()
    engine.dispose()


def _write(path: Path, n: int, tail: str = "") -> Path:
    with path.open("w") as fh:
        for k in range(n):
            row = {"id": f"i{k}", "text": f"review number {k}"}
            if k % 10 == 0:
                row["label"] = "pos" if k % 20 else "neg"
            fh.write(json.dumps(row) + "\n")
        fh.write(tail)
    return path


def _count(project: Project, table: object) -> int:
    with project.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_reject_after_the_first_batch_stores_nothing(project: Project, tmp_path: Path):
    path = _write(tmp_path / "bad.jsonl", N, tail='{"id": "late"}\n')
    with pytest.raises(InputFileError) as err:
        project.import_file(path)
    assert [r.line for r in err.value.rejects] == [N + 1]
    assert _count(project, t.items) == 0
    assert _count(project, t.final_labels) == 0
    report = project.import_file(path, skip_invalid=True)
    assert (report.added, report.rejected) == (N, 1)


def test_a_large_import_keeps_labels_and_holdout_and_is_idempotent(
    project: Project, tmp_path: Path
):
    path = _write(tmp_path / "items.jsonl", N)
    first = project.import_file(path)
    assert (first.added, first.unchanged, first.with_labels) == (N, 0, (N + 9) // 10)
    assert first.holdout_added == 30
    second = project.import_file(path)
    assert (second.added, second.unchanged, second.holdout_added) == (0, N, 0)
    with project.engine.connect() as conn:
        labels = dict(
            conn.execute(
                select(t.items.c.key, t.final_labels.c.label).join(
                    t.final_labels, t.final_labels.c.item_id == t.items.c.id
                )
            ).all()
        )
        statuses = dict(
            conn.execute(select(t.items.c.status, func.count()).group_by(t.items.c.status)).all()
        )
    assert labels["id:i0"] == "neg" and labels["id:i10"] == "pos" and len(labels) == (N + 9) // 10
    assert statuses == {"labelled": (N + 9) // 10, "new": N - (N + 9) // 10}

"""Label errors over a project's final labels: ranking, routing to reviewers, the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from labelloop.cli.main import app
from labelloop.errors import ConfigError, ModelError
from labelloop.loop.project import Project, connect
from labelloop.loop.queue import HOLDOUT_PRIORITY, SUSPECT_PRIORITY, peek
from labelloop.settings import Settings
from labelloop.store import tables as t

WORDS = {
    "pos": ["great", "lovely", "excellent", "fun", "superb", "enjoyable"],
    "neg": ["awful", "boring", "terrible", "dull", "poor", "tedious"],
}
N_LABELLED, N_NEW = 120, 20
OTHER = {"pos": "neg", "neg": "pos"}


def _truth(i: int) -> str:
    return "pos" if i % 2 else "neg"


def _write(path: Path, flipped: set[int]) -> Path:
    """``N_LABELLED`` reviews with imported labels (``flipped`` ones wrong), then ``N_NEW``
    without a label (the import draws its holdout from those)."""
    lines = []
    for i in range(N_LABELLED + N_NEW):
        words = [WORDS[_truth(i)][(i * 7 + k) % 6] for k in range(3)]
        row = {"id": i, "text": " ".join([*words, "film", "plot"])}
        if i < N_LABELLED:
            row["label"] = OTHER[_truth(i)] if i in flipped else _truth(i)
        lines.append(json.dumps(row) + "\n")
    path.write_text("".join(lines))
    return path


@pytest.fixture
def noisy(store_url: str, tmp_path: Path):
    """A project whose imported labels are 10 % wrong, and the keys of the wrong ones."""
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    engine = connect(settings)
    config = {
        "name": "reviews",
        "labels": ["neg", "pos"],
        "label_field": "label",
        "routing": {"holdout_size": 10},
        "retrain": {"every": 1000},
        "tasks": {"overlap": 3},
    }
    project = Project.create(
        config, engine=engine, settings=settings, retrain="off", random_state=0
    )
    flipped = set(np.random.default_rng(0).choice(N_LABELLED, 12, replace=False).tolist())
    project.import_file(_write(tmp_path / "items.jsonl", flipped))
    yield project, {f"id:{i}" for i in flipped}
    project.close()
    engine.dispose()


def _events(project: Project, action: str) -> list[dict]:
    with project.engine.connect() as conn:
        return list(
            conn.execute(
                select(t.events.c.payload).where(
                    t.events.c.project_id == project.id, t.events.c.action == action
                )
            ).scalars()
        )


def test_flipped_labels_rank_first(noisy) -> None:
    project, wrong = noisy
    found = project.find_label_errors(n_splits=3)
    assert (found.n_items, found.n_flagged) == (N_LABELLED, len(found.suspects))
    keys = [s.key for s in found.suspects]
    k = len(wrong)
    assert len(set(keys[:k]) & wrong) / min(k, len(keys)) >= 0.9  # precision at k
    assert len(set(keys) & wrong) >= 0.75 * k  # recall
    scores = [s.score for s in found.suspects]
    assert scores == sorted(scores)
    for s in found.suspects:
        assert s.source == "imported"
        assert s.given != s.suggested
        assert s.index == s.item_id - 1  # the items are the first 120, in id order
    assert found.routed == 0 and found.annotators == []
    assert _events(project, "item.suspect") == []
    assert [s.key for s in project.find_label_errors(n_splits=3, top=3).suspects] == keys[:3]


def test_route_sends_suspects_to_reviewers_until_one_decides(noisy) -> None:
    project, _ = noisy
    found = project.find_label_errors(n_splits=3, top=4, route=True, actor="admin")
    assert found.routed == 4 and all(s.routed for s in found.suspects)
    queue = peek(project.context, 10, tier="reviewer")
    assert [q["item_id"] for q in queue] == [s.item_id for s in found.suspects]
    assert all(SUSPECT_PRIORITY < q["priority"] < HOLDOUT_PRIORITY for q in queue)
    events = _events(project, "item.suspect")
    assert [e["item_id"] for e in events] == [s.item_id for s in found.suspects]
    assert {e["suggested"] for e in events} <= {"neg", "pos"}
    with project.engine.connect() as conn:  # the final labels stay until a reviewer decides
        kept = dict(
            conn.execute(
                select(t.final_labels.c.item_id, t.final_labels.c.label).where(
                    t.final_labels.c.item_id.in_([s.item_id for s in found.suspects])
                )
            ).all()
        )
    assert kept == {s.item_id: s.given for s in found.suspects}

    again = project.find_label_errors(n_splits=3, top=4, route=True)
    assert again.routed == 0  # still waiting: left alone
    assert len(_events(project, "item.suspect")) == 4
    assert peek(project.context, 10, tier="reviewer") == queue

    first = found.suspects[0]
    (task,) = project.next_tasks(1, tier="reviewer", annotator="rita")
    assert task.item_id == first.item_id
    result = project.annotate(task.item_id, first.suggested, annotator="rita", task_id=task.id)
    assert result.decided
    with project.engine.connect() as conn:
        final = conn.execute(
            select(t.final_labels).where(t.final_labels.c.item_id == first.item_id)
        ).one()
        status = conn.execute(
            select(t.items.c.status).where(t.items.c.id == first.item_id)
        ).scalar()
    assert (final.label, final.source, final.decided_by) == (first.suggested, "adjudicated", "rita")
    assert status == "labelled"
    assert len(peek(project.context, 10, tier="reviewer")) == 3


def test_overlapping_answers_rate_the_annotators(noisy) -> None:
    project, _ = noisy
    with project.engine.connect() as conn:
        new = conn.execute(
            select(t.items.c.id, t.items.c.key).where(
                t.items.c.project_id == project.id, t.items.c.status == "new"
            )
        ).all()
    for item_id, key in new:
        truth = _truth(int(key.removeprefix("id:")))
        for who, label in (("ann", truth), ("bo", truth), ("cy", OTHER[truth])):
            project.annotate(item_id, label, annotator=who)
    found = project.find_label_errors(n_splits=3)
    assert found.n_items == N_LABELLED + N_NEW
    assert found.annotators[0].annotator == "cy"  # worst first
    assert {a.annotator: a.n_items for a in found.annotators} == {
        "ann": N_NEW,
        "bo": N_NEW,
        "cy": N_NEW,
    }
    quality = {a.annotator: a.quality for a in found.annotators}
    assert quality["cy"] < min(quality["ann"], quality["bo"])


@pytest.fixture
def engine(store_url: str, tmp_path: Path):
    engine = connect(Settings(data_dir=tmp_path / "data", database_url=store_url))
    yield engine
    engine.dispose()


def test_multi_label_projects_and_too_few_items_are_refused(engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    multi = Project.create(
        {"name": "tags", "labels": ["a", "b"], "multi_label": True},
        engine=engine,
        settings=settings,
        retrain="off",
    )
    with pytest.raises(ConfigError, match="not supported for multi-label classification projects"):
        multi.find_label_errors()
    single = Project.create(
        {"name": "empty", "labels": ["a", "b"]}, engine=engine, settings=settings, retrain="off"
    )
    with pytest.raises(ModelError, match="has 0 decided items"):
        single.find_label_errors()
    with pytest.raises(ValueError, match="'n_splits' parameter"):
        single.find_label_errors(n_splits=1)


def test_cli_finds_and_routes_a_projects_suspects(noisy, store_url: str, tmp_path: Path) -> None:
    project, wrong = noisy
    out = tmp_path / "suspects.csv"
    store = ["--data-dir", str(project.settings.data_dir), "--db", store_url]
    args = ["find-errors", "--project", "reviews", "--route", "--top", "5", "-o", str(out)]
    result = CliRunner().invoke(app, [*store, *args])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == [
        "rank",
        "index",
        "given",
        "suggested",
        "score",
        "item",
        "key",
        "source",
    ]
    assert len(rows) == 5 and len({r["key"] for r in rows} & wrong) >= 4
    assert "sent 5 to the reviewer queue" in " ".join(result.stderr.split())
    assert [q["key"] for q in peek(project.context, 10, tier="reviewer")] == [
        r["key"] for r in rows
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["--project", "reviews", "--labels", "l.npy", "--probs", "p.npy"],
        ["--labels", "l.npy"],
        [],
    ],
)
def test_cli_wants_a_project_or_both_files(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path), "find-errors", *args])
    assert result.exit_code == 2
    assert "give --labels and --probs, or --project" in " ".join(result.output.split())

"""The loop through the library API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from labelloop.errors import ConfigError, InputFileError, NotFoundError
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings
from labelloop.store import tables as t
from labelloop.store.events import verify_chain

WORDS = {
    "pos": ["great", "lovely", "excellent", "fun", "superb", "enjoyable"],
    "neg": ["awful", "boring", "terrible", "dull", "poor", "tedious"],
}


def _texts(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = [*rng.choice(WORDS[label], size=3).tolist(), "film", "plot"]
        rows.append(
            {
                "id": i,
                "text": " ".join(words),
                "amount": int(rng.integers(0, 20000)),
                "truth": label,
            }
        )
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "truth"}) + "\n" for r in rows)
    )
    return path


def _config() -> dict:
    return {
        "name": "reviews",
        "labels": ["neg", "pos"],
        "guidelines": "Is the review positive?",
        "routing": {
            "target_accuracy": 0.95,
            "holdout_size": 20,
            "rules": [{"when": "amount > 19000", "tier": "expert"}],
        },
        "retrain": {"every": 10},
        "query": {"batch_size": 10},
    }


@pytest.fixture
def project(store_url: str, tmp_path: Path) -> Project:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    engine = connect(settings)
    proj = Project.create(
        _config(), engine=engine, settings=settings, retrain="sync", random_state=0
    )
    yield proj
    proj.close()
    engine.dispose()


def test_duplicate_project_name_is_refused(project: Project) -> None:
    with pytest.raises(ConfigError, match="exists already"):
        Project.create(project.config, engine=project.engine, settings=project.settings)


def test_import_is_idempotent_and_draws_a_holdout(project: Project, tmp_path: Path) -> None:
    rows = _texts(200)
    path = _write_jsonl(tmp_path / "items.jsonl", rows)
    first = project.import_file(path)
    second = project.import_file(path)
    assert (first.added, first.unchanged) == (200, 0)
    assert (second.added, second.unchanged) == (0, 200)
    info = project.status()
    assert info["items"] == 200
    assert info["holdout"]["size"] == 20
    expert = sum(1 for r in rows if r["amount"] > 19000)
    assert info["queue"].get("expert", 0) == expert


def test_bad_file_imports_nothing_and_names_every_reject(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1, "text": "fine"}\n{"id": 2}\nnot json\n{"id": 4, "text": "ok"}\n')
    with pytest.raises(InputFileError) as err:
        project.import_file(path)
    lines = sorted(r.line for r in err.value.rejects)
    assert lines == [2, 3]
    assert any(r.field == "text" for r in err.value.rejects)
    assert project.status()["items"] == 0
    report = project.import_file(path, skip_invalid=True)
    assert (report.added, report.rejected) == (2, 2)
    written = [json.loads(line) for line in report.rejects_path.read_text().splitlines()]
    assert sorted(r["line"] for r in written) == [2, 3]


def _label_all(project: Project, truth: dict[str, str], rounds: int = 100) -> int:
    done = 0
    for _ in range(rounds):
        project.wait()  # background mode: the retrains and round evaluations the answers queued
        tasks = project.next_tasks(10)
        if not tasks:
            outcome = project.route()
            if outcome.action in ("started", "passed", "failed"):
                continue
            break
        for task in tasks:
            project.annotate(
                task.item_id, truth[task.key], annotator="ann", client_key=f"k{task.id}"
            )
            done += 1
    return done


def test_the_loop_trains_promotes_routes_and_exports(project: Project, tmp_path: Path) -> None:
    rows = _texts(400)
    project.import_file(_write_jsonl(tmp_path / "items.jsonl", rows))
    truth = {f"id:{r['id']}": r["truth"] for r in rows}
    labels_used = _label_all(project, truth)
    info = project.status()
    assert info["models"], "a model was trained"
    assert info["models"][0]["status"] == "promoted"
    assert all("accuracy" in m for m in info["models"][1:])
    # Every item is decided; routed (expert) items are never auto-accepted.
    assert info["by_status"].get("new", 0) == info["queue"].get("expert", 0)
    passed = [r for r in info["rounds"] if r["status"] == "passed"]
    assert passed, info["rounds"]
    assert labels_used < 400
    with project.engine.connect() as conn:
        autos = conn.execute(
            select(
                t.final_labels.c.source,
                t.final_labels.c.decided_by,
                t.final_labels.c.model_version,
                t.final_labels.c.confidence,
            ).where(t.final_labels.c.source == "auto")
        ).all()
        assert autos and all(a.decided_by.startswith("model:v") and a.confidence for a in autos)
        audit = verify_chain(conn)
        predictions = conn.execute(select(t.predictions.c.id)).all()
    assert audit.events > labels_used and audit.breaks == []
    assert len(predictions) <= 2 * 400, "stale versions' predictions are pruned"
    version = project.export(tmp_path / "out.jsonl", fmt="jsonl")
    exported = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(exported) == version.n_items
    assert {e["label_source"] for e in exported} >= {"human", "auto"}
    again = project.export(tmp_path / "again.jsonl", fmt="jsonl")
    assert again.id == version.id and again.content_hash == version.content_hash


def test_annotation_retry_with_the_same_key_is_stored_once(
    project: Project, tmp_path: Path
) -> None:
    project.import_file(_write_jsonl(tmp_path / "items.jsonl", _texts(30)))
    task = project.next_tasks(1)[0]
    first = project.annotate(task.item_id, "pos", annotator="a", client_key="retry-1")
    second = project.annotate(task.item_id, "pos", annotator="a", client_key="retry-1")
    assert first.created and not second.created
    assert first.annotation_id == second.annotation_id
    with project.engine.connect() as conn:
        assert len(conn.execute(select(t.annotations)).all()) == 1


def test_annotation_checks_label_and_item(project: Project, tmp_path: Path) -> None:
    project.import_file(_write_jsonl(tmp_path / "items.jsonl", _texts(5)))
    with pytest.raises(ConfigError, match="not one of"):
        project.annotate(1, "maybe", annotator="a")
    with pytest.raises(NotFoundError):
        project.annotate(10_000, "pos", annotator="a")


def test_holdout_and_audit_tasks_hide_the_model_suggestion(
    project: Project, tmp_path: Path
) -> None:
    rows = _texts(100)
    project.import_file(_write_jsonl(tmp_path / "items.jsonl", rows))
    first = project.next_tasks(20)
    assert {task.kind for task in first} == {"holdout"}
    assert all(task.suggestion is None for task in first)


def test_guideline_versions_are_recorded_on_annotations(project: Project, tmp_path: Path) -> None:
    project.import_file(_write_jsonl(tmp_path / "items.jsonl", _texts(10)))
    assert project.guideline_version() == 1
    assert project.update_guidelines("New rule: sarcasm is negative.", author="lead") == 2
    task = project.next_tasks(1)[0]
    project.annotate(task.item_id, "neg", annotator="a")
    with project.engine.connect() as conn:
        row = conn.execute(select(t.annotations.c.guideline_version)).one()
        final = conn.execute(select(t.final_labels.c.guideline_version)).one()
    assert row.guideline_version == 2 and final.guideline_version == 2


def test_in_the_background_retrains_and_audit_rounds_run_as_durable_jobs(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    engine = connect(settings)
    project = Project.create(
        _config(), engine=engine, settings=settings, retrain="background", random_state=0
    )
    try:
        rows = _texts(400)
        project.import_file(_write_jsonl(tmp_path / "items.jsonl", rows))
        _label_all(project, {f"id:{r['id']}": r["truth"] for r in rows})
        project.wait()
        info = project.status()
        assert [r for r in info["rounds"] if r["status"] == "passed"], info["rounds"]
        with engine.connect() as conn:
            jobs = conn.execute(select(t.jobs.c.kind, t.jobs.c.status)).all()
        assert {kind for kind, _ in jobs} == {"train", "route"}
        assert {status for _, status in jobs} == {"done"}
    finally:
        project.close()
        engine.dispose()

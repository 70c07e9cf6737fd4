"""Pool scoring in batches: in-process and on a local Ray instance, with the same predictions.

Ray tests skip when ray is not importable, unless LABELLOOP_REQUIRE_RAY=1 (CI), where they fail.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from labelloop.errors import ConfigError
from labelloop.learn.batch_scoring import BatchScorer, import_ray, score_batches
from labelloop.learn.features import TfidfFeaturizer
from labelloop.learn.models import LogisticModel
from labelloop.loop import scoring
from labelloop.loop.pool_scoring import gather, score_pool
from labelloop.loop.project import Project, connect
from labelloop.loop.scoring import model_inputs, rescore
from labelloop.settings import Settings
from labelloop.store import tables as t
from labelloop.store.bulk import insert_rows

# Ray Data's DataContext sets its own deprecated fields when it is first created.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

WORDS = {
    "neg": ["awful", "boring", "terrible", "dull", "poor", "tedious"],
    "pos": ["great", "lovely", "excellent", "fun", "superb", "enjoyable"],
}


def _rows(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        noise = rng.choice(WORDS["neg" if label == "pos" else "pos"], size=1).tolist()
        words = [*rng.choice(WORDS[label], size=2).tolist(), *noise, "film"]
        rows.append({"id": i, "text": " ".join(words), "truth": label})
    return rows


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    """A local Ray instance for this module's tests, shut down afterwards."""
    try:
        ray = import_ray()
    except ConfigError:
        if os.environ.get("LABELLOOP_REQUIRE_RAY") == "1":
            pytest.fail("LABELLOOP_REQUIRE_RAY=1 but ray is not importable")
        pytest.skip("ray is not installed (pip install 'labelloop[ray]')")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture
def make_project(store_url: str, tmp_path: Path) -> Iterator[Any]:
    """Projects on one fresh store, closed and disposed of afterwards."""
    made: list[Project] = []

    def make(name: str, *, scoring: str = "local", retrain: str = "off") -> Project:
        settings = Settings(
            data_dir=tmp_path / "data", database_url=store_url, scoring=scoring, ray_workers=1
        )
        config = {
            "name": name,
            "labels": ["neg", "pos"],
            "guidelines": "Is the review positive?",
            "routing": {"holdout_size": 10},
            "retrain": {"every": 30, "min_labels": 10},
        }
        project = Project.create(
            config, engine=connect(settings), settings=settings, retrain=retrain, random_state=0
        )
        made.append(project)
        return project

    yield make
    for project in made:
        project.close()
        project.engine.dispose()


def _import_and_label(project: Project, tmp_path: Path, n: int = 120, n_labels: int = 40) -> None:
    rows = _rows(n)
    path = tmp_path / f"{project.name}.jsonl"
    path.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows))
    project.import_file(path)
    truth = {f"id:{r['id']}": r["truth"] for r in rows}
    labelled = 0
    while labelled < n_labels:
        tasks = project.next_tasks(10)
        for task in tasks:
            project.annotate(task.item_id, truth[task.key], annotator="ann")
        labelled += len(tasks)


def _predictions(project: Project) -> list[tuple[int, Any, float]]:
    p, mv = t.predictions, t.model_versions
    with project.engine.connect() as conn:
        rows = conn.execute(
            select(p.c.item_id, p.c.label, p.c.confidence)
            .join(mv, mv.c.id == p.c.model_version_id)
            .where(mv.c.project_id == project.id, mv.c.status == "promoted")
            .order_by(p.c.item_id)
        ).all()
    first = min(r.item_id for r in rows)
    return [(r.item_id - first, r.label, r.confidence) for r in rows]


def test_batch_scorer_matches_one_model_call_in_process_and_on_ray(ray_session: Any) -> None:
    rows = _rows(90)
    featurizer = TfidfFeaturizer().fit(rows)
    y = np.array([r["truth"] == "pos" for r in rows], dtype=np.int64)
    model = LogisticModel(2, random_state=0).fit(featurizer.transform(rows), y)
    expected = model.predict_proba(featurizer.transform(rows))
    ids = np.arange(100, 190, dtype=np.int64)
    batches = [
        {"item_id": ids[at : at + 25], "data": [json.dumps(r) for r in rows[at : at + 25]]}
        for at in range(0, 90, 25)
    ]
    scorer = BatchScorer(model, featurizer)
    for executor in ("local", "ray"):
        out = list(score_batches(batches, scorer, executor=executor, workers=2))
        assert len(out) == len(batches)
        got = np.concatenate([b["item_id"] for b in out])
        order = np.argsort(got)
        assert np.array_equal(got[order], ids)
        proba = np.concatenate([b["proba"] for b in out])[order]
        np.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-15)


def test_score_batches_checks_its_parameters() -> None:
    scorer = BatchScorer(None, None)
    with pytest.raises(ValueError, match="'executor' parameter of score_batches"):
        list(score_batches([], scorer, executor="spark"))
    with pytest.raises(ValueError, match="'workers' parameter of score_batches"):
        list(score_batches([], scorer, workers=0))
    with pytest.raises(ValidationError):
        Settings(scoring="spark")


def test_ray_without_the_extra_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"labelloop\[ray\]"):
        import_ray()


def test_local_and_ray_pool_scoring_agree_batch_by_batch(
    ray_session: Any, make_project: Any, tmp_path: Path
) -> None:
    project = make_project("reviews")
    _import_and_label(project, tmp_path)
    assert project.train() is not None
    loaded = project.current_model()
    assert loaded is not None
    cache = project.feature_cache()
    X = model_inputs(project.context, project.features, loaded.featurizer, cache.item_ids)
    results = {}
    for executor in ("local", "ray"):
        batches = list(
            score_pool(project.context, loaded, cache.item_ids, X, executor=executor, batch_size=7)
        )
        assert len(batches) == math.ceil(len(cache.item_ids) / 7)
        assert all(len(b.item_ids) <= 7 for b in batches)
        results[executor] = (gather(cache.item_ids, batches, 2), batches)
    (proba_local, conf_local), local = results["local"]
    (proba_ray, conf_ray), on_ray = results["ray"]
    np.testing.assert_allclose(proba_ray, proba_local, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(conf_ray, conf_local, rtol=1e-12, atol=1e-15)
    labels = {int(i): lab for b in local for i, lab in zip(b.item_ids, b.labels, strict=True)}
    assert labels == {
        int(i): lab for b in on_ray for i, lab in zip(b.item_ids, b.labels, strict=True)
    }


def test_rescore_writes_the_predictions_batch_by_batch(
    make_project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project("reviews")
    _import_and_label(project, tmp_path)
    assert project.train() is not None
    loaded = project.current_model()
    assert loaded is not None
    with project.writer.begin() as conn:
        version_id = conn.execute(
            select(t.model_versions.c.id).where(t.model_versions.c.project_id == project.id)
        ).scalar_one()
        conn.execute(t.predictions.delete())  # training scored the pool already
    inserts: list[int] = []

    def counted(conn: Any, table: Any, rows: Any) -> None:
        if table is t.predictions:
            inserts.append(len(rows))
        insert_rows(conn, table, rows)

    monkeypatch.setattr(scoring, "insert_rows", counted)
    rescore(project.context, project.features, loaded, version_id, batch_size=16)
    assert inserts == [16] * 7 + [8]
    with project.engine.connect() as conn:
        stored = conn.execute(
            select(func.count())
            .select_from(t.predictions)
            .where(t.predictions.c.model_version_id == version_id)
        ).scalar()
    assert stored == 120


def test_a_project_scored_on_ray_retrains_and_rescores_like_a_local_one(
    ray_session: Any, make_project: Any, tmp_path: Path
) -> None:
    local = make_project("local", retrain="sync")
    on_ray = make_project("on-ray", scoring="ray", retrain="sync")
    for project in (local, on_ray):
        _import_and_label(project, tmp_path, n_labels=60)
        assert project.status()["models"], "a model was trained and promoted"
    ray_predictions = _predictions(on_ray)
    assert len(ray_predictions) == 120
    assert [p[:2] for p in ray_predictions] == [p[:2] for p in _predictions(local)]
    np.testing.assert_allclose(
        [p[2] for p in ray_predictions], [p[2] for p in _predictions(local)], rtol=1e-12
    )


def test_the_scoring_speed_benchmark_runs_on_a_tiny_pool() -> None:
    from benchmarks.scoring_speed import format_table, tfidf_rows

    rows = _rows(2_100)
    texts = [r["text"] for r in rows]
    labels = np.array([r["truth"] == "pos" for r in rows], dtype=np.int64)
    table = tfidf_rows(texts, labels, 2_100, batch=500, workers=1, use_ray=False)
    assert [r.executor for r in table] == ["local, cached features", "local, featurize"]
    assert all(r.n_items == 2_100 and r.seconds > 0 for r in table)
    assert "items/s" in format_table(table)

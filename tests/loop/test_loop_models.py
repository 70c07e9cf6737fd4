"""Multi-label projects, plug-in models and background retraining through the loop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from labelloop.loop.project import Project, connect
from labelloop.settings import Settings
from labelloop.store import tables as t


class KeywordModel:
    """A plug-in model over raw items: says 'spam' when the text mentions 'win'."""

    def __init__(self, n_classes: int, multi_label: bool = False) -> None:
        self.n_classes = n_classes
        self.multi_label = multi_label

    def fit(self, X: np.ndarray, y: np.ndarray) -> KeywordModel:
        self.seen_ = len(X)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        spam = np.array(["win" in item["text"] for item in X])
        return np.where(spam[:, None], [[0.1, 0.9]], [[0.9, 0.1]])


def _open(tmp_path: Path, store_url: str, config: dict, **kwargs) -> Project:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    return Project.create(
        config, engine=connect(settings), settings=settings, random_state=0, **kwargs
    )


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_multi_label_items_train_and_predict_label_sets(tmp_path: Path, store_url: str) -> None:
    topics = ["sport", "money", "tech"]
    rng = np.random.default_rng(0)
    rows, truth = [], {}
    for i in range(150):
        chosen = sorted(t for t in topics if rng.random() < 0.5) or ["tech"]
        rows.append({"id": i, "text": " ".join(f"{c} {c}word" for c in chosen)})
        truth[f"id:{i}"] = chosen
    project = _open(
        tmp_path,
        store_url,
        {
            "name": "topics",
            "labels": topics,
            "multi_label": True,
            "routing": {"holdout_size": 20},
            "retrain": {"every": 20},
        },
        retrain="sync",
    )
    project.import_file(_jsonl(tmp_path / "items.jsonl", rows))
    for _ in range(8):
        for task in project.next_tasks(10):
            project.annotate(task.item_id, truth[task.key], annotator="a")
    info = project.status()
    assert info["models"] and info["models"][-1]["accuracy"] > 0.8
    with project.engine.connect() as conn:
        labels = conn.execute(select(t.predictions.c.label)).scalars().all()
    assert all(isinstance(x, list) and set(x) <= set(topics) for x in labels)
    project.close()
    project.engine.dispose()


def test_a_plugin_model_is_trained_and_scores_the_pool(tmp_path: Path, store_url: str) -> None:
    rows = [
        {"id": i, "text": "win a prize" if i % 3 == 0 else "meeting at noon"} for i in range(60)
    ]
    project = _open(
        tmp_path,
        store_url,
        {
            "name": "spam",
            "labels": ["ham", "spam"],
            "model": {"kind": "plugin", "plugin": "test_loop_models:KeywordModel"},
            "routing": {"holdout_size": 10},
            "retrain": {"every": 10},
        },
        retrain="off",
    )
    project.import_file(_jsonl(tmp_path / "items.jsonl", rows))
    for task in project.next_tasks(30):
        project.annotate(
            task.item_id, "spam" if "win" in task.data["text"] else "ham", annotator="a"
        )
    info = project.train()
    assert info is not None and info.promoted and info.metrics["accuracy"] == 1.0
    suggestion = project.next_tasks(1)[0]
    expected = "spam" if "win" in suggestion.data["text"] else "ham"
    assert suggestion.suggestion == expected and suggestion.confidence == pytest.approx(0.9)
    project.close()
    project.engine.dispose()


def test_labels_retrain_in_the_background(tmp_path: Path, store_url: str) -> None:
    rows = [
        {"id": i, "text": ("good great" if i % 2 else "bad awful") + f" {i}"} for i in range(80)
    ]
    project = _open(
        tmp_path,
        store_url,
        {
            "name": "bg",
            "labels": ["neg", "pos"],
            "routing": {"holdout_size": 10},
            "retrain": {"every": 10},
        },
        retrain="background",
    )
    project.import_file(_jsonl(tmp_path / "items.jsonl", rows))
    for task in project.next_tasks(30):
        project.annotate(
            task.item_id, "pos" if "good" in task.data["text"] else "neg", annotator="a"
        )
    project.wait()
    assert project.status()["models"], "a model version was trained in the background"
    project.close()
    project.engine.dispose()

"""Run the whole loop through the library API with simulated annotators on a labelled dataset."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from labelloop.config import ProjectConfig, QueryConfig, RetrainConfig, RoutingConfig
from labelloop.io.readers import read_records
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings
from labelloop.simulation.annotators import Annotator
from labelloop.store import tables as t


@dataclass(frozen=True)
class LabelledData:
    """Items (each with an ``id``), their true labels, and the project config to label them."""

    records: list[dict[str, Any]]
    truth: list[str]
    config: ProjectConfig


@dataclass
class SimulationResult:
    """A finished simulated run."""

    strategy: str
    curve: list[tuple[int, float]] = field(default_factory=list)
    final_label_accuracy: float = 0.0
    human_share: float = 0.0
    labels_used: int = 0
    decided_share: float = 0.0
    auto_accepted: int = 0
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


def digits_data(
    *,
    target_accuracy: float = 0.99,
    batch_size: int = 20,
    retrain_every: int = 50,
    strategy: str = "margin",
) -> LabelledData:
    """scikit-learn's bundled 8×8 digits as an image-classification project."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    fields = tuple(f"p{i}" for i in range(digits.data.shape[1]))
    records = [
        {"id": f"digit-{n}", **dict(zip(fields, map(float, row), strict=True))}
        for n, row in enumerate(digits.data)
    ]
    config = ProjectConfig(
        name="digits",
        labels=tuple(str(d) for d in range(10)),
        data="image",
        feature_fields=fields,
        image_shape=(8, 8),
        guidelines="Type the digit you see (0-9). If unsure, pick the most likely one.",
        query=QueryConfig(strategy=strategy, batch_size=batch_size),
        routing=RoutingConfig(target_accuracy=target_accuracy),
        retrain=RetrainConfig(every=retrain_every),
    )
    return LabelledData(records, [str(d) for d in digits.target], config)


def file_data(path: Path, config: ProjectConfig) -> LabelledData:
    """Items and true labels from a file whose ``config.label_field`` holds the truth."""
    if not config.label_field:
        raise ValueError("simulating on a file needs label_field, the column with the truth")
    records, truth = [], []
    for n, record in read_records(path):
        if not isinstance(record, dict):
            raise ValueError(str(record))
        record = dict(record)
        truth.append(str(record.pop(config.label_field)))
        record.setdefault(config.id_field or "id", str(n))
        records.append(record)
    return LabelledData(records, truth, config.model_copy(update={"label_field": None}))


def run_simulation(
    data: LabelledData,
    annotator: Annotator,
    *,
    strategy: str | None = None,
    max_labels: int | None = None,
    random_state: int = 0,
    workdir: Path | None = None,
    on_train: Callable[[Project, SimulationResult], None] | None = None,
) -> SimulationResult:
    """Label ``data`` with ``annotator`` through the loop until every item is decided.

    The model retrains every ``config.retrain.every`` labels, the router certifies auto-accept
    rounds as soon as they can pass, and the run stops when nothing is left (or at
    ``max_labels``); ``on_train`` sees the project after every retrain. Returns the learning
    curve (human labels, holdout accuracy) and the finished
    dataset's accuracy against the truth.
    """
    config = data.config
    if strategy is not None:
        config = config.model_copy(
            update={"query": config.query.model_copy(update={"strategy": strategy})}
        )
    rng = np.random.default_rng(random_state)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        settings = Settings(data_dir=Path(tmp))
        engine = connect(settings)
        try:
            project = Project.create(
                config, engine=engine, settings=settings, retrain="off", random_state=random_state
            )
            items_file = Path(tmp) / "items.jsonl"
            items_file.write_text("".join(json.dumps(r) + "\n" for r in data.records))
            project.import_file(items_file)
            truth = {
                f"id:{r[config.id_field or 'id']}": y
                for r, y in zip(data.records, data.truth, strict=True)
            }
            result = SimulationResult(strategy=config.query.strategy)
            _label_until_done(project, annotator, truth, rng, result, max_labels, on_train)
            _finish(project, truth, result)
        finally:
            engine.dispose()
    return result


def _label_until_done(
    project: Project,
    annotator: Annotator,
    truth: dict[str, str],
    rng: np.random.Generator,
    result: SimulationResult,
    max_labels: int | None,
    on_train: Callable[[Project, SimulationResult], None] | None,
) -> None:
    batch = project.config.query.batch_size
    while max_labels is None or result.labels_used < max_labels:
        tasks = project.next_tasks(batch)
        if not tasks:
            outcome = project.route()
            if outcome.action in ("passed", "failed", "started"):
                continue
            if project.labels_since_last_model() > 0 and project.train() is not None:
                continue
            return
        for task in tasks:
            name, label = annotator.answer(task.key, truth[task.key], rng)
            project.annotate(task.item_id, label, annotator=name, task_id=task.id)
            result.labels_used += 1
        if project.labels_since_last_model() >= project.config.retrain.every:
            info = project.train()
            if info is not None and "accuracy" in info.metrics:
                result.curve.append((result.labels_used, info.metrics["accuracy"]))
            if info is not None and on_train is not None:
                on_train(project, result)
        else:
            project.route()


def _finish(project: Project, truth: dict[str, str], result: SimulationResult) -> None:
    with project.engine.connect() as conn:
        rows = conn.execute(
            select(t.items.c.key, t.final_labels.c.label, t.final_labels.c.source)
            .join(t.final_labels, t.final_labels.c.item_id == t.items.c.id)
            .where(t.items.c.project_id == project.id)
        ).all()
    n = len(truth)
    result.final_label_accuracy = sum(r.label == truth[r.key] for r in rows) / n
    result.human_share = sum(r.source == "human" for r in rows) / n
    result.decided_share = len(rows) / n
    result.auto_accepted = sum(r.source == "auto" for r in rows)
    result.rounds = project.status()["rounds"]

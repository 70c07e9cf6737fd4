"""Training a model version on the human labels, judging it on the holdout, promoting it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, func, select

from labelloop.learn.calibration import TemperatureScaling, expected_calibration_error
from labelloop.learn.models import make_model
from labelloop.learn.persistence import save_model
from labelloop.loop.labelcodec import encode
from labelloop.loop.project import LoadedModel
from labelloop.loop.scoring import model_inputs, rescore
from labelloop.routing.bounds import clopper_pearson_upper
from labelloop.store import tables as t
from labelloop.store.events import append_event

if TYPE_CHECKING:
    from labelloop.loop.project import Project

MIN_CALIBRATION = 20
TRAINING_SOURCES = ("human", "adjudicated", "imported")


@dataclass(frozen=True)
class ModelVersionInfo:
    """A trained version, its holdout metrics, and whether it replaced the current one."""

    version: int
    promoted: bool
    metrics: dict[str, Any]


def labelled(conn: Connection, project: Project, *, holdout: bool) -> tuple[np.ndarray, list[Any]]:
    """Item ids (sorted) and final labels of the training set or of the human holdout."""
    sources = ("human", "adjudicated") if holdout else TRAINING_SOURCES
    rows = conn.execute(
        select(t.final_labels.c.item_id, t.final_labels.c.label)
        .join(t.items, t.items.c.id == t.final_labels.c.item_id)
        .where(
            t.final_labels.c.project_id == project.id,
            t.items.c.is_holdout == holdout,
            t.final_labels.c.source.in_(sources),
        )
        .order_by(t.final_labels.c.item_id)
    ).all()
    return np.array([r.item_id for r in rows], dtype=np.int64), [r.label for r in rows]


def labels_since_last_model(project: Project) -> int:
    """Training labels gathered since the newest model version was trained."""
    with project.engine.connect() as conn:
        have = (
            conn.execute(
                select(func.count())
                .select_from(t.final_labels)
                .join(t.items, t.items.c.id == t.final_labels.c.item_id)
                .where(
                    t.final_labels.c.project_id == project.id,
                    ~t.items.c.is_holdout,
                    t.final_labels.c.source.in_(TRAINING_SOURCES),
                )
            ).scalar()
            or 0
        )
        used = (
            conn.execute(
                select(t.model_versions.c.n_labels)
                .where(t.model_versions.c.project_id == project.id)
                .order_by(t.model_versions.c.version.desc())
                .limit(1)
            ).scalar()
            or 0
        )
    return int(have - used)


def holdout_metrics(config: Any, proba: np.ndarray, y: np.ndarray, alpha: float) -> dict[str, Any]:
    """Accuracy with a Clopper-Pearson interval, and calibration error, on the holdout."""
    n = len(y)
    if n == 0:
        return {"n_holdout": 0}
    if config.multi_label:
        correct = ((proba >= 0.5) == (y == 1)).all(axis=1)
    else:
        correct = proba.argmax(axis=1) == y
    errors = int(n - correct.sum())
    metrics: dict[str, Any] = {
        "n_holdout": n,
        "accuracy": float(correct.mean()),
        "accuracy_low": float(1.0 - clopper_pearson_upper(errors, n, alpha)),
    }
    if not config.multi_label:
        metrics["ece"] = float(expected_calibration_error(proba, y))
    return metrics


def train(project: Project, *, actor: str = "system") -> ModelVersionInfo | None:
    """Train on every labelled non-holdout item; promote if the holdout says it is not worse.

    Returns None while there are too few labels (``retrain.min_labels``) or a single class.
    """
    config = project.config
    cache = project.features()
    with project.engine.connect() as conn:
        train_ids, train_labels = labelled(conn, project, holdout=False)
        hold_ids, hold_labels = labelled(conn, project, holdout=True)
        version = t.latest_version(conn, t.model_versions, project.id) + 1
    y_train = encode(config, train_labels)
    if len(train_ids) < config.retrain.min_labels or _single_class(config, y_train):
        return None
    current = project.current_model()
    warm = current.model if current is not None and current.featurizer is cache.featurizer else None
    model = make_model(config, random_state=project.random_state, warm_start_from=warm)
    model.fit(cache.X[cache.rows(train_ids)], y_train)

    y_hold = encode(config, hold_labels)
    alpha = 1.0 - config.routing.confidence
    raw = model.predict_proba(cache.X[cache.rows(hold_ids)]) if len(hold_ids) else None
    # With no mistake on the holdout the fitted temperature runs to its bound and every
    # probability becomes one-hot, so keep T = 1 until the holdout has seen the model err.
    if raw is not None and len(hold_ids) >= MIN_CALIBRATION and _has_error(config, raw, y_hold):
        calibrator = TemperatureScaling(multi_label=config.multi_label).fit(raw, y_hold)
    else:
        calibrator = _uncalibrated(config)
    proba = calibrator.transform(raw) if raw is not None else np.empty((0, len(config.labels)))
    metrics = holdout_metrics(config, proba, y_hold, alpha)
    metrics["n_train"] = len(train_ids)
    promoted = current is None or "accuracy" not in metrics
    if current is not None and "accuracy" in metrics:
        X_hold = model_inputs(project, current.featurizer, hold_ids)
        before = current.calibrator.transform(current.model.predict_proba(X_hold))
        metrics["previous_accuracy"] = holdout_metrics(config, before, y_hold, alpha)["accuracy"]
        promoted = metrics["accuracy"] >= metrics["previous_accuracy"]

    path = project.settings.models_dir() / project.name / f"v{version}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(
        path,
        model=model,
        featurizer=cache.featurizer,
        calibrator=calibrator,
        meta={"project": project.name, "version": version, "metrics": metrics},
    )
    with project.writer.begin() as conn:
        version_id = t.inserted_id(
            conn.execute(
                t.model_versions.insert().values(
                    project_id=project.id,
                    version=version,
                    status="promoted" if promoted else "rejected",
                    n_labels=len(train_ids),
                    metrics=metrics,
                    path=str(Path(path).resolve()),
                )
            )
        )
        append_event(
            conn,
            actor=actor,
            action="model.promote" if promoted else "model.reject",
            project_id=project.id,
            payload={"version": version, "metrics": metrics},
        )
    if promoted:
        loaded = LoadedModel(version, model, cache.featurizer, calibrator, metrics)
        project.remember(loaded)
        rescore(project, loaded, version_id)
    return ModelVersionInfo(version, promoted, metrics)


def _has_error(config: Any, proba: np.ndarray, y: np.ndarray) -> bool:
    if config.multi_label:
        return bool(((proba >= 0.5) != (y == 1)).any())
    return bool((proba.argmax(axis=1) != y).any())


def _uncalibrated(config: Any) -> TemperatureScaling:
    """Temperature 1: too few holdout labels to fit one yet."""
    k = len(config.labels)
    return TemperatureScaling.from_state(
        {
            "multi_label": config.multi_label,
            "n_classes": k,
            "temperature": np.ones(k if config.multi_label else 1),
        }
    )


def _single_class(config: Any, y: np.ndarray) -> bool:
    if config.multi_label:
        return bool(y.sum() == 0)
    return len(np.unique(y)) < 2

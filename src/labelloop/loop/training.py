"""Training a model version on the human labels, judging it on the holdout, promoting it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labelloop.kinds import TaskKind, kind_for
from labelloop.learn.calibration import TemperatureScaling, expected_calibration_error
from labelloop.learn.persistence import save_model
from labelloop.loop.context import LoopContext
from labelloop.loop.feature_cache import Features
from labelloop.loop.model_registry import LoadedModel, ModelRegistry
from labelloop.loop.model_setup import model_for
from labelloop.loop.scoring import model_inputs, rescore
from labelloop.loop.training_set import labelled
from labelloop.routing.bounds import clopper_pearson_upper
from labelloop.store import locks
from labelloop.store import tables as t
from labelloop.store.events import append_event

MIN_CALIBRATION = 20


@dataclass(frozen=True)
class ModelVersionInfo:
    """A trained version, its holdout metrics, and whether it replaced the current one."""

    version: int
    promoted: bool
    metrics: dict[str, Any]


def holdout_metrics(
    kind: TaskKind, proba: np.ndarray, y: np.ndarray, alpha: float
) -> dict[str, Any]:
    """Accuracy with a Clopper-Pearson interval, and calibration error, on the holdout."""
    n = len(y)
    if n == 0:
        return {"n_holdout": 0}
    correct = kind.correct(proba, y)
    errors = int(n - correct.sum())
    metrics: dict[str, Any] = {
        "n_holdout": n,
        "accuracy": float(correct.mean()),
        "accuracy_low": float(1.0 - clopper_pearson_upper(errors, n, alpha)),
    }
    if not kind.independent_labels:
        metrics["ece"] = float(expected_calibration_error(proba, y))
    return metrics


def train(
    ctx: LoopContext, features: Features, models: ModelRegistry, *, actor: str = "system"
) -> ModelVersionInfo | None:
    """Train on every labelled non-holdout item; promote if the holdout says it is not worse.

    Returns None while there are too few labels (``retrain.min_labels``) or a single class.
    """
    config = ctx.config
    kind = kind_for(config)
    cache = features.get(ctx)
    with ctx.engine.connect() as conn:
        train_ids, train_labels = labelled(conn, ctx.id, holdout=False)
        hold_ids, hold_labels = labelled(conn, ctx.id, holdout=True)
    y_train = kind.targets(train_labels)
    if len(train_ids) < config.retrain.min_labels or not kind.trainable(y_train):
        return None
    current = models.current(ctx)
    warm = current.model if current is not None and current.featurizer is cache.featurizer else None
    model = model_for(config, random_state=ctx.random_state, warm_start_from=warm)
    model.fit(cache.X[cache.rows(train_ids)], y_train)

    y_hold = kind.targets(hold_labels)
    alpha = 1.0 - config.routing.confidence
    raw = model.predict_proba(cache.X[cache.rows(hold_ids)]) if len(hold_ids) else None
    # With no mistake on the holdout the fitted temperature runs to its bound and every
    # probability becomes one-hot, so keep T = 1 until the holdout has seen the model err.
    has_error = raw is not None and not kind.correct(raw, y_hold).all()
    if has_error and len(hold_ids) >= MIN_CALIBRATION:
        calibrator = TemperatureScaling(multi_label=kind.independent_labels).fit(raw, y_hold)
    else:
        calibrator = _uncalibrated(kind)
    proba = calibrator.transform(raw) if raw is not None else np.empty((0, len(config.labels)))
    metrics = holdout_metrics(kind, proba, y_hold, alpha)
    metrics["n_train"] = len(train_ids)
    promoted = current is None or "accuracy" not in metrics
    if current is not None and "accuracy" in metrics:
        X_hold = model_inputs(ctx, features, current.featurizer, hold_ids)
        before = current.calibrator.transform(current.model.predict_proba(X_hold))
        metrics["previous_accuracy"] = holdout_metrics(kind, before, y_hold, alpha)["accuracy"]
        promoted = metrics["accuracy"] >= metrics["previous_accuracy"]

    # The version number is taken, and its file written, in the transaction that records it,
    # under the project's models lock: two trainers of one project (two processes, or a job
    # beside `labelloop train`) never take one number or write one file.
    folder = ctx.settings.models_dir() / ctx.name
    folder.mkdir(parents=True, exist_ok=True)
    with ctx.writer.begin() as conn:
        locks.hold(conn, f"models:{ctx.id}")
        version = t.latest_version(conn, t.model_versions, ctx.id) + 1
        path = (folder / f"v{version}.npz").resolve()
        save_model(
            path,
            model=model,
            featurizer=cache.featurizer,
            calibrator=calibrator,
            meta={"project": ctx.name, "version": version, "metrics": metrics},
        )
        version_id = t.inserted_id(
            conn.execute(
                t.model_versions.insert().values(
                    project_id=ctx.id,
                    version=version,
                    status="promoted" if promoted else "rejected",
                    n_labels=len(train_ids),
                    metrics=metrics,
                    path=str(path),
                )
            )
        )
        append_event(
            conn,
            actor=actor,
            action="model.promote" if promoted else "model.reject",
            project_id=ctx.id,
            payload={"version": version, "metrics": metrics},
        )
    if promoted:
        loaded = LoadedModel(version, model, cache.featurizer, calibrator, metrics)
        models.remember(loaded)
        rescore(ctx, features, loaded, version_id)
    return ModelVersionInfo(version, promoted, metrics)


def _uncalibrated(kind: TaskKind) -> TemperatureScaling:
    """Temperature 1: too few holdout labels to fit one yet."""
    k = len(kind.labels)
    return TemperatureScaling.from_state(
        {
            "multi_label": kind.independent_labels,
            "n_classes": k,
            "temperature": np.ones(k if kind.independent_labels else 1),
        }
    )

"""Save and load a model version as one ``.npz`` file of explicit arrays and JSON, never a pickle.

Layout (``format_version`` 1)::

    format_version      int array, the layout version
    header              JSON string: {"format", "format_version", "model", "featurizer",
                        "calibrator", "meta"}, the non-array part of each component's state
    model.<key>         arrays of the model state (LogisticModel: coef, intercept, classes)
    featurizer.<key>    arrays of the featurizer state (TF-IDF: vocabulary as unicode, idf)
    calibrator.<key>    arrays of the calibrator state (temperature)

Plug-in models are saved as their ``'module:Class'`` spec plus ``n_classes`` and ``multi_label``
(read from the instance's attributes of those names) and re-created unfitted on load; their own
weights are the plug-in's business. HTTP models are saved as their URL and settings.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from labelloop.errors import ModelError
from labelloop.learn.calibration import TemperatureScaling
from labelloop.learn.features import Featurizer, State, featurizer_from_state
from labelloop.learn.models import HttpModel, LogisticModel, Model, load_plugin

FORMAT_VERSION = 1
_FORMAT = "labelloop-model"


def _model_state(model: Model) -> State:
    if isinstance(model, LogisticModel):
        return model.get_state()
    if isinstance(model, HttpModel):
        return {
            "kind": "http",
            "url": model.url,
            "n_classes": int(model.n_classes),
            "multi_label": bool(model.multi_label),
            "timeout_s": float(model.timeout_s),
            "batch_size": int(model.batch_size),
        }
    cls = type(model)
    if "<" in cls.__qualname__ or cls.__module__ == "__main__":
        raise ModelError(f"plugin class {cls.__qualname__} cannot be re-imported, so not saved")
    kwargs = {
        name: getattr(model, name) for name in ("n_classes", "multi_label") if hasattr(model, name)
    }
    return {"kind": "plugin", "spec": f"{cls.__module__}:{cls.__qualname__}", "kwargs": kwargs}


def _split(prefix: str, state: Mapping[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    plain = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                raise ModelError(f"{prefix} state '{key}' is an object array; it cannot be saved")
            arrays[f"{prefix}.{key}"] = value
        else:
            plain[key] = value
    return plain


def save_model(
    path: str | Path,
    *,
    model: Model,
    featurizer: Featurizer,
    calibrator: TemperatureScaling | None,
    meta: Mapping[str, Any],
) -> None:
    """Write ``model``, ``featurizer``, ``calibrator`` (or None) and JSON ``meta`` to ``path``.

    The file is written beside ``path`` and renamed into place, so readers never see half a file.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {"format_version": np.array(FORMAT_VERSION)}
    header = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "model": _split("model", _model_state(model), arrays),
        "featurizer": _split("featurizer", featurizer.get_state(), arrays),
        "calibrator": None
        if calibrator is None
        else _split("calibrator", calibrator.get_state(), arrays),
        "meta": dict(meta),
    }
    try:
        arrays["header"] = np.array(json.dumps(header, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{path}: model state or meta is not JSON-serialisable: {exc}") from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _join(
    prefix: str, plain: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    state = dict(plain)
    for name, value in arrays.items():
        if name.startswith(prefix + "."):
            state[name[len(prefix) + 1 :]] = value
    return state


def _read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path}: not a labelloop model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path}: cannot read model file: {exc}") from None
    if "format_version" not in arrays or "header" not in arrays:
        raise ModelError(f"{path}: not a labelloop model file (no format_version or header)")
    version = int(arrays.pop("format_version"))
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model file format_version {version}; this labelloop reads {FORMAT_VERSION}"
        )
    try:
        header = json.loads(str(arrays.pop("header")))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: model file header is not JSON: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise ModelError(f"{path}: not a labelloop model file (bad header)")
    return header, arrays


def load_model(
    path: str | Path, *, transport: Any = None
) -> tuple[Model, Featurizer, TemperatureScaling | None, dict[str, Any]]:
    """Read a file written by :func:`save_model`: ``(model, featurizer, calibrator, meta)``.

    ``transport`` is handed to a rebuilt :class:`HttpModel` (for tests).
    """
    path = Path(path)
    header, arrays = _read(path)
    try:
        model_state = _join("model", header["model"], arrays)
        kind = model_state["kind"]
        model: Model
        if kind == "logistic":
            model = LogisticModel.from_state(model_state)
        elif kind == "http":
            model = HttpModel(
                model_state["url"],
                model_state["n_classes"],
                multi_label=model_state["multi_label"],
                timeout_s=model_state["timeout_s"],
                transport=transport,
                batch_size=model_state["batch_size"],
            )
        elif kind == "plugin":
            model = load_plugin(model_state["spec"], **model_state["kwargs"])
        else:
            raise ModelError(f"unknown model kind {kind!r}")
        featurizer = featurizer_from_state(_join("featurizer", header["featurizer"], arrays))
        calibrator = None
        if header["calibrator"] is not None:
            state = _join("calibrator", header["calibrator"], arrays)
            calibrator = TemperatureScaling.from_state(state)
        meta = header["meta"]
    except KeyError as exc:
        raise ModelError(f"{path}: model file lacks {exc}") from None
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from exc
    return model, featurizer, calibrator, meta

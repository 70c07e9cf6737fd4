"""Temperature scaling of predicted probabilities, fitted on a held-out set, and the expected
calibration error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit, log_softmax, softmax

from labelloop._validation import check_int
from labelloop.errors import ModelError, NotFittedError
from labelloop.learn.features import State
from labelloop.learn.models import _check_bool, check_probabilities, check_targets

_EPS = 1e-12
_LOG_T_BOUNDS = (-10.0, 10.0)


def _log(proba: np.ndarray) -> np.ndarray:
    return np.log(proba + _EPS)  # scikit-learn's convention for probability inputs


def _logit(proba: np.ndarray) -> np.ndarray:
    return _log(proba) - _log(1.0 - proba)


def _best_log_t(nll: Any) -> float:
    result = minimize_scalar(nll, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-10})
    if not result.success:
        raise ModelError(f"temperature scaling did not converge: {result.message}")
    return float(result.x)


class TemperatureScaling:
    """Divide log-probabilities by a temperature ``T`` chosen to minimise held-out log loss.

    Single-label: one ``T`` for ``softmax(log p / T)``. Multi-label: one ``T`` per label for
    ``sigmoid(logit p / T)``; a label whose held-out values are all equal keeps ``T = 1``.
    ``temperature_`` is a float (single-label) or an array of ``k`` floats (multi-label).
    ``T`` is searched in ``[e^-10, e^10]``; a small holdout that the model gets all right drives
    it to the lower bound (near one-hot output), so fit on a holdout with some mistakes.
    """

    def __init__(self, multi_label: bool = False) -> None:
        self.multi_label = multi_label

    def _check(self, proba: Any, y: Any | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        arr = np.asarray(proba)
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise ModelError(f"probabilities must be an (n, k >= 2) matrix. Got shape {arr.shape}")
        n, k = arr.shape
        arr = check_probabilities(arr, n, k, self.multi_label, source="the model")
        labels = None if y is None else check_targets(y, n, k, self.multi_label)
        return arr, labels

    def fit(self, proba: Any, y: Any) -> Self:
        """Fit on held-out probabilities ``proba`` (n, k) and their true labels ``y``."""
        _check_bool(type(self).__name__, "multi_label", self.multi_label)
        proba, y = self._check(proba, y)
        if y is None or len(y) == 0:
            raise ModelError("temperature scaling needs at least one held-out item")
        if self.multi_label:
            z = _logit(proba)
            temps = np.ones(proba.shape[1])
            for j in range(proba.shape[1]):
                zj, yj = z[:, j], y[:, j]
                if yj.min() == yj.max():
                    continue

                def label_nll(log_t: float, zj: np.ndarray = zj, yj: np.ndarray = yj) -> float:
                    s = zj / np.exp(log_t)
                    return -float(np.mean(yj * log_expit(s) + (1 - yj) * log_expit(-s)))

                temps[j] = np.exp(_best_log_t(label_nll))
            self.temperature_: float | np.ndarray = temps
        else:
            logits, rows = _log(proba), np.arange(len(y))

            def nll(log_t: float) -> float:
                return -float(np.mean(log_softmax(logits / np.exp(log_t), axis=1)[rows, y]))

            self.temperature_ = float(np.exp(_best_log_t(nll)))
        self.n_classes_ = proba.shape[1]
        return self

    def transform(self, proba: Any) -> np.ndarray:
        """Return calibrated probabilities of the same shape."""
        if not hasattr(self, "temperature_"):
            raise NotFittedError(
                "This TemperatureScaling is not fitted yet. Call 'fit' before using it."
            )
        proba, _ = self._check(proba)
        if proba.shape[1] != self.n_classes_:
            raise ModelError(
                f"probabilities have {proba.shape[1]} columns, calibration was fitted on "
                f"{self.n_classes_}"
            )
        if self.multi_label:
            return expit(_logit(proba) / self.temperature_)
        return softmax(_log(proba) / self.temperature_, axis=1)

    def get_state(self) -> State:
        """Parameters and temperatures, for saving without pickle."""
        if not hasattr(self, "temperature_"):
            raise NotFittedError(
                "This TemperatureScaling is not fitted yet. Call 'fit' before using it."
            )
        return {
            "kind": "temperature",
            "multi_label": bool(self.multi_label),
            "n_classes": int(self.n_classes_),
            "temperature": np.atleast_1d(np.asarray(self.temperature_, dtype=np.float64)),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TemperatureScaling:
        """Rebuild a fitted calibrator from :meth:`get_state` output."""
        new = cls(multi_label=bool(state["multi_label"]))
        temps = np.asarray(state["temperature"], dtype=np.float64)
        new.n_classes_ = int(state["n_classes"])
        expected = new.n_classes_ if new.multi_label else 1
        if temps.shape != (expected,) or not np.all(temps > 0):
            raise ModelError("temperature scaling state has bad temperatures")
        new.temperature_ = temps if new.multi_label else float(temps[0])
        return new


def expected_calibration_error(proba: Any, y: Any, n_bins: int = 15) -> float:
    """Expected calibration error over ``n_bins`` equal-width confidence bins.

    Single-label (``y`` of class indices): confidence is the top probability, compared with
    accuracy. Multi-label (``y`` an (n, k) 0/1 matrix): every per-label probability is compared
    with the frequency of the label being on.
    """
    n_bins = check_int("expected_calibration_error", "n_bins", n_bins)
    arr = np.asarray(proba, dtype=np.float64)
    if arr.ndim != 2:
        raise ModelError(f"probabilities must be an (n, k) matrix. Got shape {arr.shape}")
    multi_label = np.ndim(y) == 2
    labels = check_targets(y, arr.shape[0], arr.shape[1], multi_label)
    if multi_label:
        confidence, outcome = arr.ravel(), labels.ravel().astype(np.float64)
    else:
        confidence = arr.max(axis=1)
        outcome = (arr.argmax(axis=1) == labels).astype(np.float64)
    if confidence.size == 0:
        return 0.0
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    gap = np.bincount(bins, weights=confidence - outcome, minlength=n_bins)
    return float(np.abs(gap).sum() / confidence.size)

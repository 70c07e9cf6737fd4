"""Models that pre-annotate: the protocol the loop uses, the built-in logistic model, plug-ins
and models behind an HTTP endpoint.

Targets ``y`` are class indices in ``[0, k)`` (single-label) or an ``(n, k)`` 0/1 indicator
matrix (multi-label), where ``k`` is the number of labels. ``predict_proba`` always returns ``k``
columns: rows summing to 1 for single-label, independent per-label probabilities for multi-label.
"""

from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Mapping
from typing import Any, Protocol, Self, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np
from scipy import sparse
from scipy.special import expit, logit, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_array

from labelloop._validation import check_int
from labelloop.errors import ModelError, NotFittedError
from labelloop.learn.features import State

#: Probability given to a class that had no training example, before renormalising.
ABSENT_CLASS_PROBA = 1e-6


@runtime_checkable
class Model(Protocol):
    """What the loop needs from a model. A model may also define ``embed(X) -> np.ndarray``
    (a dense representation for diversity-based query strategies)."""

    def fit(self, X: Any, y: np.ndarray) -> Model: ...
    def predict_proba(self, X: Any) -> np.ndarray: ...


def _check_positive(owner: str, name: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a float > 0. Got {value!r} instead."
        )
    return float(value)


def _check_bool(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(
            f"The '{name}' parameter of {owner} must be a bool. Got {value!r} instead."
        )
    return bool(value)


def check_targets(y: Any, n_rows: int, n_classes: int, multi_label: bool) -> np.ndarray:
    """Return ``y`` as an int array after checking its shape and values, else raise ModelError."""
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError):
        raise ModelError("labels must be an array of class indices") from None
    expected = (n_rows, n_classes) if multi_label else (n_rows,)
    if arr.shape != expected:
        raise ModelError(f"labels have shape {arr.shape}; expected {expected}")
    integral = np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_
    if not integral and np.issubdtype(arr.dtype, np.floating):
        integral = bool(np.all(arr == np.round(arr)))
    if arr.size and not integral:
        raise ModelError(f"labels must be integers. Got dtype {arr.dtype} instead.")
    arr = arr.astype(np.int64)
    upper = 1 if multi_label else n_classes - 1
    if arr.size and (arr.min() < 0 or arr.max() > upper):
        what = "0/1 indicators" if multi_label else f"class indices in [0, {n_classes})"
        raise ModelError(f"labels must be {what}. Got values {arr.min()}..{arr.max()} instead.")
    return arr


def check_probabilities(
    proba: Any, n_rows: int, n_classes: int, multi_label: bool, *, source: str = "model"
) -> np.ndarray:
    """Return ``proba`` as a float64 ``(n_rows, n_classes)`` array of valid probabilities.

    Single-label rows must sum to 1 within 1e-3 and are renormalised. Raises ModelError naming
    ``source`` and what is wrong.
    """
    try:
        arr = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelError(f"{source} returned probabilities that are not a numeric matrix") from None
    if arr.shape != (n_rows, n_classes):
        raise ModelError(
            f"{source} returned probabilities of shape {arr.shape}; "
            f"expected ({n_rows}, {n_classes})"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ModelError(
            f"{source} returned NaN or infinite probabilities (row {bad.any(1).argmax()})"
        )
    bad = (arr < 0) | (arr > 1)
    if bad.any():
        row = int(bad.any(1).argmax())
        raise ModelError(f"{source} returned probabilities outside [0, 1] (row {row})")
    if not multi_label and n_rows:
        sums = arr.sum(axis=1)
        off = np.abs(sums - 1) > 1e-3
        if off.any():
            row = int(off.argmax())
            raise ModelError(
                f"{source} returned rows that do not sum to 1 (row {row}: {sums[row]})"
            )
        arr = arr / sums[:, None]
    return arr


def _check_X(owner: str, X: Any, *, min_samples: int = 1) -> np.ndarray | sparse.csr_matrix:
    try:
        return check_array(X, accept_sparse="csr", dtype=np.float64, ensure_min_samples=min_samples)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{owner} needs a numeric feature matrix: {exc}") from None


class LogisticModel:
    """L2 logistic regression: multinomial for single-label, one per label for multi-label.

    Classes absent from the training labels get probability ~``ABSENT_CLASS_PROBA``. If only one
    class (or, per label, one value) was seen, the prediction is the add-one smoothed frequency.
    Probabilities are computed from the stored ``coef_`` and ``intercept_``, so a loaded model
    predicts exactly like the fitted one. Works on sparse and dense ``X``. ``warm_start_from``, a
    fitted model over the same features, starts the solver at its coefficients: the loop refits
    after every few labels, and the last solution is close to the next.
    """

    def __init__(
        self,
        n_classes: int,
        multi_label: bool = False,
        C: float = 1.0,
        max_iter: int = 1000,
        random_state: int | None = None,
        warm_start_from: LogisticModel | None = None,
    ) -> None:
        self.n_classes = n_classes
        self.multi_label = multi_label
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state
        self.warm_start_from = warm_start_from

    def _validate_params(self) -> None:
        owner = type(self).__name__
        check_int(owner, "n_classes", self.n_classes, minimum=2)
        _check_bool(owner, "multi_label", self.multi_label)
        _check_positive(owner, "C", self.C)
        check_int(owner, "max_iter", self.max_iter)

    def _logistic(self, rows: np.ndarray | int, d: int) -> LogisticRegression:
        """An sklearn estimator for ``rows`` of our coefficients (a class list or one label)."""
        clf = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        init = self.warm_start_from
        usable = (
            init is not None
            and getattr(init, "coef_", None) is not None
            and init.coef_.shape[1] == d
            and init.multi_label == self.multi_label
        )
        if usable and init is not None:
            # Its rows follow its own classes_; classes it never saw start at zero.
            k = self.n_classes
            full_coef, full_intercept = np.zeros((k, d)), np.zeros(k)
            full_coef[init.classes_], full_intercept[init.classes_] = init.coef_, init.intercept_
            coef, intercept = full_coef[rows], full_intercept[rows]
            if not self.multi_label and np.size(rows) == 2:  # back to sklearn's binary form
                coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
            clf.set_params(warm_start=True)
            clf.coef_ = np.atleast_2d(coef).astype(np.float64)
            clf.intercept_ = np.atleast_1d(intercept).astype(np.float64)
        return clf

    def fit(self, X: Any, y: Any) -> Self:
        """Fit on features ``X`` and labels ``y``; returns ``self``."""
        self._validate_params()
        X = _check_X(type(self).__name__, X)
        k, (n, d) = self.n_classes, X.shape
        y = check_targets(y, n, k, self.multi_label)
        coef, intercept = np.zeros((k, d)), np.zeros(k)
        if self.multi_label:
            for j in range(k):
                column = y[:, j]
                if column.min() == column.max():
                    intercept[j] = logit((column.sum() + 1) / (n + 2))
                else:
                    clf = self._logistic(np.array([j]), d).fit(X, column)
                    coef[j], intercept[j] = clf.coef_[0], clf.intercept_[0]
            classes = np.arange(k)
        else:
            classes = np.unique(y)
            if classes.size == 1:
                intercept = np.log((np.bincount(y, minlength=k) + 1) / (n + k))
                classes = np.arange(k)
            else:
                clf = self._logistic(classes, d).fit(X, y)
                coef, intercept = clf.coef_, clf.intercept_
                if classes.size == 2:  # sigmoid(z) == softmax([-z/2, z/2])
                    coef = np.vstack([-coef[0] / 2, coef[0] / 2])
                    intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_ = np.asarray(coef, dtype=np.float64)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        self.classes_ = classes.astype(np.int64)
        # The seed has done its job; keeping it would chain every past version in memory.
        self.warm_start_from = None
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return ``(n, n_classes)`` probabilities."""
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                "This LogisticModel is not fitted yet. Call 'fit' before using it."
            )
        X = _check_X(type(self).__name__, X, min_samples=0)
        if X.shape[1] != self.coef_.shape[1]:
            raise ModelError(
                f"X has {X.shape[1]} features, the model was fitted on {self.coef_.shape[1]}"
            )
        scores = np.asarray(X @ self.coef_.T) + self.intercept_
        if self.multi_label:
            return expit(scores)
        present = softmax(scores, axis=1)
        if self.classes_.size == self.n_classes:
            return present
        proba = np.full((X.shape[0], self.n_classes), ABSENT_CLASS_PROBA)
        proba[:, self.classes_] = present
        return proba / proba.sum(axis=1, keepdims=True)

    def embed(self, X: Any) -> np.ndarray | None:
        """The features themselves when ``X`` is dense, else ``None`` (no useful embedding)."""
        if sparse.issparse(X):
            return None
        return _check_X(type(self).__name__, X, min_samples=0)

    def get_state(self) -> State:
        """Parameters and learned arrays, for saving without pickle."""
        if not hasattr(self, "coef_"):
            raise NotFittedError(
                "This LogisticModel is not fitted yet. Call 'fit' before using it."
            )
        rs = self.random_state
        return {
            "kind": "logistic",
            "n_classes": int(self.n_classes),
            "multi_label": bool(self.multi_label),
            "C": float(self.C),
            "max_iter": int(self.max_iter),
            "random_state": int(rs) if isinstance(rs, numbers.Integral) else None,
            "coef": self.coef_,
            "intercept": self.intercept_,
            "classes": self.classes_,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> LogisticModel:
        """Rebuild a fitted model from :meth:`get_state` output."""
        new = cls(
            int(state["n_classes"]),
            multi_label=bool(state["multi_label"]),
            C=float(state["C"]),
            max_iter=int(state["max_iter"]),
            random_state=state["random_state"],
        )
        new._validate_params()
        new.coef_ = np.asarray(state["coef"], dtype=np.float64)
        new.intercept_ = np.asarray(state["intercept"], dtype=np.float64)
        new.classes_ = np.asarray(state["classes"], dtype=np.int64)
        m = new.classes_.size
        if new.coef_.ndim != 2 or new.coef_.shape[0] != m or new.intercept_.shape != (m,):
            raise ModelError("logistic model state has inconsistent array shapes")
        return new


def load_plugin(spec: str, **kwargs: Any) -> Model:
    """Import ``'package.module:Class'`` and return ``Class(**kwargs)``.

    :func:`make_model` passes ``n_classes`` and ``multi_label``. Raises ModelError when the
    import fails or the class lacks ``fit``/``predict_proba``.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ModelError(f"plugin {spec!r} must look like 'package.module:Class'")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # ImportError or an error raised while importing the plug-in
        raise ModelError(f"plugin {spec!r}: cannot import '{module_name}': {exc}") from exc
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ModelError(f"plugin {spec!r}: '{module_name}' has no attribute '{attr}'")
        target = getattr(target, part)
    missing = [
        name for name in ("fit", "predict_proba") if not callable(getattr(target, name, None))
    ]
    if missing:
        raise ModelError(f"plugin {spec!r} lacks {' and '.join(missing)}")
    try:
        return target(**kwargs)  # type: ignore[no-any-return]
    except Exception as exc:  # the plug-in's own constructor failed
        raise ModelError(f"plugin {spec!r} could not be created: {exc}") from exc


class HttpModel:
    """A model behind an HTTP endpoint that takes and returns JSON.

    ``POST url`` with ``{"items": [...]}`` (at most ``batch_size`` per request) must answer
    ``{"probabilities": [[...], ...]}``. ``fit`` posts ``{"items", "labels"}`` (indices or 0/1
    rows) to ``url + '/fit'``; a 404 or 405 answer means the model is not trainable, and ``fit``
    is then a no-op with ``trainable_ = False``. ``predict_proba`` works before ``fit``: the remote
    side holds the model. ``transport`` is for tests (``httpx.MockTransport``).
    """

    def __init__(
        self,
        url: str,
        n_classes: int,
        multi_label: bool = False,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        batch_size: int = 256,
    ) -> None:
        self.url = url
        self.n_classes = n_classes
        self.multi_label = multi_label
        self.timeout_s = timeout_s
        self.transport = transport
        self.batch_size = batch_size

    def _validate_params(self) -> None:
        owner = type(self).__name__
        check_int(owner, "n_classes", self.n_classes, minimum=2)
        _check_bool(owner, "multi_label", self.multi_label)
        _check_positive(owner, "timeout_s", self.timeout_s)
        check_int(owner, "batch_size", self.batch_size)

    def _client(self) -> httpx.Client:
        return httpx.Client(transport=self.transport, timeout=self.timeout_s)

    @staticmethod
    def _items(X: Any) -> list[dict[str, Any]]:
        items = []
        for i, item in enumerate(X):
            if not isinstance(item, Mapping):
                raise ModelError(
                    f"HttpModel needs item dicts (RecordsFeaturizer); item {i} is "
                    f"{type(item).__name__}"
                )
            items.append(dict(item))
        return items

    @property
    def shown_url(self) -> str:
        """The URL as messages show it: no credentials, no query string (which may hold a key)."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))

    def _fit_url(self) -> str:
        """``url`` with ``/fit`` added to its path (its query string kept)."""
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/fit"))

    def _post(self, client: httpx.Client, url: str, payload: dict[str, Any]) -> httpx.Response:
        try:
            return client.post(url, json=payload)
        except httpx.HTTPError as exc:
            raise ModelError(f"HTTP model {self.shown_url}: request failed: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise ModelError(
                f"HTTP model {self.shown_url}: items cannot be sent as JSON: {exc}"
            ) from exc

    def _failed(self, response: httpx.Response, *, fit: bool = False) -> ModelError:
        text = response.text.strip()[:200]
        where = self.shown_url.rstrip("/") + "/fit" if fit else self.shown_url
        return ModelError(f"HTTP model {where} answered {response.status_code}: {text}")

    def fit(self, X: Any, y: Any) -> Self:
        """Send the labelled items to ``url/fit``; returns ``self``."""
        self._validate_params()
        items = self._items(X)
        labels = check_targets(y, len(items), self.n_classes, self.multi_label)
        url = self._fit_url()
        with self._client() as client:
            response = self._post(client, url, {"items": items, "labels": labels.tolist()})
        if response.status_code in (404, 405):
            self.trainable_ = False
        elif response.is_success:
            self.trainable_ = True
        else:
            raise self._failed(response, fit=True)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Return ``(n, n_classes)`` probabilities from the endpoint, checked."""
        self._validate_params()
        items = self._items(X)
        parts = [np.zeros((0, self.n_classes))]
        with self._client() as client:
            for start in range(0, len(items), self.batch_size):
                batch = items[start : start + self.batch_size]
                response = self._post(client, self.url, {"items": batch})
                if not response.is_success:
                    raise self._failed(response)
                try:
                    body = response.json()
                except ValueError:
                    raise ModelError(
                        f"HTTP model {self.shown_url} answered with invalid JSON"
                    ) from None
                if not isinstance(body, dict) or "probabilities" not in body:
                    raise ModelError(
                        f"HTTP model {self.shown_url}: answer has no 'probabilities' key"
                    )
                source = f"HTTP model {self.shown_url}"
                parts.append(
                    check_probabilities(
                        body["probabilities"],
                        len(batch),
                        self.n_classes,
                        self.multi_label,
                        source=source,
                    )
                )
        return np.vstack(parts)


def make_model(
    kind: str,
    *,
    n_classes: int,
    multi_label: bool = False,
    C: float = 1.0,
    plugin: str | None = None,
    url: str | None = None,
    timeout_s: float = 30.0,
    random_state: int | None = None,
    warm_start_from: Any = None,
) -> Model:
    """A new, unfitted model of ``kind`` for ``n_classes`` classes.

    'logistic' is :class:`LogisticModel` with inverse L2 strength ``C``; ``warm_start_from`` (the
    previous version, fitted on the same features) seeds its solver. 'plugin' builds the class
    named by ``plugin`` (``'package.module:Class'``) with ``n_classes`` and ``multi_label``;
    'http' asks the model at ``url``. Plug-in and HTTP models ignore ``C``, ``random_state`` and
    ``warm_start_from``.
    """
    if kind == "plugin":
        if not plugin:
            raise ValueError("a 'plugin' model needs plugin = 'package.module:Class'")
        return load_plugin(plugin, n_classes=n_classes, multi_label=multi_label)
    if kind == "http":
        if not url:
            raise ValueError("an 'http' model needs a url")
        return HttpModel(url, n_classes, multi_label=multi_label, timeout_s=timeout_s)
    if kind != "logistic":
        raise ValueError(f"unknown model kind {kind!r}; known: http, logistic, plugin")
    previous = warm_start_from if isinstance(warm_start_from, LogisticModel) else None
    return LogisticModel(
        n_classes,
        multi_label=multi_label,
        C=C,
        random_state=random_state,
        warm_start_from=previous,
    )

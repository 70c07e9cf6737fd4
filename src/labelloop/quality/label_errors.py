"""Find wrong labels with confident learning (cleanlab): out-of-fold probabilities, ranked
suspects, and consensus plus annotator quality where items have several labels (CROWDLAB).

Labels are class indices in ``[0, k)``; probabilities are ``(n, k)`` with rows summing to 1 and
must be out-of-sample (a model that saw a row vouches for its label). Bad inputs raise
``ModelError``, bad parameters ``ValueError``, a bad long table ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from cleanlab.filter import find_label_issues
from cleanlab.multiannotator import get_label_quality_multiannotator
from cleanlab.rank import get_label_quality_scores
from scipy import sparse
from sklearn.model_selection import KFold, StratifiedKFold

from labelloop._validation import check_choice, check_fraction, check_int
from labelloop.errors import ConfigError, ModelError
from labelloop.learn.models import ABSENT_CLASS_PROBA, Model
from labelloop.quality.long_table import encode

#: cleanlab's ``filter_by`` methods; the first is its default.
FILTERS = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
#: cleanlab's label-quality scores; the first is its default.
RANKINGS = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
#: How far stored probabilities may stray from [0, 1], and their rows from summing to 1.
ROUNDING = 1e-3


@dataclass(frozen=True)
class LabelSuspects:
    """Flagged rows, lowest label quality first, with their score, given and suggested label."""

    indices: np.ndarray
    scores: np.ndarray
    given: np.ndarray
    suggested: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class MultiAnnotatorQuality:
    """Per item (``item_ids`` order): consensus label, its quality and the share of annotators who
    agree; per annotator (``annotator_ids`` order): quality in [0, 1], higher is better."""

    item_ids: np.ndarray
    consensus: np.ndarray
    consensus_quality: np.ndarray
    agreement: np.ndarray
    annotator_ids: np.ndarray
    annotator_quality: np.ndarray


def check_labels(labels: Any, n_classes: int, *, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 1-D int array of class indices in ``[0, n_classes)``."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ModelError(f"{name} must be one class index per row. Got shape {arr.shape} instead.")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    whole = arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))
    if whole:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iub":
        raise ModelError(f"{name} must be integer class indices. Got dtype {arr.dtype} instead.")
    arr = arr.astype(np.int64)
    if arr.min() < 0 or arr.max() >= n_classes:
        bad = int(np.argmax((arr < 0) | (arr >= n_classes)))
        raise ModelError(
            f"{name} must be class indices in [0, {n_classes}). "
            f"Got {arr[bad]} at row {bad} instead."
        )
    return arr


def check_probs(probs: Any, *, name: str = "probs") -> np.ndarray:
    """Return ``probs`` as a float64 ``(n, k >= 2)`` matrix of probabilities, rows summing to 1.

    Stored probabilities carry rounding: float32 storage, or a floor added to every class
    without renormalising (the label-errors study's IMDB file has entries of 1.00001 and rows
    summing to 1 + 2e-5). Entries within ``ROUNDING`` of [0, 1] and row sums within ``ROUNDING``
    of 1 are accepted, then clipped to [0, 1] and renormalised, so cleanlab, which allows only
    1e-6, gets exact probabilities; anything further off is refused, naming the row.
    """
    try:
        arr = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be a numeric (n, k) matrix") from None
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ModelError(f"{name} must be an (n, k >= 2) matrix. Got shape {arr.shape} instead.")
    bad = ~np.isfinite(arr) | (arr < -ROUNDING) | (arr > 1 + ROUNDING)
    if bad.any():
        row = int(bad.any(axis=1).argmax())
        col = int(bad[row].argmax())
        raise ModelError(
            f"{name} must be probabilities in [0, 1]; row {row} holds {arr[row, col]:.8g}"
        )
    sums = arr.sum(axis=1)
    off = np.abs(sums - 1) > ROUNDING
    if off.any():
        row = int(off.argmax())
        raise ModelError(f"{name} rows must sum to 1; row {row} sums to {sums[row]:.6g}")
    arr = np.clip(arr, 0.0, 1.0)
    return arr / arr.sum(axis=1, keepdims=True)


def _rows(X: Any, idx: np.ndarray) -> Any:
    if sparse.issparse(X) or isinstance(X, np.ndarray):
        return X[idx]
    return [X[i] for i in idx]


def _aligned(proba: Any, model: Model, n_rows: int, n_classes: int) -> np.ndarray:
    """``proba`` with one column per class: a model that saw fewer classes must say which in
    ``classes_``; the classes it never saw get ``ABSENT_CLASS_PROBA`` before renormalising."""
    arr = np.asarray(proba, dtype=np.float64)
    if arr.shape == (n_rows, n_classes):
        return arr
    classes = np.asarray(getattr(model, "classes_", []))
    if arr.ndim != 2 or arr.shape[0] != n_rows or arr.shape[1] != classes.size:
        raise ModelError(
            f"model returned probabilities of shape {arr.shape}; expected ({n_rows}, "
            f"{n_classes}), or one column per entry of the model's classes_"
        )
    out = np.full((n_rows, n_classes), ABSENT_CLASS_PROBA)
    out[:, classes.astype(np.int64)] = arr
    return out / out.sum(axis=1, keepdims=True)


def out_of_fold_probabilities(
    X: Any,
    labels: Any,
    *,
    make_model: Callable[[], Model],
    n_classes: int | None = None,
    n_splits: int = 5,
    random_state: int | None = None,
) -> np.ndarray:
    """``(n, n_classes)`` probabilities, each row from a model fitted without it.

    Shuffled stratified K-fold; when the rarest class has fewer than ``n_splits`` rows, shuffled
    plain K-fold instead (some training folds then lack that class, and its column gets
    ``ABSENT_CLASS_PROBA``). ``make_model()`` returns a fresh unfitted model per fold.
    ``n_classes`` defaults to ``max(labels) + 1``.
    """
    owner = "out_of_fold_probabilities"
    n_splits = check_int(owner, "n_splits", n_splits, minimum=2)
    raw = np.asarray(labels)
    if n_classes is None:
        n_classes = int(raw.max()) + 1 if raw.size and raw.dtype.kind in "iuf" else 2
    k = check_int(owner, "n_classes", n_classes, minimum=2)
    y = check_labels(raw, k)
    n = len(y)
    n_x = X.shape[0] if hasattr(X, "shape") else len(X)
    if n_x != n:
        raise ModelError(f"X has {n_x} rows but labels has {n}; they must be aligned row for row")
    if n < n_splits:
        raise ModelError(
            f"{n_splits}-fold cross-validation needs at least {n_splits} rows, got {n}"
        )
    counts = np.bincount(y)
    if counts[counts > 0].min() >= n_splits:
        splitter: KFold | StratifiedKFold = StratifiedKFold(
            n_splits, shuffle=True, random_state=random_state
        )
    else:
        splitter = KFold(n_splits, shuffle=True, random_state=random_state)
    out = np.empty((n, k))
    for train, test in splitter.split(np.zeros((n, 1)), y):
        model = make_model()
        model.fit(_rows(X, train), y[train])
        out[test] = _aligned(model.predict_proba(_rows(X, test)), model, len(test), k)
    return out


def find_label_errors(
    labels: Any,
    probs: Any,
    *,
    filter_by: str = "prune_by_noise_rate",
    rank_by: str = "self_confidence",
    frac_noise: float = 1.0,
    n_jobs: int = 1,
) -> LabelSuspects:
    """Rows whose given label is likely wrong, by cleanlab's ``find_label_issues``.

    ``probs`` must be out-of-sample (see :func:`out_of_fold_probabilities`). Suspects are ranked
    by cleanlab's ``rank_by`` label-quality score, lowest first; ``suggested`` is the argmax of
    ``probs``. ``n_jobs=1`` keeps cleanlab in one process (``None``: all cores).
    """
    owner = "find_label_errors"
    filter_by = check_choice(owner, "filter_by", filter_by, FILTERS)
    rank_by = check_choice(owner, "rank_by", rank_by, RANKINGS)
    frac_noise = check_fraction(owner, "frac_noise", frac_noise, closed=True)
    P = check_probs(probs)
    y = check_labels(labels, P.shape[1])
    if len(y) != len(P):
        raise ModelError(
            f"labels has {len(y)} rows but probs has {len(P)}; they must be aligned row for row"
        )
    if len(y) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return LabelSuspects(empty, np.zeros(0), empty, empty)
    found = find_label_issues(
        y,
        P,
        filter_by=filter_by,
        frac_noise=frac_noise,
        n_jobs=n_jobs,
        return_indices_ranked_by=rank_by,
    )
    idx = np.asarray(found, dtype=np.int64)
    scores = get_label_quality_scores(y, P, method=rank_by)[idx]
    # Lowest score first; ties by row, so equal scores rank the same way on every run.
    order = np.lexsort((idx, scores))
    idx = idx[order]
    return LabelSuspects(idx, scores[order], y[idx], P[idx].argmax(axis=1))


def multi_annotator_quality(
    items: Sequence | np.ndarray,
    annotators: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    probs: Any,
    *,
    label_ids: Sequence | np.ndarray | None = None,
    quality_method: str = "crowdlab",
) -> MultiAnnotatorQuality:
    """Consensus labels and annotator quality from a long table, by cleanlab's CROWDLAB.

    ``probs`` rows follow the sorted distinct items, columns ``label_ids`` (default: the sorted
    distinct labels; pass it when a class was never given). Each (item, annotator) pair may
    appear once.
    """
    method = check_choice(
        "multi_annotator_quality", "quality_method", quality_method, ("crowdlab", "agreement")
    )
    table = encode(items, annotators, labels, label_ids=label_ids)
    P = check_probs(probs)
    if P.shape != (table.n_items, table.n_labels):
        raise ModelError(
            f"probs has shape {P.shape}; expected ({table.n_items}, {table.n_labels}): one row "
            "per distinct item (sorted), one column per label"
        )
    matrix = np.full((table.n_items, table.n_annotators), np.nan)
    pairs = table.items * table.n_annotators + table.annotators
    if len(np.unique(pairs)) != len(pairs):
        raise ConfigError("an annotator labelled the same item more than once")
    matrix[table.items, table.annotators] = table.labels
    result = get_label_quality_multiannotator(
        matrix, P, quality_method=method, return_detailed_quality=False, verbose=False
    )
    per_item = result["label_quality"]
    per_annotator = result["annotator_stats"].reindex(range(table.n_annotators))
    return MultiAnnotatorQuality(
        item_ids=table.item_ids,
        consensus=table.label_ids[per_item["consensus_label"].to_numpy(dtype=np.int64)],
        consensus_quality=per_item["consensus_quality_score"].to_numpy(dtype=np.float64),
        agreement=per_item["annotator_agreement"].to_numpy(dtype=np.float64),
        annotator_ids=table.annotator_ids,
        annotator_quality=per_annotator["annotator_quality"].to_numpy(dtype=np.float64),
    )

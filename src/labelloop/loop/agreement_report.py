"""Where people agree and where the guidelines leave them guessing, as JSON-ready reports.

* :func:`agreement_report` — Krippendorff's alpha over the items with two or more annotator-tier
  answers (with a bootstrap interval), Fleiss' kappa when every such item has as many answers,
  alpha per label (one-vs-rest), Cohen's kappa per annotator pair, alpha per metadata slice;
* :func:`guideline_report` — the label pairs people split on most, with example items, and the
  confusion matrix of final human labels against the promoted model's predictions.

Both take what the loop stores (:class:`~labelloop.loop.aggregating.AnswersCache`, final labels,
predictions) and hand it to :mod:`labelloop.quality.agreement`. Labels come back as names ("pos",
or "a|b" for a multi-label set; "(none)" for an empty set); NaN comes back as ``None``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
from sqlalchemy import select

from labelloop._validation import check_fraction, check_int
from labelloop.codec import key_name, label_key
from labelloop.loop.aggregating import AnswersCache
from labelloop.loop.context import LoopContext
from labelloop.quality.agreement import (
    alpha_interval,
    fleiss_kappa,
    pairwise_cohen,
)
from labelloop.quality.long_table import encode
from labelloop.store import tables as t

NOT_MEASURABLE = "not measurable: no item has two answers"
ONE_ITEM = "not measurable: only one item has two answers"
MAX_SLICES = 50
HUMAN_SOURCES = ("human", "adjudicated")


def agreement_report(
    ctx: LoopContext,
    answers: AnswersCache,
    *,
    slice_field: str | None = None,
    n_resamples: int = 200,
    confidence: float = 0.95,
    min_pair_overlap: int = 5,
    random_state: int | np.random.Generator | None = 0,
) -> dict[str, Any]:
    """Agreement among annotators (nominal) over the items with at least two answers.

    ``alpha`` holds the estimate and its percentile bootstrap interval over items;
    ``fleiss_kappa`` is None unless every such item has the same number of answers;
    ``per_label`` and ``pairs`` (pairs sharing ``min_pair_overlap`` items) come lowest first;
    ``slices`` (with ``slice_field``, a key of the items' data) gives alpha per value, the
    ``MAX_SLICES`` largest slices. With fewer than two such items ``measurable`` is False and
    ``reason`` says why.
    """
    owner = "agreement_report"
    check_int(owner, "n_resamples", n_resamples)
    check_fraction(owner, "confidence", confidence)
    check_int(owner, "min_pair_overlap", min_pair_overlap)
    items, annotators, labels = _overlapping_answers(ctx, answers)
    report: dict[str, Any] = {
        **_coverage(items, annotators),
        "alpha": None,
        "fleiss_kappa": None,
        "per_label": [],
        "pairs": [],
        "slices": None,
    }
    if report["reason"]:
        return report
    rng = np.random.default_rng(random_state)
    report["alpha"] = _alpha_interval(items, annotators, labels, n_resamples, confidence, rng)
    report["fleiss_kappa"] = _fleiss(items, annotators, labels)
    report["per_label"] = _per_label(ctx, items, annotators, labels)
    pairs = pairwise_cohen(
        items, annotators, labels, label_order=_keys(ctx, labels), min_overlap=min_pair_overlap
    )
    report["pairs"] = _lowest_first(
        (
            {"annotator_a": str(a), "annotator_b": str(b), "kappa": _num(k), "n_items": int(n)}
            for a, b, k, n in zip(
                pairs.annotator_a, pairs.annotator_b, pairs.kappa, pairs.n_items, strict=True
            )
        ),
        "kappa",
    )
    if slice_field is not None:
        report["slices"] = _slices(
            ctx, slice_field, items, annotators, labels, n_resamples, confidence, rng
        )
    return report


def guideline_report(
    ctx: LoopContext, answers: AnswersCache, *, top: int = 5, examples: int = 3
) -> dict[str, Any]:
    """The ``top`` label pairs annotators split on and human–model cells, ``examples`` items each.

    ``annotators``: every two answers to the same item make a pair; ``confused`` lists the label
    pairs split most often (``rate``: the share of the answer pairs involving either label that
    split between the two), ``labels`` each label's one-vs-rest alpha (lowest first), ``matrix``
    the symmetric pair counts. ``model``: final human and adjudicated labels (rows) against the
    promoted model's predictions (columns) with the largest off-diagonal cells, examples the items
    the model was surest about; it was trained on most of these labels, so its disagreements are
    the ones it could not learn. Example items of a confused pair are those split most often.
    """
    check_int("guideline_report", "top", top)
    check_int("guideline_report", "examples", examples)
    items, annotators, labels = _overlapping_answers(ctx, answers)
    return {
        "annotators": _annotator_confusion(ctx, items, annotators, labels, top, examples),
        "model": _model_confusion(ctx, top, examples),
    }


# -- agreement ---------------------------------------------------------------------------------


def _overlapping_answers(
    ctx: LoopContext, answers: AnswersCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The long table of annotator-tier answers to items that have two or more of them."""
    with ctx.engine.connect() as conn:
        items, annotators, labels = answers.table(conn, ctx)
    item = np.asarray(items, dtype=np.int64)
    _ids, codes, sizes = np.unique(item, return_inverse=True, return_counts=True)
    keep = sizes[codes] >= 2
    return item[keep], np.asarray(annotators, dtype=str)[keep], np.asarray(labels, dtype=str)[keep]


def _coverage(items: np.ndarray, annotators: np.ndarray) -> dict[str, Any]:
    per_item = np.unique(items, return_counts=True)[1]
    n_items = len(per_item)
    reason = NOT_MEASURABLE if n_items == 0 else ONE_ITEM if n_items == 1 else None
    return {
        "measurable": reason is None,
        "reason": reason,
        "level": "nominal",
        "n_items": n_items,
        "n_answers": len(items),
        "n_annotators": len(np.unique(annotators)),
        "answers_per_item": {str(k): int(v) for k, v in Counter(per_item.tolist()).items()},
    }


def _alpha_interval(
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    n_resamples: int,
    confidence: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    interval = alpha_interval(
        items,
        annotators,
        labels,
        n_resamples=n_resamples,
        confidence=confidence,
        random_state=rng,
    )
    return {
        "estimate": _num(interval.estimate),
        "low": _num(interval.low),
        "high": _num(interval.high),
        "confidence": confidence,
        "n_resamples": n_resamples,
    }


def _fleiss(items: np.ndarray, annotators: np.ndarray, labels: np.ndarray) -> float | None:
    counts = encode(items, annotators, labels).counts()
    per_item = counts.sum(axis=1)
    if (per_item != per_item[0]).any():
        return None
    return _num(fleiss_kappa(counts).kappa)


def _per_label(
    ctx: LoopContext, items: np.ndarray, annotators: np.ndarray, labels: np.ndarray
) -> list[dict[str, Any]]:
    """Agreement per label, as the project's task kind measures it; lowest first."""
    rows = ctx.kind.per_label_agreement(items, annotators, labels)
    return _lowest_first(({**row, "alpha": _num(row["alpha"])} for row in rows), "alpha")


def _slices(
    ctx: LoopContext,
    field: str,
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    n_resamples: int,
    confidence: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    values = _metadata(ctx, field, np.unique(items))
    slices = np.array([values[int(i)] for i in items], dtype=object)
    groups = Counter(values.values())
    rows = []
    for value, _n in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_SLICES]:
        rows_in = slices == value
        part = (items[rows_in], annotators[rows_in], labels[rows_in])
        row: dict[str, Any] = {"value": value, **_coverage(part[0], part[1])}
        if row["measurable"]:
            row["alpha"] = _alpha_interval(*part, n_resamples, confidence, rng)
        else:
            row["alpha"] = None
        rows.append(row)
    return {"field": field, "n_slices": len(groups), "groups": rows}


def _metadata(ctx: LoopContext, field: str, item_ids: np.ndarray) -> dict[int, str]:
    """``{item id: str(data[field])}``; "(missing)" where the item has no such key."""
    out: dict[int, str] = {}
    i = t.items
    with ctx.engine.connect() as conn:
        for start in range(0, len(item_ids), 1000):
            chunk = [int(x) for x in item_ids[start : start + 1000]]
            for item_id, data in conn.execute(
                select(i.c.id, i.c.data).where(i.c.project_id == ctx.id, i.c.id.in_(chunk))
            ).all():
                value = data.get(field) if isinstance(data, dict) else None
                out[item_id] = "(missing)" if value is None else str(value)
    return out


# -- guidelines --------------------------------------------------------------------------------


def _annotator_confusion(
    ctx: LoopContext,
    items: np.ndarray,
    annotators: np.ndarray,
    labels: np.ndarray,
    top: int,
    examples: int,
) -> dict[str, Any]:
    coverage = _coverage(items, annotators)
    out: dict[str, Any] = {
        "measurable": coverage["measurable"],
        "reason": coverage["reason"],
        "n_items": coverage["n_items"],
        "n_pairs": 0,
        "n_split_pairs": 0,
        "confused": [],
        "labels": [],
        "matrix": None,
    }
    if coverage["reason"]:
        return out
    keys = _keys(ctx, labels)
    index = {key: n for n, key in enumerate(keys)}
    matrix = np.zeros((len(keys), len(keys)), dtype=np.int64)
    by_item: dict[int, list[str]] = defaultdict(list)
    for item, label in zip(items.tolist(), labels.tolist(), strict=True):
        by_item[item].append(label)
    splits: dict[tuple[int, int], Counter[int]] = defaultdict(Counter)
    for item, answers in by_item.items():
        for n, first in enumerate(answers):
            for second in answers[n + 1 :]:
                a, b = sorted((index[first], index[second]))
                matrix[a, b] += 1
                if a != b:
                    matrix[b, a] += 1
                    splits[a, b][item] += 1
    involving = matrix.sum(axis=1)  # answer pairs with at least one answer of the label

    def rate(a: int, b: int) -> float:
        return float(matrix[a, b] / (involving[a] + involving[b] - matrix[a, b]))

    confused = sorted(splits, key=lambda ab: (-matrix[ab], -rate(*ab), ab))[:top]
    chosen = {item for ab in confused for item, _ in _most_split(splits[ab], examples)}
    info = _items(ctx, chosen)
    out["confused"] = [
        {
            "labels": [key_name(keys[a]), key_name(keys[b])],
            "count": int(matrix[a, b]),
            "rate": rate(a, b),
            "examples": [
                {
                    "item_id": item,
                    "key": info.get(item),
                    "answers": dict(Counter(key_name(x) for x in by_item[item])),
                }
                for item, _ in _most_split(splits[a, b], examples)
            ],
        }
        for a, b in confused
    ]
    out["n_pairs"] = int(np.triu(matrix).sum())
    out["n_split_pairs"] = int(np.triu(matrix, 1).sum())
    out["labels"] = _per_label(ctx, items, annotators, labels)
    out["matrix"] = {"labels": [key_name(k) for k in keys], "counts": matrix.tolist()}
    return out


def _most_split(counts: Counter[int], n: int) -> list[tuple[int, int]]:
    """The ``n`` items with the most split pairs, lowest id first among equals."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _model_confusion(ctx: LoopContext, top: int, examples: int) -> dict[str, Any]:
    fl, p, mv = t.final_labels, t.predictions, t.model_versions
    with ctx.engine.connect() as conn:
        current = conn.execute(
            select(mv.c.id, mv.c.version)
            .where(mv.c.project_id == ctx.id, mv.c.status == "promoted")
            .order_by(mv.c.version.desc())
            .limit(1)
        ).first()
        rows = (
            []
            if current is None
            else conn.execute(
                select(fl.c.item_id, fl.c.label, p.c.label.label("predicted"), p.c.confidence)
                .join(p, (p.c.item_id == fl.c.item_id) & (p.c.model_version_id == current.id))
                .where(fl.c.project_id == ctx.id, fl.c.source.in_(HUMAN_SOURCES))
                .order_by(fl.c.item_id)
            ).all()
        )
    out: dict[str, Any] = {
        "available": bool(rows),
        "reason": None,
        "model_version": None if current is None else int(current.version),
        "n_items": len(rows),
        "agreement": None,
        "cells": [],
        "matrix": None,
    }
    if current is None:
        out["reason"] = "no promoted model yet"
    elif not rows:
        out["reason"] = "no human label with a prediction of the current model yet"
    if not rows:
        return out
    human = [label_key(r.label) for r in rows]
    model = [label_key(r.predicted) for r in rows]
    keys = _keys(ctx, np.asarray(human + model, dtype=str))
    index = {key: n for n, key in enumerate(keys)}
    matrix = np.zeros((len(keys), len(keys)), dtype=np.int64)
    cell_items: dict[tuple[int, int], list[tuple[float, int]]] = defaultdict(list)
    for row, h, m in zip(rows, human, model, strict=True):
        a, b = index[h], index[m]
        matrix[a, b] += 1
        if a != b:
            cell_items[a, b].append((-float(row.confidence), int(row.item_id)))
    cells = sorted(cell_items, key=lambda ab: (-matrix[ab], ab))[:top]
    picked = {ab: sorted(cell_items[ab])[:examples] for ab in cells}
    info = _items(ctx, {item for chosen in picked.values() for _, item in chosen})
    out["agreement"] = float(np.trace(matrix) / matrix.sum())
    out["cells"] = [
        {
            "human": key_name(keys[a]),
            "model": key_name(keys[b]),
            "count": int(matrix[a, b]),
            "rate": float(matrix[a, b] / matrix[a].sum()),  # of the items people gave ``human``
            "examples": [
                {"item_id": item, "key": info.get(item), "confidence": -neg}
                for neg, item in picked[a, b]
            ],
        }
        for a, b in cells
    ]
    out["matrix"] = {"labels": [key_name(k) for k in keys], "counts": matrix.tolist()}
    return out


# -- helpers -----------------------------------------------------------------------------------


def _keys(ctx: LoopContext, seen: np.ndarray) -> list[str]:
    """Answer keys in the kind's schema order, then any other seen key sorted."""
    return ctx.kind.key_order(seen.tolist())


def _items(ctx: LoopContext, item_ids: set[int]) -> dict[int, str]:
    """``{item id: item key}``."""
    if not item_ids:
        return {}
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(t.items.c.id, t.items.c.key).where(t.items.c.id.in_(sorted(item_ids)))
        ).all()
    return {int(r.id): str(r.key) for r in rows}


def _num(value: Any) -> float | None:
    """A float for JSON: NaN and infinities become None."""
    value = float(value)
    return value if math.isfinite(value) else None


def _lowest_first(rows: Iterable[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """Rows by ``field`` ascending, None (not measurable) last."""
    return sorted(rows, key=lambda r: (r[field] is None, r[field] or 0.0))

"""The estimated accuracy of the finished dataset, the quality gates, and certification.

Errors are estimated per source of the final labels and added up:

* ``auto`` — from each passed audit round: the sample's error rate times its candidates, and the
  exact hypergeometric bound (at the project's confidence) as the upper end;
* ``human`` — an item answered by one person with enough gold answers errs with one minus their
  gold accuracy (its exact interval gives the ends); other items err with one minus the posterior
  of their label under a Dawid-Skene fit of all answers (a normal interval on the sum); a label
  nothing measures (overlap 1, no gold) counts as right in the estimate but as possibly wrong in
  the interval's lower end, and with nothing measured at all there is no estimate — the report
  says so;
* ``adjudicated`` and ``imported`` labels count as right.

A dataset version is certified only when every gate passes; a failing gate says what failed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from labelloop.codec import label_key
from labelloop.errors import ConflictError
from labelloop.loop.aggregating import AnswersCache
from labelloop.loop.annotator_skill import accuracy_interval
from labelloop.loop.context import LoopContext
from labelloop.loop.gold import gold_scores
from labelloop.loop.reporting import status as project_status
from labelloop.quality.aggregation import DawidSkene
from labelloop.store import tables as t
from labelloop.store.events import append_event

Z95 = 1.959964


@dataclass(frozen=True)
class Gate:
    """One quality gate's verdict."""

    name: str
    passed: bool
    value: float | None
    threshold: float | None
    detail: str


def estimated_accuracy(ctx: LoopContext, answers: AnswersCache) -> dict[str, Any]:
    """The finished dataset's estimated accuracy with an interval, and how it was reached."""
    with ctx.engine.connect() as conn:
        finals = list(
            conn.execute(
                select(
                    t.final_labels.c.item_id, t.final_labels.c.label, t.final_labels.c.source
                ).where(t.final_labels.c.project_id == ctx.id)
            ).all()
        )
        rounds = conn.execute(
            select(t.routing_rounds).where(
                t.routing_rounds.c.project_id == ctx.id, t.routing_rounds.c.status == "passed"
            )
        ).all()
        gold = gold_scores(conn, ctx)
        items, annotators, labels = answers.table(conn, ctx)
    n = len(finals)
    if n == 0:
        return {"estimate": None, "low": None, "high": None, "n_items": 0, "notes": ["no labels"]}
    auto = sum(r.sample_errors / r.sample_size * r.n_candidates for r in rounds if r.sample_size)
    auto_high = float(sum(r.error_bound or 0 for r in rounds))
    human = _human_errors(ctx, finals, gold, items, annotators, labels)
    errors = auto + human["errors"]
    measured = n - human["unmeasured"]
    return {
        "estimate": 1.0 - errors / n if measured > 0 else None,
        "low": max(0.0, 1.0 - (auto_high + human["high"] + human["unmeasured"]) / n),
        "high": min(1.0, 1.0 - (auto + human["low"]) / n) if rounds else 1.0 - human["low"] / n,
        "n_items": n,
        "auto_errors": auto,
        "human_errors": human["errors"],
        "unmeasured_human_labels": human["unmeasured"],
        "notes": human["notes"],
    }


def _human_errors(
    ctx: LoopContext,
    finals: list[Any],
    gold: dict[str, tuple[int, int]],
    items: Sequence[int],
    annotators: Sequence[str],
    labels: Sequence[str],
) -> dict[str, Any]:
    min_gold = ctx.config.quality.min_gold_answers
    confidence = ctx.config.routing.confidence
    answers: dict[int, list[tuple[str, str]]] = {}
    for item, who, key in zip(items, annotators, labels, strict=True):
        answers.setdefault(item, []).append((who, key))
    posterior: dict[tuple[int, str], float] = {}
    if len(set(items)) < len(items) and len(set(labels)) > 1:
        fitted = DawidSkene(random_state=0).fit(items, annotators, labels)
        keys = list(fitted.label_ids_)
        for row, item in enumerate(fitted.item_ids_):
            for col, key in enumerate(keys):
                posterior[(int(item), key)] = float(fitted.posteriors_[row, col])
    gold_errors = gold_low = gold_high = fit_errors = variance = 0.0
    unmeasured = 0
    for final in finals:
        if final.source != "human":
            continue
        given = answers.get(final.item_id, [])
        key = label_key(final.label)
        if len(given) == 1 and gold.get(given[0][0], (0, 0))[1] >= min_gold:
            hits, n = gold[given[0][0]]
            lo, hi = accuracy_interval(hits, n, confidence)
            gold_errors += 1 - hits / n
            gold_low += 1 - hi
            gold_high += 1 - lo
        elif (final.item_id, key) in posterior:
            p = 1 - posterior[(final.item_id, key)]
            fit_errors += p
            variance += p * (1 - p)
        else:
            unmeasured += 1
    spread = Z95 * math.sqrt(variance)
    notes = []
    if unmeasured:
        notes.append(
            f"{unmeasured} human labels have no measure of their accuracy (one answer, no gold "
            f"record of the person): the estimate counts them as right, its lower end as wrong; "
            f"add gold questions or overlap"
        )
    return {
        "errors": gold_errors + fit_errors,
        "low": gold_low + max(0.0, fit_errors - spread),
        "high": gold_high + fit_errors + spread,
        "unmeasured": unmeasured,
        "notes": notes,
    }


def check_gates(
    ctx: LoopContext, answers: AnswersCache, *, accuracy: dict[str, Any] | None = None
) -> list[Gate]:
    """Every gate of the project, passed or not (``accuracy``: an :func:`estimated_accuracy`
    already computed)."""
    config = ctx.config
    gates_cfg = config.quality.gates
    status = project_status(ctx)
    gates = []
    holdout = status["holdout"]
    need = gates_cfg.min_holdout or holdout["size"]
    gates.append(
        Gate(
            "holdout",
            holdout["labelled"] >= need,
            float(holdout["labelled"]),
            float(need),
            f"{holdout['labelled']} of {need} holdout items labelled",
        )
    )
    undecided = status["items"] - sum(status["label_sources"].values())
    gates.append(
        Gate(
            "complete",
            undecided == 0,
            float(undecided),
            0.0,
            f"{undecided} items still have no final label",
        )
    )
    accuracy = accuracy or estimated_accuracy(ctx, answers)
    low = accuracy["low"]
    gates.append(
        Gate(
            "estimated_accuracy",
            low is not None and low >= config.routing.target_accuracy,
            low,
            config.routing.target_accuracy,
            "lower end of the estimated dataset accuracy "
            + (f"{low:.4f}" if low is not None else "(no labels)")
            + f" vs target {config.routing.target_accuracy}",
        )
    )
    if gates_cfg.min_gold_accuracy is not None:
        with ctx.engine.connect() as conn:
            scores = gold_scores(conn, ctx)
        hits = sum(h for h, _ in scores.values())
        n = sum(k for _, k in scores.values())
        value = hits / n if n else None
        gates.append(
            Gate(
                "gold_accuracy",
                value is not None and value >= gates_cfg.min_gold_accuracy,
                value,
                gates_cfg.min_gold_accuracy,
                f"{hits} of {n} gold answers right" if n else "no gold answers yet",
            )
        )
    if gates_cfg.min_agreement is not None:
        gates.append(_agreement_gate(ctx, answers, gates_cfg.min_agreement))
    return gates


def _agreement_gate(ctx: LoopContext, answers: AnswersCache, threshold: float) -> Gate:
    from labelloop.quality.agreement import per_label_agreement

    with ctx.engine.connect() as conn:
        items, annotators, labels = answers.table(conn, ctx)
    if len(set(items)) == len(items):
        return Gate("agreement", False, None, threshold, "no item has two answers: not measurable")
    per_label = per_label_agreement(items, annotators, labels)
    measured = {k: v for k, v in per_label.items() if v is not None and not math.isnan(v)}
    if not measured:
        return Gate("agreement", False, None, threshold, "agreement is not measurable yet")
    worst = min(measured.values())
    failing = sorted(str(k).lstrip("=") for k, v in measured.items() if v < threshold)
    detail = (
        f"every label's agreement (alpha) is at least {threshold}"
        if not failing
        else f"agreement under {threshold} for: {', '.join(failing)}"
    )
    return Gate("agreement", not failing, float(worst), threshold, detail)


def certify(ctx: LoopContext, answers: AnswersCache, *, actor: str = "system") -> dict[str, Any]:
    """Certify the dataset as it stands now, if every gate passes; raise naming what failed."""
    from labelloop.loop.exporting import content_hash, labelled_rows, provenance_of, record_version

    accuracy = estimated_accuracy(ctx, answers)
    gates = check_gates(ctx, answers, accuracy=accuracy)
    failed = [g for g in gates if not g.passed]
    if failed:
        raise ConflictError("cannot certify: " + "; ".join(f"{g.name}: {g.detail}" for g in failed))
    rows = labelled_rows(ctx)
    digest = content_hash(rows)
    provenance = provenance_of(ctx, rows, digest, certified=True)
    with ctx.writer.begin() as conn:
        found = record_version(conn, ctx, provenance)
        append_event(
            conn,
            actor=actor,
            action="dataset.certify",
            project_id=ctx.id,
            payload={
                "version_id": int(found),
                "content_hash": digest,
                "gates": [asdict(g) for g in gates],
                "estimated_accuracy": accuracy,
            },
        )
    return {
        "version_id": int(found),
        "content_hash": digest,
        "gates": [asdict(g) for g in gates],
        "estimated_accuracy": accuracy,
    }

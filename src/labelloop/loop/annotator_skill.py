"""How good each person is: accuracy on gold questions (with an exact interval) and as the
project's Dawid-Skene fit sees them (from their agreement with everyone else)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labelloop.accounts.memberships import list_memberships
from labelloop.loop.aggregating import AnswersCache
from labelloop.loop.context import LoopContext
from labelloop.loop.gold import gold_scores
from labelloop.quality.aggregation import DawidSkene
from labelloop.routing.bounds import clopper_pearson_upper


def accuracy_interval(hits: float, n: int, confidence: float) -> tuple[float, float]:
    """Two-sided exact (Clopper-Pearson) interval of an accuracy seen as ``hits`` of ``n``."""
    alpha = (1.0 - confidence) / 2
    low = 1.0 - float(clopper_pearson_upper(np.asarray(n - hits), n, alpha))
    high = float(clopper_pearson_upper(np.asarray(hits), n, alpha))
    return low, high


def dawid_skene_skills(
    items: Sequence[int], annotators: Sequence[str], labels: Sequence[str]
) -> dict[str, float]:
    """Each annotator's expected accuracy under a Dawid-Skene fit: the mean posterior of the
    labels they gave."""
    if len(items) < 2 or len(set(labels)) < 2:
        return {}
    fitted = DawidSkene(random_state=0).fit(items, annotators, labels)
    return {
        str(a): float(acc) for a, acc in zip(fitted.annotator_ids_, fitted.skills_, strict=True)
    }


def annotator_report(ctx: LoopContext, answers: AnswersCache) -> list[dict[str, Any]]:
    """Per person: answers, gold accuracy with its interval, Dawid-Skene accuracy with one, flag.

    The Dawid-Skene interval treats the expected number of right answers as if counted: it
    shows how much a person's answer count limits what is known, not the fit's own error."""
    confidence = ctx.config.routing.confidence
    with ctx.engine.connect() as conn:
        gold = gold_scores(conn, ctx)
        items, annotators, labels = answers.table(conn, ctx)
    answered: dict[str, int] = {}
    for who in annotators:
        answered[who] = answered.get(who, 0) + 1
    overlapping = len(set(items)) < len(items)  # skill from agreement needs shared items
    ds = dawid_skene_skills(items, annotators, labels) if overlapping else {}
    flags = {
        m.username: (m.flagged_at, m.flag_reason)
        for m in list_memberships(ctx.engine, project_id=ctx.id)
    }
    report = []
    for who in sorted(set(answered) | set(gold)):
        hits, n = gold.get(who, (0, 0))
        low, high = accuracy_interval(hits, n, confidence) if n else (None, None)
        flagged_at, reason = flags.get(who, (None, None))
        ds_acc, n_answers = ds.get(who), answered.get(who, 0)
        ds_low, ds_high = (
            accuracy_interval(ds_acc * n_answers, n_answers, confidence)
            if ds_acc is not None and n_answers
            else (None, None)
        )
        report.append(
            {
                "annotator": who,
                "answers": answered.get(who, 0),
                "gold_answers": n,
                "gold_accuracy": hits / n if n else None,
                "gold_low": low,
                "gold_high": high,
                "ds_accuracy": ds_acc,
                "ds_low": ds_low,
                "ds_high": ds_high,
                "flagged": flagged_at is not None,
                "flag_reason": reason,
            }
        )
    return report

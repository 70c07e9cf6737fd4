"""The project's truth inference, applied to one item's answers as they come in.

The chosen aggregator (``quality.aggregation``) is fitted on every annotator-tier answer of the
project and refitted once the answers grew by a tenth (at least 20), so a submission costs one
small computation, not an EM run. An item's posterior then combines its answers with what the fit
learned of each person: their confusion matrix (Dawid-Skene), their accuracy (one-coin) or their
weight (Wawa). People the fit has not seen count as the average person; majority vote needs no fit.
"""

from __future__ import annotations

import json
import threading

from sqlalchemy import Connection, Text, cast, func, select

from labelloop.codec import label_key
from labelloop.loop.context import LoopContext
from labelloop.quality.aggregation import AnswerModel, make_aggregator
from labelloop.quality.aggregation.posterior import SHRINK
from labelloop.store import tables as t

MIN_REFIT = 20
# Pseudo-answers per confusion cell while the loop runs: answers are sparse early on, and a weak
# prior lets EM call a person with three answers adversarial (accuracy 0.01) and flip their votes.
EM_SMOOTHING = 1.0


Answers = tuple[tuple[int, ...], tuple[str, ...], tuple[str, ...]]


class AnswersCache:
    """Every unflagged annotator-tier answer to a pool item, as (items, annotators, label keys);
    a person's latest answer per item.

    Every change to answers appends to the audit log in the same transaction, so the table is
    kept until the log's newest event changes: the dashboard's reports, the gates and the vote
    model share one read instead of one each.
    """

    def __init__(self) -> None:
        self._cached: tuple[int, Answers] | None = None  # (newest audit event id, table)

    def table(self, conn: Connection, ctx: LoopContext) -> Answers:
        """The answers table of ``ctx``'s project, read again only if an event was appended."""
        newest = conn.execute(select(func.max(t.events.c.id))).scalar() or 0
        cached = self._cached
        if cached is not None and cached[0] == newest:
            return cached[1]
        table = _read_answers(conn, ctx.id)
        self._cached = (newest, table)
        return table


def _read_answers(conn: Connection, project_id: int) -> Answers:
    a, tk, i = t.annotations, t.tasks, t.items
    rows = conn.execute(
        select(a.c.item_id, a.c.annotator, cast(a.c.label, Text))  # JSON text: decoded once each
        .join(i, i.c.id == a.c.item_id)
        .outerjoin(tk, tk.c.id == a.c.task_id)
        .where(
            a.c.project_id == project_id,
            a.c.flag.is_(None),
            ~i.c.is_gold,
            (tk.c.tier == "annotator") | tk.c.id.is_(None),
        )
        .order_by(a.c.id)
    ).all()
    keys: dict[str, str] = {}
    latest = {}
    for item, who, text in rows:
        key = keys.get(text)
        if key is None:
            key = keys[text] = label_key(json.loads(text))
        latest[item, who] = key
    return (
        tuple(item for item, _ in latest),
        tuple(who for _, who in latest),
        tuple(latest.values()),
    )


class VoteModel:
    """Posterior of one item's answers under the project's aggregation method (the kind's)."""

    def __init__(self, ctx: LoopContext, answers: AnswersCache) -> None:
        self.ctx = ctx
        self.answers = answers
        self.method = ctx.kind.aggregation(ctx.config.quality.aggregation)
        self._model: AnswerModel | None = None
        self._fitted_on = 0
        self._lock = threading.Lock()

    def posterior(self, votes: dict[str, str]) -> tuple[str, float, bool]:
        """The best label key for ``votes`` (annotator → label key), its posterior, and whether
        another key ties it, from the latest fit (made here only if none was made yet: see
        :meth:`refresh`). Before a fit, or under majority vote, every answer counts one."""
        model = None
        if self.method != "majority":
            model = self._model if self._fitted_on else self.refresh()
        key, posterior, tied = (model or AnswerModel()).posterior(votes).best()
        return str(key), posterior, tied

    def refresh(self) -> AnswerModel | None:
        """Refit if the answers grew by a tenth since the last fit; return what it learned.

        A submission calls this before its write transaction, so a fit over a large project
        never holds the store's write lock.
        """
        if self.method == "majority":
            return None
        with self._lock, self.ctx.engine.connect() as conn:
            newest = (
                conn.execute(
                    select(t.annotations.c.id)
                    .where(t.annotations.c.project_id == self.ctx.id)
                    .order_by(t.annotations.c.id.desc())
                    .limit(1)
                ).scalar()
                or 0
            )
            stale = newest - self._fitted_on >= max(MIN_REFIT, self._fitted_on // 10)
            if self._model is None or stale:
                items, annotators, labels = self.answers.table(conn, self.ctx)
                if len(items) >= MIN_REFIT and len(set(labels)) > 1:
                    keys = self.ctx.kind.key_order(labels)
                    params = {} if self.method == "wawa" else {"alpha": EM_SMOOTHING}
                    fitted = make_aggregator(self.method, random_state=0, **params).fit(
                        items, annotators, labels, label_ids=keys
                    )
                    self._model = fitted.answer_model(shrink=SHRINK)
                    self._fitted_on = newest
            return self._model

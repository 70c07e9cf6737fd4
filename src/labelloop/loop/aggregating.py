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
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Text, cast, func, select

from labelloop.codec import label_key
from labelloop.quality.aggregation import make_aggregator
from labelloop.store import tables as t

if TYPE_CHECKING:
    from labelloop.loop.project import Project

MIN_REFIT = 20
SHRINK = 10.0
# Pseudo-answers per confusion cell while the loop runs: answers are sparse early on, and a weak
# prior lets EM call a person with three answers adversarial (accuracy 0.01) and flip their votes.
EM_SMOOTHING = 1.0


Answers = tuple[tuple[int, ...], tuple[str, ...], tuple[str, ...]]


def answers_table(conn: Any, project: Project) -> Answers:
    """Every unflagged annotator-tier answer to a pool item, as (items, annotators, label keys);
    a person's latest answer per item.

    Every change to answers appends to the audit log in the same transaction, so the table is
    kept on the project until the log's newest event changes: the dashboard's reports, the
    gates and the vote model share one read instead of one each.
    """
    newest = conn.execute(select(func.max(t.events.c.id))).scalar() or 0
    cached = project.answers_cache
    if cached is not None and cached[0] == newest:
        return cached[1]
    a, tk, i = t.annotations, t.tasks, t.items
    rows = conn.execute(
        select(a.c.item_id, a.c.annotator, cast(a.c.label, Text))  # JSON text: decoded once each
        .join(i, i.c.id == a.c.item_id)
        .outerjoin(tk, tk.c.id == a.c.task_id)
        .where(
            a.c.project_id == project.id,
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
    table: Answers = (
        tuple(item for item, _ in latest),
        tuple(who for _, who in latest),
        tuple(latest.values()),
    )
    project.answers_cache = (newest, table)
    return table


@dataclass(frozen=True)
class Skills:
    """What a fit learned of each person, shrunk towards the crowd: ``likelihoods[a][k, l]`` is
    P(``a`` says ``l`` | truth ``k``) (for Wawa, ``weights[a]`` is their vote's weight)."""

    keys: list[str]
    priors: np.ndarray
    likelihoods: dict[str, np.ndarray]
    pooled: np.ndarray
    weights: dict[str, float]
    pooled_weight: float


def learned_skills(fitted: Any, counts: dict[str, int], shrink: float = SHRINK) -> Skills:
    """:class:`Skills` of a fitted aggregator; ``counts`` are each person's answers. A person
    with ``n`` answers gets ``n / (n + shrink)`` of their own estimate and the rest of the
    crowd's, so one lucky answer does not make anyone an oracle."""
    keys = [str(k) for k in fitted.label_ids_]
    k = len(keys)
    people = [str(a) for a in fitted.annotator_ids_]
    n = np.array([counts.get(a, 0) for a in people], dtype=np.float64)
    own = n / (n + shrink)
    if hasattr(fitted, "confusions_"):
        conf = np.asarray(fitted.confusions_, dtype=np.float64)
    else:
        acc = np.clip(np.asarray(fitted.skills_, dtype=np.float64), 1e-6, 1 - 1e-6)
        eye = np.eye(k)
        off = (1 - eye) / max(k - 1, 1)
        conf = acc[:, None, None] * eye + (1 - acc)[:, None, None] * off
    pooled = np.average(conf, axis=0, weights=n) if n.sum() else conf.mean(axis=0)
    shrunk = own[:, None, None] * conf + (1 - own)[:, None, None] * pooled
    skills = np.asarray(getattr(fitted, "skills_", np.ones(len(people))), dtype=np.float64)
    mean_skill = float(np.average(skills, weights=n)) if n.sum() else float(skills.mean())
    weights = own * skills + (1 - own) * mean_skill
    # A flat prior over labels: fitted early, on few shared items, EM can explain everything by
    # one label (priors of 0.04 / 0.96 on pure noise) and would then settle items without evidence.
    priors = np.full(k, 1.0 / k)
    return Skills(
        keys,
        priors,
        dict(zip(people, shrunk, strict=True)),
        pooled,
        dict(zip(people, weights.tolist(), strict=True)),
        mean_skill,
    )


def item_posterior(skills: Skills, votes: dict[str, str], *, weighted: bool) -> np.ndarray:
    """Posterior over ``skills.keys`` of one item's ``votes`` (annotator → label key)."""
    k = len(skills.keys)
    index = {key: n for n, key in enumerate(skills.keys)}
    if weighted:  # Wawa: a vote weighted by each person's learned agreement
        totals = np.zeros(k)
        for annotator, key in votes.items():
            totals[index[key]] += skills.weights.get(annotator, skills.pooled_weight)
        return totals / totals.sum() if totals.sum() > 0 else np.full(k, 1.0 / k)
    log_post = np.log(skills.priors)
    for annotator, key in votes.items():
        likelihood = skills.likelihoods.get(annotator, skills.pooled)
        log_post += np.log(likelihood[:, index[key]])
    post = np.exp(log_post - log_post.max())
    return post / post.sum()


class VoteModel:
    """Posterior of one item's answers under the project's aggregation method."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.method = (
            "majority" if project.config.multi_label else project.config.quality.aggregation
        )
        self._skills: Skills | None = None
        self._fitted_on = 0
        self._lock = threading.Lock()

    def posterior(self, votes: dict[str, str]) -> tuple[str, float]:
        """The best label key for ``votes`` (annotator → label key) and its posterior, from the
        latest fit (made here only if none was made yet: see :meth:`refresh`)."""
        skills = None
        if self.method != "majority":
            skills = self._skills if self._fitted_on else self.refresh()
        if skills is None:  # majority vote, or too few answers to learn anyone's skill yet
            (top, count), *_ = Counter(votes.values()).most_common()
            return top, count / len(votes)
        post = item_posterior(skills, votes, weighted=self.method == "wawa")
        best = int(post.argmax())
        return skills.keys[best], float(post[best])

    def refresh(self) -> Skills | None:
        """Refit if the answers grew by a tenth since the last fit; return what it learned.

        A submission calls this before its write transaction, so a fit over a large project
        never holds the store's write lock.
        """
        if self.method == "majority":
            return None
        with self._lock, self.project.engine.connect() as conn:
            newest = (
                conn.execute(
                    select(t.annotations.c.id)
                    .where(t.annotations.c.project_id == self.project.id)
                    .order_by(t.annotations.c.id.desc())
                    .limit(1)
                ).scalar()
                or 0
            )
            stale = newest - self._fitted_on >= max(MIN_REFIT, self._fitted_on // 10)
            if self._skills is None or stale:
                items, annotators, labels = answers_table(conn, self.project)
                if len(items) >= MIN_REFIT and len(set(labels)) > 1:
                    keys = sorted({label_key(x) for x in self.project.config.labels} | set(labels))
                    params = {} if self.method == "wawa" else {"alpha": EM_SMOOTHING}
                    fitted = make_aggregator(self.method, random_state=0, **params).fit(
                        items, annotators, labels, label_ids=keys
                    )
                    self._skills = learned_skills(fitted, Counter(annotators))
                    self._fitted_on = newest
            return self._skills

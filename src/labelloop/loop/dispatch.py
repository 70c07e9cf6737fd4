"""The one place that reacts to what answers led to (:mod:`~labelloop.loop.outcomes`).

An answer's transaction only records and decides; after it commits, :func:`dispatch` runs the
reactions: a routing round with a newly answered audit item is evaluated (it may pass, fail, or
keep waiting) and a due retrain runs, each now or as a durable job, as the project's
``retrain`` mode says. Outcomes with no
reaction (decided, escalated, waiting, gold scored) are for the caller to report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from labelloop.loop.outcomes import Outcome, RetrainDue, RoundAnswered

if TYPE_CHECKING:
    from labelloop.loop.project import Project


def _evaluate_round(project: Project, _outcome: Any) -> None:
    project.round_answered()


def _retrain(project: Project, _outcome: Any) -> None:
    project.retrain_due()


REACTIONS: dict[type, Callable[[Project, Any], None]] = {
    RoundAnswered: _evaluate_round,
    RetrainDue: _retrain,
}


def dispatch(project: Project, outcomes: Iterable[Outcome]) -> None:
    """Run the reaction to each outcome (each kind of reaction once, in order)."""
    done: set[type] = set()
    for outcome in outcomes:
        react = REACTIONS.get(type(outcome))
        if react is not None and type(outcome) not in done:
            done.add(type(outcome))
            react(project, outcome)

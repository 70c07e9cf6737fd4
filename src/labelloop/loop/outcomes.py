"""What one answer led to, as values: the unit of work returns them, the dispatcher reacts.

:func:`labelloop.loop.submission.submit` records an answer and decides what it can inside one
transaction; everything that should happen after the commit (evaluating a routing round,
retraining) is told by these values, not done there, so the write lock is held for the answer
alone and each reaction runs in one place (:mod:`labelloop.loop.dispatch`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labelloop.loop.gold import GoldFeedback


@dataclass(frozen=True)
class Decided:
    """The item got its final answer."""

    item_id: int
    label: Any
    source: str
    decided_by: str


@dataclass(frozen=True)
class NeedsMoreAnswers:
    """The item waits for more answers: ``wanted`` in all (one more was asked for when the
    posterior, given, was too low)."""

    item_id: int
    wanted: int
    posterior: float | None = None


@dataclass(frozen=True)
class Escalated:
    """The item went up to ``tier``, for ``reason``."""

    item_id: int
    tier: str
    reason: str


@dataclass(frozen=True)
class GoldScored:
    """A gold question was answered; ``feedback`` when the answer was wrong and is shown."""

    item_id: int
    feedback: GoldFeedback | None


@dataclass(frozen=True)
class RoundAnswered:
    """An audit item of routing round ``round_id`` was answered: the round may be complete."""

    round_id: int


@dataclass(frozen=True)
class RetrainDue:
    """``labels`` new training labels were gathered since the newest model (at least
    ``retrain.every``)."""

    labels: int


Outcome = Decided | NeedsMoreAnswers | Escalated | GoldScored | RoundAnswered | RetrainDue

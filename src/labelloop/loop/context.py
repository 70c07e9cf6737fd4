"""The small context every step of the loop works with.

A step is a function over a :class:`LoopContext` (the store, the project's id and config, the
settings, the random generator, the clock) and, where it needs one, a state holder passed
explicitly: the feature cache (:class:`~labelloop.loop.feature_cache.Features`), the model
registry (:class:`~labelloop.loop.model_registry.ModelRegistry`), the answers table
(:class:`~labelloop.loop.aggregating.AnswersCache`) or the vote model
(:class:`~labelloop.loop.aggregating.VoteModel`). :class:`~labelloop.loop.project.Project` holds
one of each and is the library's front; a step can be tested with a context alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Engine

from labelloop.config import ProjectConfig
from labelloop.kinds import TaskKind, kind_for
from labelloop.settings import Settings
from labelloop.store.engine import writer
from labelloop.store.tables import utcnow


@dataclass(frozen=True)
class LoopContext:
    """One project's store, identity, config and settings, with its randomness and clock."""

    engine: Engine
    id: int
    config: ProjectConfig
    settings: Settings = field(default_factory=Settings)
    random_state: int | None = None
    clock: Callable[[], datetime] = utcnow
    #: Draws of randomised steps (query strategies), seeded by ``random_state``.
    rng: np.random.Generator = field(init=False)
    #: The engine writes go through (IMMEDIATE transactions on SQLite).
    writer: Engine = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rng", np.random.default_rng(self.random_state))
        object.__setattr__(self, "writer", writer(self.engine))

    @property
    def name(self) -> str:
        """The project's name."""
        return self.config.name

    @property
    def kind(self) -> TaskKind:
        """The project's task kind."""
        return kind_for(self.config)

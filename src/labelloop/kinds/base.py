"""The task-kind protocol: everything the loop needs to know about one kind of answer.

The loop, the server, the CLI and the pages handle answers only through a :class:`TaskKind`:
how an answer is checked and read from a file, its canonical key, what the model's suggestion
is, when the model was right, how people's answers agree and are aggregated, and which page
widget asks for it. A kind is one folder under ``labelloop/kinds/``; a third-party kind is a
plugin registered under the ``labelloop.kinds`` entry-point group.

A kind is built for one project's label set: ``SomeKind(labels)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from labelloop.codec import cut, display_name, key_label, label_key, label_name_problem

#: Widgets that kinds share (the classification kinds' label buttons).
SHARED_WIDGETS = Path(__file__).parent / "widgets"


@dataclass(frozen=True)
class Widget:
    """The page part that asks for an answer: a Jinja template and a script in ``folder``, the
    ``options`` the script is started with, and the keys it answers to (rows of the key help).

    The script registers a factory ``window.labelloopWidgets[name](cfg, root, options)``
    returning the widget interface the work page uses: ``show(suggestion, kept)``, ``clear()``,
    ``state()``, ``value()`` (``{label}`` or ``{problem}``), ``key(key, enabled)`` and
    ``text(label)``. The template renders inside the page's answer area.
    """

    name: str
    folder: Path
    template: str
    script: str
    options: Mapping[str, Any] = field(default_factory=dict)
    keys: tuple[tuple[str, str], ...] = ()

    def template_text(self) -> str:
        """The widget's Jinja template."""
        return (self.folder / self.template).read_text(encoding="utf-8")

    def script_text(self) -> str:
        """The widget's script."""
        return (self.folder / self.script).read_text(encoding="utf-8")


def label_buttons(*, several: bool, keys: tuple[tuple[str, str], ...]) -> Widget:
    """The label-buttons widget: number keys pick a label (toggle one, with ``several``)."""
    return Widget(
        "label_buttons",
        SHARED_WIDGETS,
        "label_buttons.html",
        "label_buttons.js",
        options={"several": several},
        keys=keys,
    )


class TaskKind(ABC):
    """One kind of answer, for one project's ``labels``.

    Class attributes: ``name`` (registry name, stored in project configs), ``title`` (for
    people), ``independent_labels`` (the model scores each label on its own, e.g. multi-label),
    ``widget``, ``label_errors`` (whether confident-learning label-error checks apply).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    independent_labels: ClassVar[bool] = False
    label_errors: ClassVar[bool] = True
    widget: ClassVar[Widget]

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = tuple(labels)
        self._index = {name: i for i, name in enumerate(self.labels)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(labels={list(self.labels)!r})"

    # -- answers -------------------------------------------------------------------------

    @property
    def allowed(self) -> str:
        """The label names, as a message lists them (cut short when there are many)."""
        return cut(", ".join(self.labels), 200)

    def label_name_problem(self, name: str) -> str | None:
        """Why ``name`` cannot be one of this kind's label names, or None."""
        return label_name_problem(name)

    @abstractmethod
    def validate(self, answer: Any) -> Any:
        """The canonical form of an answer sent as JSON; :class:`AnswerError` naming what is
        wrong."""

    @abstractmethod
    def read(self, value: Any) -> Any:
        """An answer from a file cell or a command line (text allowed), canonical; None when
        ``value`` holds none; :class:`AnswerError` naming what is wrong."""

    def key(self, answer: Any) -> str:
        """A hashable key of a canonical answer (canonical JSON text)."""
        return label_key(answer)

    def answer(self, key: str) -> Any:
        """The answer a :meth:`key` came from."""
        return key_label(key)

    def model_was_right(self, suggestion: Any, final: Any) -> bool:
        """Whether the model's ``suggestion`` counts as right given the item's ``final`` answer
        (an audit's errors, a certificate's): here, the same canonical answer."""
        return self.key(suggestion) == self.key(final)

    def describe(self, answer: Any) -> str:
        """How an answer reads to a person."""
        return display_name(answer)

    def export_fields(self, answer: Any) -> dict[str, Any]:
        """The columns an answer takes in an exported dataset row (a list is written as
        ``a|b`` in CSV and ``list<string>`` in Parquet)."""
        return {"label": answer}

    # -- the model -----------------------------------------------------------------------

    @abstractmethod
    def targets(self, answers: Sequence[Any]) -> np.ndarray:
        """Model targets of canonical answers."""

    @abstractmethod
    def suggest(self, proba: np.ndarray) -> tuple[list[Any], np.ndarray]:
        """The model's suggested answer per row of calibrated ``proba`` and the probability that
        it is exactly right."""

    @abstractmethod
    def correct(self, proba: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Per row, whether the model's suggestion equals the target: "the model was right"."""

    @abstractmethod
    def trainable(self, targets: np.ndarray) -> bool:
        """Whether a model can learn anything from ``targets`` (more than one outcome)."""

    def uncertainty(self, proba: np.ndarray) -> np.ndarray:
        """How unsure the model is per row: 1 - the probability its suggestion is right."""
        return 1.0 - self.suggest(proba)[1]

    # -- people --------------------------------------------------------------------------

    def aggregation(self, configured: str) -> str:
        """The truth-inference method this kind uses when the project configured ``configured``."""
        return configured

    def key_order(self, seen: Iterable[Any]) -> list[str]:
        """Answer keys for reports: the schema's in order, then any other seen key, sorted."""
        schema = self.schema_keys()
        known = set(schema)
        return schema + sorted(
            {str(k) for k in seen} - known, key=lambda k: self.describe(key_label(k))
        )

    def schema_keys(self) -> list[str]:
        """The keys of every possible answer, when they can be listed (else empty)."""
        return []

    @abstractmethod
    def per_label_agreement(
        self, items: np.ndarray, annotators: np.ndarray, keys: np.ndarray
    ) -> list[dict[str, Any]]:
        """Agreement per label (``label``, ``alpha``, ``answers``) over the answer keys."""

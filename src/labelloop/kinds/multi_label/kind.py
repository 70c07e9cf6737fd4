"""The multi-label kind: an answer is a set of label names (a sorted JSON list, maybe empty)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labelloop.codec import SEPARATOR, json_type_name, label_text, shown, split_labels, typed
from labelloop.errors import AnswerError
from labelloop.kinds.base import TaskKind, label_buttons
from labelloop.quality.agreement import krippendorff_alpha


class MultiLabel(TaskKind):
    """Any subset of the labels per item; the model scores each label on its own.

    A set is right only when it is exactly right, so the model's confidence in its suggestion
    is the product over labels of ``max(p, 1 - p)``. Truth inference over sets is a vote: the
    space of sets is too large for per-person confusion matrices.
    """

    name = "multi_label"
    title = "multi-label classification"
    independent_labels = True
    label_errors = False
    widget = label_buttons(
        several=True, keys=(("1 … 9, 0", "toggle the label with that number (several may apply)"),)
    )

    def label_name_problem(self, name: str) -> str | None:
        if SEPARATOR in name:
            return f"must not hold {SEPARATOR!r} in a multi-label project: it separates labels"
        return super().label_name_problem(name)

    def validate(self, answer: Any) -> list[str]:
        values = [answer] if isinstance(answer, str) else answer
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise AnswerError(f"label: must be a list of label names, got {json_type_name(answer)}")
        return self._known({typed(v) for v in values}, "label: ")

    def read(self, value: Any) -> list[str] | None:
        if value is None or value == "" or value == []:
            return None
        if isinstance(value, str):
            parts: list[Any] = split_labels(value)
        elif isinstance(value, list | tuple):
            parts = list(value)
        else:
            raise AnswerError(f"must be a list of labels or 'a|b', got {json_type_name(value)}")
        texts = [label_text(part) for part in parts]
        if None in texts:
            raise AnswerError("must be a list of label strings")
        return self._known({typed(text) for text in texts if text}) or None

    def _known(self, names: set[str], field: str = "") -> list[str]:
        """``names``, sorted, if each is a label; else the error naming (the first few of) the
        unknown ones."""
        unknown = sorted(names - self._index.keys())
        if unknown:
            word = "label" if len(unknown) == 1 else "labels"
            listed = ", ".join(shown(name, 40) for name in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise AnswerError(f"{field}unknown {word} {listed}{more}; allowed: {self.allowed}")
        return sorted(names)

    def targets(self, answers: Sequence[Any]) -> np.ndarray:
        """A 0/1 indicator matrix, one column per label."""
        y = np.zeros((len(answers), len(self.labels)), dtype=np.int64)
        for row, answer in enumerate(answers):
            y[row, [self._index[name] for name in answer]] = 1
        return y

    def suggest(self, proba: np.ndarray) -> tuple[list[Any], np.ndarray]:
        """The labels with p >= 0.5, and the probability that this set is exactly right."""
        chosen = proba >= 0.5
        confidence = np.prod(np.where(chosen, proba, 1.0 - proba), axis=1)
        names = np.asarray(self.labels, dtype=object)
        return [sorted(names[row].tolist()) for row in chosen], confidence

    def correct(self, proba: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return np.asarray(((proba >= 0.5) == (targets == 1)).all(axis=1))

    def trainable(self, targets: np.ndarray) -> bool:
        return bool(targets.sum() > 0)

    def aggregation(self, configured: str) -> str:
        return "majority"

    def per_label_agreement(
        self, items: np.ndarray, annotators: np.ndarray, keys: np.ndarray
    ) -> list[dict[str, Any]]:
        """Per label, alpha of "in the set or not"."""
        sets = [set(self.answer(str(key))) for key in keys]
        rows = []
        for name in self.labels:
            chosen = np.array([name in s for s in sets])
            alpha = krippendorff_alpha(items, annotators, chosen)  # NaN when nobody chose it
            rows.append({"label": name, "alpha": float(alpha), "answers": int(chosen.sum())})
        return rows

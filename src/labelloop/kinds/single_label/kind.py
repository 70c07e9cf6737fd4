"""The single-label kind: an answer is one label name (a JSON string)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from labelloop.codec import json_type_name, label_text, shown, typed
from labelloop.errors import AnswerError
from labelloop.kinds.base import TaskKind, label_buttons
from labelloop.quality.agreement import per_label_agreement


class SingleLabel(TaskKind):
    """One label per item; the model is a multi-class classifier."""

    name = "single_label"
    title = "single-label classification"
    widget = label_buttons(several=False, keys=(("1 … 9, 0", "pick the label with that number"),))

    def validate(self, answer: Any) -> str:
        name = typed(answer) if isinstance(answer, str) else None
        if name is None or name not in self._index:
            raise AnswerError(f"label: {shown(answer)} is not one of {self.allowed}")
        return name

    def read(self, value: Any) -> str | None:
        if value is None or value == "" or value == []:
            return None
        name = label_text(value)
        if name is not None:
            name = typed(name)
        if name is None:
            raise AnswerError(
                f"must be one label (the project is single-label), got {json_type_name(value)}"
            )
        if not name:
            return None
        if name not in self._index:
            raise AnswerError(f"unknown label {shown(name)}; allowed: {self.allowed}")
        return name

    def targets(self, answers: Sequence[Any]) -> np.ndarray:
        """Class indices in the order of the project's labels."""
        return np.array([self._index[str(a)] for a in answers], dtype=np.int64)

    def suggest(self, proba: np.ndarray) -> tuple[list[Any], np.ndarray]:
        """The most probable label and its probability."""
        best = proba.argmax(axis=1)
        names = np.asarray(self.labels, dtype=object)
        return names[best].tolist(), proba[np.arange(len(proba)), best]

    def correct(self, proba: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return np.asarray(proba.argmax(axis=1) == targets)

    def trainable(self, targets: np.ndarray) -> bool:
        return len(np.unique(targets)) >= 2

    def schema_keys(self) -> list[str]:
        return [self.key(name) for name in self.labels]

    def per_label_agreement(
        self, items: np.ndarray, annotators: np.ndarray, keys: np.ndarray
    ) -> list[dict[str, Any]]:
        """One-vs-rest alpha per label."""
        used = Counter(keys.tolist())
        alphas = per_label_agreement(items, annotators, keys, label_order=self.key_order(keys))
        return [
            {
                "label": self.describe(self.answer(str(key))),
                "alpha": alpha,
                "answers": used.get(key, 0),
            }
            for key, alpha in alphas.items()
        ]

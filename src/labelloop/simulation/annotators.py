"""Simulated people: annotators with a confusion matrix, or replays of real crowd answers."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from labelloop._validation import check_fraction
from labelloop.errors import InputFileError, Reject
from labelloop.quality.long_table import check_columns


class Annotator(Protocol):
    """Anything that answers an item, given its key and true label."""

    def answer(self, key: str, truth: str, rng: np.random.Generator) -> tuple[str, str]:
        """Return (annotator name, label)."""
        ...


@dataclass
class SimulatedAnnotator:
    """Right with probability ``accuracy``, else a uniformly chosen wrong label.

    ``confusion`` (rows: true label, columns: answer; rows sum to 1) overrides ``accuracy``.
    """

    name: str
    labels: tuple[str, ...]
    accuracy: float = 1.0
    confusion: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_fraction("SimulatedAnnotator", "accuracy", self.accuracy, closed=True)

    def answer(self, key: str, truth: str, rng: np.random.Generator) -> tuple[str, str]:
        """Draw an answer for an item whose true label is ``truth``."""
        k = len(self.labels)
        true_index = self.labels.index(truth)
        if self.confusion is not None:
            return self.name, self.labels[rng.choice(k, p=self.confusion[true_index])]
        if rng.random() < self.accuracy:
            return self.name, truth
        wrong = rng.integers(k - 1)
        return self.name, self.labels[wrong + (wrong >= true_index)]


@dataclass
class Team:
    """Several annotators; each item goes to one of them at random."""

    members: list[Annotator]

    def answer(self, key: str, truth: str, rng: np.random.Generator) -> tuple[str, str]:
        """Ask a random member."""
        return self.members[rng.integers(len(self.members))].answer(key, truth, rng)


@dataclass
class CrowdReplay:
    """Answers with real crowd answers to the same item, each used at most once."""

    answers: dict[str, list[tuple[str, str]]]
    _used: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        item_col: str = "item",
        annotator_col: str = "annotator",
        label_col: str = "label",
    ) -> CrowdReplay:
        """Read a long CSV/TSV file of (item, annotator, label) answers."""
        roles = {"item_col": item_col, "annotator_col": annotator_col, "label_col": label_col}
        check_columns(roles)
        delimiter = "\t" if path.suffix in (".tsv", ".txt") else ","
        answers: dict[str, list[tuple[str, str]]] = defaultdict(list)
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            missing = [
                c
                for c in (item_col, annotator_col, label_col)
                if c not in (reader.fieldnames or [])
            ]
            if missing:
                raise InputFileError(
                    [
                        Reject(
                            str(path),
                            1,
                            missing[0],
                            f"missing column; header is {reader.fieldnames}",
                        )
                    ]
                )
            for row in reader:
                answers[row[item_col]].append((row[annotator_col], row[label_col]))
        return cls(dict(answers))

    def answer(self, key: str, truth: str, rng: np.random.Generator) -> tuple[str, str]:
        """The next unused real answer for ``key`` (cycling once all are used)."""
        item = key.removeprefix("id:")
        options = self.answers.get(item)
        if not options:
            raise KeyError(f"the crowd file has no answer for item {item!r}")
        if self._used[item] == 0:
            rng.shuffle(options)
        name, label = options[self._used[item] % len(options)]
        self._used[item] += 1
        return name, label

"""Label errors: how many of the items we flag did people confirm as wrongly labelled?

Data: the "Pervasive Label Errors in Test Sets" study (Northcutt et al., NeurIPS 2021 D&B) in
``<data>/label_errors``: out-of-fold probabilities (``*_pyx.npy``), the given labels and the MTurk
check of the items the study flagged. An item is a *confirmed* error when fewer than 3 of its
workers chose the given label (this reproduces the study's 82 of 93 for 20news, 15 of 100 for
MNIST). Only the study's own flagged items were checked, so anything else a method flags is
*unverified*, not wrong: precision is over verified items only, and unverified ones are counted.

Methods, all on the same probabilities:

* ``labelloop``: :func:`labelloop.quality.label_errors.find_label_errors` (cleanlab defaults:
  ``prune_by_noise_rate``, ranked by self-confidence);
* ``argmax != given``: flag every item whose most likely class is not its label, ranked by the
  probability of the given label (cleanlab's score too, so P@K differs through the flagged set
  and through ties: 61 20news items have given-label probability exactly 0, ordered by index
  here and as cleanlab returns them for ours);
* the issue's reference for cleanlab 2.9 defaults, as quoted.

P@K: among the first K flagged items, the share of verified ones that are confirmed errors
(``real/verified`` beside it). ``--quick`` is accepted for ``run.py``; the full run takes seconds.

    python benchmarks/label_errors.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as a file: import ``benchmarks`` from the repository root instead
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np

from benchmarks.datasets import data_dir
from labelloop.quality.label_errors import find_label_errors

DATASETS = {"20news": "20news", "MNIST": "mnist"}
KS = (25, 50, 100)
#: From the issue: "Measured here, cleanlab 2.9 defaults" (flagged, verified, real).
REFERENCE = {"20news": (95, 63, 55), "MNIST": (15, 15, 7)}


@dataclass(frozen=True)
class Checked:
    """One data set: given labels, out-of-fold probabilities, and the human verdicts by index."""

    labels: np.ndarray
    probs: np.ndarray
    is_error: dict[int, bool]


@dataclass(frozen=True)
class Row:
    """One method on one data set; ``at_k`` maps K to (real, verified) among the first K."""

    dataset: str
    method: str
    flagged: int
    verified: int
    real: int
    at_k: dict[int, tuple[int, int]]

    @property
    def unverified(self) -> int:
        return self.flagged - self.verified

    @property
    def precision(self) -> float:
        return self.real / self.verified if self.verified else float("nan")


def load(name: str, folder: Path | None = None) -> Checked:
    """Labels, probabilities and MTurk verdicts of ``name`` ('20news' or 'mnist')."""
    folder = folder or data_dir() / "label_errors"
    labels = np.load(folder / f"{name}_test_set_original_labels.npy").astype(np.int64)
    probs = np.load(folder / f"{name}_test_set_pyx.npy")
    checks = json.loads((folder / f"{name}_mturk.json").read_text(encoding="utf-8"))
    is_error = {int(c["id"]): c["mturk"]["given"] < 3 for c in checks}
    return Checked(labels, probs, is_error)


def argmax_baseline(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Items whose argmax is not the given label, lowest given-label probability first."""
    flagged = np.flatnonzero(probs.argmax(axis=1) != labels)
    given = probs[flagged, labels[flagged]]
    return flagged[np.argsort(given, kind="stable")]


def score(dataset: str, method: str, ranked: np.ndarray, is_error: dict[int, bool]) -> Row:
    """Count verified and confirmed items among ``ranked`` and its first K."""

    def counts(indices: np.ndarray) -> tuple[int, int]:
        verdicts = [is_error[i] for i in indices.tolist() if i in is_error]
        return sum(verdicts), len(verdicts)

    real, verified = counts(ranked)
    at_k = {k: counts(ranked[:k]) for k in KS}
    return Row(dataset, method, len(ranked), verified, real, at_k)


def run(folder: Path | None = None) -> list[Row]:
    """Ours, the argmax baseline and the issue's reference, per data set."""
    rows = []
    for shown, name in DATASETS.items():
        data = load(name, folder)
        ours = find_label_errors(data.labels, data.probs).indices
        rows.append(score(shown, "labelloop (cleanlab)", ours, data.is_error))
        base = argmax_baseline(data.labels, data.probs)
        rows.append(score(shown, "argmax != given", base, data.is_error))
        flagged, verified, real = REFERENCE[shown]
        rows.append(Row(shown, "reference (issue)", flagged, verified, real, {}))
    return rows


def format_table(rows: list[Row]) -> str:
    """A plain-text table of ``rows``."""
    header = f"{'data':<8}{'method':<22}{'flagged':>8}{'verified':>9}{'real':>6}"
    header += f"{'precision':>10}{'unverified':>11}"
    header += "".join(f"{'P@' + str(k):>15}" for k in KS)
    lines = [header, "-" * len(header)]
    for r in rows:
        line = f"{r.dataset:<8}{r.method:<22}{r.flagged:>8,}{r.verified:>9,}{r.real:>6,}"
        line += f"{r.precision:>10.3f}{r.unverified:>11,}"
        for k in KS:
            real, verified = r.at_k.get(k, (0, 0))
            cell = f"{real / verified:.3f} ({real}/{verified})" if verified else "—"
            line += f"{cell:>15}"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="same run (it takes seconds)")
    parser.parse_args()
    print("Precision over human-verified flagged items (confirmed: < 3 of 5 chose the label).")
    print(format_table(run()))


if __name__ == "__main__":
    main()

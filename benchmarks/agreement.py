"""Agreement measures beside reference implementations: same values, time of each.

Krippendorff's alpha on CIFAR-10H (10,000 images x ~51 people, 10 labels; the counts are expanded
to a long table with synthetic annotator ids, which alpha does not use) and on a synthetic long
table (200,000 items, 50 annotators, ~5 per item, 5 ordered labels), against the ``krippendorff``
package given the (annotators x items) matrix with NaN for missing (built outside the timing,
while ours starts from the long table and encodes it); Cohen's kappa of two raters on
1,000,000 items against scikit-learn; pairwise Cohen over the synthetic table's annotator pairs
against a loop of scikit-learn over each pair's shared items (value: mean kappa over pairs); the
bootstrap interval of nominal alpha (200 resamples, value: its lower end) by ``alpha_interval``
against ``bootstrap_interval`` recomputing alpha on every resample.

Run: ``python benchmarks/agreement.py [--quick] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as a file: import ``benchmarks`` from the repository root instead
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

from benchmarks.datasets import data_dir
from labelloop.quality.agreement import (
    alpha_interval,
    bootstrap_interval,
    cohen_kappa,
    krippendorff_alpha,
    pairwise_cohen,
)


@dataclass(frozen=True)
class Row:
    """One line of the table: our value and median time beside the reference's."""

    measure: str
    data: str
    value: float
    reference_value: float
    seconds: float
    reference_seconds: float


def timed(fn: Callable[[], float], repeats: int) -> tuple[float, float]:
    """``fn()``'s value and median wall time over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return float(value), statistics.median(times)


def cifar10h_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10H counts as a long table; annotator ``k`` is the ``k``-th vote on an image."""
    counts = np.load(data_dir() / "cifar10h" / "cifar10h-counts.npy")
    votes = counts.sum(axis=1)
    items = np.repeat(np.arange(len(counts)), votes)
    labels = np.repeat(np.tile(np.arange(counts.shape[1]), len(counts)), counts.ravel())
    annotators = np.arange(len(items)) - np.repeat(np.cumsum(votes) - votes, votes)
    return items, annotators, labels


def synthetic_table(
    n_items: int, n_annotators: int = 50, presence: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy copies of a true label in 1..5 from a random ~``presence`` share of annotators."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=n_items)
    item, annotator = np.nonzero(rng.random((n_items, n_annotators)) < presence)
    noise = rng.integers(-1, 2, size=len(item)) * (rng.random(len(item)) < 0.3)
    return item, annotator, np.clip(truth[item] + noise, 1, 5)


def reliability_matrix(items: np.ndarray, annotators: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n_annotators, n_items) matrix with NaN for missing, as the krippendorff package takes it."""
    data = np.full((annotators.max() + 1, items.max() + 1), np.nan)
    data[annotators, items] = labels
    return data


def sklearn_pairwise_mean(items: np.ndarray, annotators: np.ndarray, labels: np.ndarray) -> float:
    """Mean sklearn kappa over annotator pairs, each on the items both labelled."""
    data = reliability_matrix(items, annotators, labels)
    kappas = []
    for a in range(len(data)):
        for b in range(a + 1, len(data)):
            shared = ~np.isnan(data[a]) & ~np.isnan(data[b])
            if shared.sum() >= 10:
                kappas.append(
                    cohen_kappa_score(data[a, shared], data[b, shared], labels=[1, 2, 3, 4, 5])
                )
    return float(np.mean(kappas))


def run(*, quick: bool = False, repeats: int = 3) -> list[Row]:
    """Time every measure and its reference; return one row per measure."""
    rows = []
    table = cifar10h_table()
    data = reliability_matrix(*table)
    ours = timed(lambda: krippendorff_alpha(*table), repeats)
    ref = timed(lambda: krippendorff.alpha(data, level_of_measurement="nominal"), repeats)
    rows.append(Row("alpha nominal", "CIFAR-10H", ours[0], ref[0], ours[1], ref[1]))

    n_items = 20_000 if quick else 200_000
    table = synthetic_table(n_items)
    data = reliability_matrix(*table)
    name = f"synthetic {n_items // 1000}k"
    for level in ("nominal", "ordinal", "interval", "ratio"):
        ours = timed(lambda lv=level: krippendorff_alpha(*table, level=lv), repeats)
        ref = timed(lambda lv=level: krippendorff.alpha(data, level_of_measurement=lv), repeats)
        rows.append(Row(f"alpha {level}", name, ours[0], ref[0], ours[1], ref[1]))

    # The dashboard's interval: our weighted-coincidence resampling against the generic
    # bootstrap recomputing alpha per resample (value: the interval's lower end).
    resamples = 20 if quick else 200
    ours = timed(lambda: alpha_interval(*table, n_resamples=resamples, random_state=0).low, 1)
    ref = timed(
        lambda: (
            bootstrap_interval(
                krippendorff_alpha, *table, n_resamples=resamples, random_state=0
            ).low
        ),
        1,
    )
    rows.append(Row(f"alpha CI x{resamples}", name, ours[0], ref[0], ours[1], ref[1]))

    ours = timed(
        lambda: float(np.mean(pairwise_cohen(*table, label_order=[1, 2, 3, 4, 5]).kappa)), repeats
    )
    ref = timed(lambda: sklearn_pairwise_mean(*table), 1)
    rows.append(Row("pairwise cohen", name, ours[0], ref[0], ours[1], ref[1]))

    n_pairs = 100_000 if quick else 1_000_000
    rng = np.random.default_rng(1)
    a = rng.integers(5, size=n_pairs)
    b = np.where(rng.random(n_pairs) < 0.7, a, rng.integers(5, size=n_pairs))
    for weights in (None, "linear", "quadratic"):
        ours = timed(lambda w=weights: cohen_kappa(a, b, weights=w), repeats)
        ref = timed(lambda w=weights: cohen_kappa_score(a, b, weights=w), repeats)
        label = f"cohen {weights or 'unweighted'}"
        rows.append(Row(label, f"2 x {n_pairs // 1000}k", ours[0], ref[0], ours[1], ref[1]))
    return rows


def format_table(rows: list[Row]) -> str:
    """A plain-text table of ``rows``."""
    header = f"{'measure':<18}{'data':<16}{'ours':>10}{'reference':>11}"
    header += f"{'ours s':>10}{'ref s':>10}{'speed-up':>10}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.measure:<18}{r.data:<16}{r.value:>10.6f}{r.reference_value:>11.6f}"
            f"{r.seconds:>10.4f}{r.reference_seconds:>10.4f}"
            f"{r.reference_seconds / r.seconds:>9.1f}x"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 synthetic items, one run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    print(f"References: krippendorff package, scikit-learn; median of {repeats} runs.")
    print(format_table(run(quick=args.quick, repeats=repeats)))


if __name__ == "__main__":
    main()

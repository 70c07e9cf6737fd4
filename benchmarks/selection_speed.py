"""How fast do the query strategies choose a batch, against a naive version in the same run?

Uncertainty strategies choose 100 of 1,000,000 x 10 probabilities; the naive version scores with a
full per-row sort or scipy and ranks with a full ``np.argsort``. Diversity strategies choose 100 of
100,000 x 384 embeddings with 1,000 labelled; the naive version builds the full distance (or
similarity) matrix at once. Run: ``python benchmarks/selection_speed.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import pairwise_distances

from labelloop.learn.strategies import Pool, make_strategy
from labelloop.learn.strategies.density import heaviest_per_cluster


@dataclass(frozen=True)
class Row:
    """One line of the table: our median time and the naive baseline's."""

    method: str
    n_items: int
    seconds: float
    baseline: str
    baseline_seconds: float

    @property
    def items_per_s(self) -> float:
        return self.n_items / self.seconds

    @property
    def speedup(self) -> float:
        return self.baseline_seconds / self.seconds


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def naive_uncertainty(name: str, proba: np.ndarray, n: int) -> np.ndarray:
    """Score with a full per-row sort (or scipy), then rank everything with ``np.argsort``."""
    if name == "least_confidence":
        scores = 1.0 - proba.max(axis=1)
    elif name == "margin":
        ordered = np.sort(proba, axis=1)
        scores = 1.0 - (ordered[:, -1] - ordered[:, -2])
    else:
        scores = scipy_entropy(proba, axis=1)
    return np.argsort(-scores, kind="stable")[:n]


def naive_k_center(X: np.ndarray, labelled: np.ndarray, n: int) -> np.ndarray:
    """K-center greedy with one full (n_pool, n_labelled) distance matrix, no chunks."""
    min_dist = pairwise_distances(X, labelled).min(axis=1)
    chosen: list[int] = []
    for _ in range(n):
        pick = int(np.argmax(min_dist))
        chosen.append(pick)
        min_dist = np.minimum(min_dist, pairwise_distances(X, X[pick : pick + 1]).ravel())
        min_dist[chosen] = -1.0
    return np.array(chosen)


def naive_hybrid(proba: np.ndarray, X: np.ndarray, labelled: np.ndarray, n: int) -> np.ndarray:
    """Margin by full sort for the top ``10 n``, then the naive k-center among them."""
    candidates = naive_uncertainty("margin", proba, 10 * n)
    return candidates[naive_k_center(X[candidates], labelled, n)]


def naive_density_cluster(proba: np.ndarray, X: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Density from one full (10 n, n_pool) similarity matrix sorted row by row."""
    gap = np.sort(proba, axis=1)
    uncertainty = 1.0 - (gap[:, -1] - gap[:, -2])
    candidates = np.argsort(-uncertainty, kind="stable")[: 10 * n]
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    similarity = np.sort(unit[candidates] @ unit.T, axis=1)[:, -11:]
    weight = uncertainty[candidates] * np.maximum(similarity.mean(axis=1), 0.0)
    return candidates[heaviest_per_cluster(X[candidates], weight, n, seed)]


def run(
    *,
    n_proba: int = 1_000_000,
    n_classes: int = 10,
    n_embed: int = 100_000,
    dim: int = 384,
    n_labelled: int = 1_000,
    batch: int = 100,
    repeats: int = 3,
    seed: int = 0,
) -> list[Row]:
    """Time every method and its baseline on synthetic data; return one row per method."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(n_classes), size=n_proba)
    prob_pool = Pool(proba=proba)
    X = rng.normal(size=(n_embed, dim)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    labelled = rng.normal(size=(n_labelled, dim)).astype(np.float32)
    labelled /= np.linalg.norm(labelled, axis=1, keepdims=True)
    emb_pool = Pool(proba=proba[:n_embed], embeddings=X, labelled_embeddings=labelled)

    rows = []
    for name in ("least_confidence", "margin", "entropy"):
        strategy = make_strategy(name)
        ours = median_seconds(lambda s=strategy: s.select(prob_pool, batch), repeats)
        base = median_seconds(lambda n=name: naive_uncertainty(n, proba, batch), repeats)
        rows.append(Row(name, n_proba, ours, "full sort", base))
    random = make_strategy("random", random_state=seed)
    ours = median_seconds(lambda: random.select(prob_pool, batch), repeats)
    base = median_seconds(lambda: rng.permutation(n_proba)[:batch], repeats)
    rows.append(Row("random", n_proba, ours, "permutation", base))

    kcenter = make_strategy("kcenter")
    ours = median_seconds(lambda: kcenter.select(emb_pool, batch), repeats)
    base = median_seconds(lambda: naive_k_center(X, labelled, batch), repeats)
    rows.append(Row("kcenter", n_embed, ours, "pairwise_distances", base))
    hybrid = make_strategy("hybrid")
    ours = median_seconds(lambda: hybrid.select(emb_pool, batch), repeats)
    base = median_seconds(lambda: naive_hybrid(proba[:n_embed], X, labelled, batch), repeats)
    rows.append(Row("hybrid", n_embed, ours, "sort+pairwise_distances", base))
    density = make_strategy("density_cluster", random_state=seed)
    ours = median_seconds(lambda: density.select(emb_pool, batch), repeats)
    base = median_seconds(lambda: naive_density_cluster(proba[:n_embed], X, batch, seed), repeats)
    rows.append(Row("density_cluster", n_embed, ours, "full similarity + sort", base))
    return rows


def format_table(rows: list[Row]) -> str:
    """A plain-text table of ``rows``."""
    header = f"{'method':<18}{'pool':>10}{'seconds':>10}{'items/s':>16}"
    header += f"  {'baseline':<24}{'seconds':>9}{'speed-up':>10}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.method:<18}{r.n_items:>10,}{_secs(r.seconds):>10}{r.items_per_s:>16,.0f}"
            f"  {r.baseline:<24}{_secs(r.baseline_seconds):>9}{r.speedup:>9.1f}x"
        )
    return "\n".join(lines)


def _secs(seconds: float) -> str:
    return f"{seconds:.4f}" if seconds >= 1e-3 else f"{seconds:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="100,000 x 10 / 10,000 x 384, once")
    args = parser.parse_args()
    sizes = {"n_proba": 100_000, "n_embed": 10_000} if args.quick else {}
    repeats = 1 if args.quick else args.repeats
    print(f"Choosing a batch of {args.batch}; median of {repeats} runs.")
    print(format_table(run(batch=args.batch, repeats=repeats, **sizes)))


if __name__ == "__main__":
    main()

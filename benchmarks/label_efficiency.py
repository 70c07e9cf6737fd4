"""Learning curves of logistic regression under each query strategy, on real data.

From a stratified seed set (max(2, ceil(20 / n_classes)) per class) a strategy picks a batch, the
batch is labelled from the gold labels, logistic regression is refitted and scored on the test
set, until the budget is spent. Reports, per strategy and averaged over seeds, the labels needed
to reach 99 % of the accuracy of the same model trained on the whole pool, and the area under the
learning curve (mean test accuracy over the curve). small-text's and scikit-activeml's margin and
entropy run on the same splits and seeds where they import.

Run: ``python benchmarks/label_efficiency.py [--datasets digits,banking77,sst2] [--seeds 3]
[--quick] [--jobs 2] [--strategies margin,hybrid:beta=3]`` (or ``python -m
benchmarks.label_efficiency``). Each fit uses one BLAS thread; ``--jobs`` curves run in parallel.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import ``benchmarks`` from the repository root instead
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from benchmarks.datasets import LOADERS, Dataset
from labelloop.learn.strategies import STRATEGIES, Pool, make_strategy


@dataclass(frozen=True)
class Setting:
    """Batch size, label budget and the regularisation C (chosen once by 5-fold CV)."""

    batch: int
    budget: int
    C: float


SETTINGS = {
    "digits": Setting(batch=25, budget=500, C=10.0),
    "banking77": Setting(batch=50, budget=2000, C=10.0),
    "sst2": Setting(batch=50, budget=2000, C=1.0),
}
QUICK = {
    "digits": Setting(batch=20, budget=80, C=10.0),
    "banking77": Setting(batch=50, budget=254, C=10.0),
    "sst2": Setting(batch=20, budget=80, C=1.0),
}
# label -> (library, name, params); ours first, then the libraries we compare with.
EXTERNAL: dict[str, tuple[str, str, dict[str, Any]]] = {
    "small-text margin": ("small-text", "BreakingTies", {}),
    "small-text entropy": ("small-text", "PredictionEntropy", {}),
    "skactiveml margin": ("skactiveml", "margin_sampling", {}),
    "skactiveml entropy": ("skactiveml", "entropy", {}),
}


@dataclass(frozen=True)
class Context:
    """What a chooser sees at one step of a curve."""

    data: Dataset
    model: LogisticRegression
    labelled: np.ndarray
    unlabelled: np.ndarray
    n: int
    setting: Setting


Chooser = Callable[[Context], np.ndarray]


@dataclass(frozen=True)
class Curve:
    """Test accuracy after each step; ``n_labels[i]`` labels were used for ``accuracy[i]``."""

    n_labels: np.ndarray
    accuracy: np.ndarray
    select_seconds: float


def fit_model(X: np.ndarray, y: np.ndarray, C: float) -> LogisticRegression:
    """Multinomial logistic regression (lbfgs) on float32 features."""
    return LogisticRegression(C=C, max_iter=1000).fit(X, y)


def initial_labels(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stratified seed set: max(2, ceil(20 / n_classes)) random items of every class."""
    classes = np.unique(y)
    per_class = max(2, math.ceil(20 / len(classes)))
    return np.concatenate(
        [rng.choice(np.flatnonzero(y == c), size=per_class, replace=False) for c in classes]
    )


def learning_curve(data: Dataset, setting: Setting, chooser: Chooser, seed: int) -> Curve:
    """Run one active-learning loop with ``chooser`` until the budget is spent."""
    labelled = initial_labels(data.y_pool, np.random.default_rng(seed))
    sizes, scores, select_seconds = [], [], 0.0
    while True:
        model = fit_model(data.X_pool[labelled], data.y_pool[labelled], setting.C)
        sizes.append(len(labelled))
        scores.append(model.score(data.X_test, data.y_test))
        if len(labelled) >= setting.budget:
            break
        unlabelled = np.setdiff1d(np.arange(len(data.y_pool)), labelled)
        n = min(setting.batch, setting.budget - len(labelled))
        start = time.perf_counter()
        chosen = np.asarray(chooser(Context(data, model, labelled, unlabelled, n, setting)))
        select_seconds += time.perf_counter() - start
        if len(np.unique(chosen)) != n or not np.isin(chosen, unlabelled).all():
            raise RuntimeError(f"chooser returned {chosen!r}, not {n} unlabelled indices")
        labelled = np.concatenate([labelled, chosen])
    return Curve(np.array(sizes), np.array(scores), select_seconds)


def ours(name: str, seed: int, params: dict[str, Any]) -> Chooser:
    """A chooser running one of labelloop's registered strategies."""
    if "random_state" in STRATEGIES[name]().get_params():
        params = {"random_state": np.random.default_rng(seed), **params}
    strategy = make_strategy(name, **params)

    def choose(ctx: Context) -> np.ndarray:
        X = ctx.data.X_pool
        pool = Pool(
            proba=ctx.model.predict_proba(X[ctx.unlabelled]),
            embeddings=X[ctx.unlabelled],
            labelled_embeddings=X[ctx.labelled],
            features=X[ctx.unlabelled],
        )
        return ctx.unlabelled[strategy.select(pool, ctx.n)]

    return choose


def small_text_chooser(class_name: str) -> Chooser:
    """small-text's strategy scoring our fitted model through its classifier interface."""
    import small_text

    strategy = getattr(small_text, class_name)()

    class Fitted:
        def __init__(self, model: LogisticRegression) -> None:
            self.model = model

        def predict_proba(self, dataset: Any) -> np.ndarray:
            return self.model.predict_proba(dataset.x)

    def choose(ctx: Context) -> np.ndarray:
        classes = np.arange(len(ctx.data.names))
        dataset = small_text.SklearnDataset(ctx.data.X_pool, ctx.data.y_pool, classes)
        y = ctx.data.y_pool[ctx.labelled]
        return strategy.query(Fitted(ctx.model), dataset, ctx.unlabelled, ctx.labelled, y, ctx.n)

    return choose


def skactiveml_chooser(method: str, seed: int) -> Chooser:
    """scikit-activeml's UncertaintySampling, fitting its own wrapped logistic regression."""
    from skactiveml.classifier import SklearnClassifier
    from skactiveml.pool import UncertaintySampling

    strategy = UncertaintySampling(method=method, missing_label=-1, random_state=seed)

    def choose(ctx: Context) -> np.ndarray:
        y = np.full(len(ctx.data.y_pool), -1)
        y[ctx.labelled] = ctx.data.y_pool[ctx.labelled]
        estimator = LogisticRegression(C=ctx.setting.C, max_iter=1000)
        clf = SklearnClassifier(
            estimator, classes=np.arange(len(ctx.data.names)), missing_label=-1, random_state=seed
        )
        return strategy.query(ctx.data.X_pool, y, clf, batch_size=ctx.n)

    return choose


def make_chooser(label: str, seed: int) -> Chooser:
    """The chooser called ``label`` in the tables."""
    if label in EXTERNAL:
        library, name, _ = EXTERNAL[label]
        if library == "small-text":
            return small_text_chooser(name)
        return skactiveml_chooser(name, seed)
    name, *pairs = label.split(":")  # e.g. "hybrid:beta=3:chunk_size=1024"
    return ours(name, seed, dict(_parse(pair) for pair in pairs))


def _parse(pair: str) -> tuple[str, Any]:
    key, _, text = pair.partition("=")
    for kind in (int, float):
        try:
            return key, kind(text)
        except ValueError:
            pass
    return key, text


@lru_cache(maxsize=3)
def load(name: str) -> Dataset:
    """A data set (embeddings read from the cache after the first time)."""
    return LOADERS[name]()


def run_task(task: tuple[str, bool, str, int]) -> tuple[tuple[str, bool, str, int], Any]:
    """One curve, in a worker: returns the task and its Curve, or the error text."""
    name, quick, label, seed = task
    setting = (QUICK if quick else SETTINGS)[name]
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return task, learning_curve(load(name), setting, make_chooser(label, seed), seed)
        except Exception as exc:  # a library failing must not stop the benchmark
            return task, f"{type(exc).__name__}: {exc}"


def labels_to_reach(curve: Curve, target: float) -> int | None:
    """The first label count at which the accuracy reaches ``target``, or None."""
    hits = np.flatnonzero(curve.accuracy >= target)
    return int(curve.n_labels[hits[0]]) if len(hits) else None


def aulc(curve: Curve) -> float:
    """Area under the learning curve divided by its width: mean accuracy over the curve."""
    width = curve.n_labels[-1] - curve.n_labels[0]
    return float(np.trapezoid(curve.accuracy, curve.n_labels) / width)


def summarise(curves: list[Curve], target: float, budget: int) -> tuple[str, str, float, float]:
    """(labels to target, seeds reaching it, AULC, accuracy at budget) over seeds."""
    reached = [labels_to_reach(c, target) for c in curves]
    hits = [r for r in reached if r is not None]
    labels = f"{np.mean(hits):,.0f}" if len(hits) == len(curves) else f">{budget:,}"
    mean_aulc = float(np.mean([aulc(c) for c in curves]))
    final = float(np.mean([c.accuracy[-1] for c in curves]))
    return labels, f"{len(hits)}/{len(curves)}", mean_aulc, final


def default_labels() -> list[str]:
    """Every registered strategy, then the external libraries that import."""
    labels = list(STRATEGIES)
    for label, (library, _, _) in EXTERNAL.items():
        try:
            __import__("small_text" if library == "small-text" else "skactiveml")
        except ImportError as exc:
            print(f"skipping {label}: {exc}")
            continue
        labels.append(label)
    return labels


def report(name: str, quick: bool, results: dict[str, list[Curve]], seeds: int) -> str:
    """The table for one data set."""
    data, setting = load(name), (QUICK if quick else SETTINGS)[name]
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = fit_model(data.X_pool, data.y_pool, setting.C).score(data.X_test, data.y_test)
    target = 0.99 * full
    seed_set = len(initial_labels(data.y_pool, np.random.default_rng(0)))
    lines = [
        f"{name}: pool {len(data.y_pool):,}, test {len(data.y_test):,}, {len(data.names)} "
        f"classes; LR C={setting.C:g}; full-data accuracy {full:.4f}, 99 % target {target:.4f}",
        f"seed set {seed_set}, batch {setting.batch}, budget {setting.budget:,}, {seeds} seeds; "
        "mean over seeds; select s = seconds spent choosing per curve",
        f"{'strategy':<28}{'labels to 99%':>14}{'reached':>9}{'AULC':>8}"
        f"{'acc@budget':>12}{'select s':>10}",
    ]
    rows = []
    for label, curves in results.items():
        labels, reached, area, final = summarise(curves, target, setting.budget)
        select = np.mean([c.select_seconds for c in curves])
        order = float(labels.replace(",", "")) if labels[0] != ">" else math.inf
        rows.append(
            (
                (order, -area),
                f"{label:<28}{labels:>14}{reached:>9}{area:>8.4f}{final:>12.4f}{select:>10.1f}",
            )
        )
    lines += [line for _, line in sorted(rows)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Label efficiency of query strategies.")
    parser.add_argument("--datasets", default="digits,banking77,sst2")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny budgets, for a smoke run")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--strategies", default="", help="labels to run (default: all)")
    args = parser.parse_args()
    names = args.datasets.split(",")
    labels = args.strategies.split(",") if args.strategies else default_labels()
    for name in names:
        load(name)  # embed once, before the workers start
    tasks = [
        (n, args.quick, label, seed)
        for n in names
        for label in labels
        for seed in range(args.seeds)
    ]
    tasks.sort(key=lambda t: (-len(load(t[0]).y_pool), t[2] not in EXTERNAL))  # slowest first
    results: dict[str, dict[str, list[Curve]]] = {n: {label: [] for label in labels} for n in names}
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as executor:
        for (name, _, label, seed), outcome in executor.map(run_task, tasks):
            if isinstance(outcome, str):
                print(f"{name} / {label} / seed {seed} failed: {outcome}")
                results[name].pop(label, None)
            elif label in results[name]:
                results[name][label].append(outcome)
    for name in names:
        print()
        print(report(name, args.quick, results[name], args.seeds))
    print(f"\n{len(tasks)} curves in {time.perf_counter() - start:.0f} s with {args.jobs} jobs")


if __name__ == "__main__":
    main()

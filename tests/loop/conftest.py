"""Fixtures of the loop tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from labelloop.loop.project import Project, connect
from labelloop.settings import Settings


@pytest.fixture
def close() -> Iterator[Callable[[Project], None]]:
    """Register a project to be closed (and its engine disposed) after the test."""
    opened: list[Project] = []
    yield opened.append
    for project in opened:
        project.close()
        project.engine.dispose()


@pytest.fixture
def text_project(
    tmp_path: Path, store_url: str, close: Callable[[Project], None]
) -> Callable[..., Project]:
    """Make a two-label text project (``a``, ``b``) of ``n_items`` items "item N" on the test's
    store, retraining off and seeded; ``config`` keys override the defaults. Closed after the
    test."""

    def make(*, n_items: int = 20, name: str = "p", **config: Any) -> Project:
        settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
        full = {
            "name": name,
            "labels": ["a", "b"],
            "routing": {"holdout_size": 10},
            "retrain": {"every": 1000},
            **config,
        }
        project = Project.create(
            full, engine=connect(settings), settings=settings, retrain="off", random_state=0
        )
        close(project)
        items = tmp_path / f"{name}-items.jsonl"
        items.write_text(
            "".join(json.dumps({"id": i, "text": f"item {i}"}) + "\n" for i in range(n_items))
        )
        project.import_file(items)
        return project

    return make

"""Fixtures of the loop tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from labelloop.loop.project import Project


@pytest.fixture
def close() -> Iterator[Callable[[Project], None]]:
    """Register a project to be closed (and its engine disposed) after the test."""
    opened: list[Project] = []
    yield opened.append
    for project in opened:
        project.close()
        project.engine.dispose()

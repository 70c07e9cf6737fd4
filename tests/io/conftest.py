"""Shared project configs for the I/O tests."""

from __future__ import annotations

import pytest

from labelloop.config import ProjectConfig


@pytest.fixture
def text_config() -> ProjectConfig:
    return ProjectConfig(name="reviews", labels=("neg", "pos"), label_field="label")


@pytest.fixture
def multi_config() -> ProjectConfig:
    return ProjectConfig(
        name="topics", labels=("art", "law", "tech"), multi_label=True, label_field="labels"
    )


@pytest.fixture
def tabular_config() -> ProjectConfig:
    return ProjectConfig(
        name="loans",
        labels=("ok", "fraud"),
        data="tabular",
        feature_fields=("age", "income"),
        label_field="label",
    )

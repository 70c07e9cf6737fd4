"""The featurizer and the model a project's config asks for."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.config import parse_config
from labelloop.errors import ConfigError
from labelloop.learn.features import (
    EmbeddingFeaturizer,
    NumericFeaturizer,
    RecordsFeaturizer,
    TfidfFeaturizer,
)
from labelloop.learn.models import HttpModel, LogisticModel
from labelloop.loop.model_setup import featurizer_for, model_for


def _config(**overrides: Any) -> Any:
    return parse_config({"name": "p", "labels": ["a", "b", "c"], **overrides})


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, TfidfFeaturizer),
        ({"data": "tabular", "feature_fields": ["a", "b"]}, NumericFeaturizer),
        ({"data": "image", "feature_fields": ["pixels"]}, NumericFeaturizer),
        ({"model": {"features": "embeddings"}}, EmbeddingFeaturizer),
        ({"model": {"kind": "plugin", "plugin": "m:C"}}, RecordsFeaturizer),
        ({"model": {"kind": "plugin", "plugin": "m:C", "features": "tfidf"}}, TfidfFeaturizer),
        ({"model": {"kind": "http", "url": "http://m"}}, RecordsFeaturizer),
    ],
)
def test_featurizer_follows_the_config(overrides: dict[str, Any], expected: type) -> None:
    assert type(featurizer_for(_config(**overrides))) is expected


def test_featurizer_uses_the_configured_fields() -> None:
    feat = featurizer_for(_config(text_field="body"))
    assert isinstance(feat, TfidfFeaturizer) and feat.field == "body"
    num = featurizer_for(_config(data="tabular", feature_fields=["a", "b"]))
    assert isinstance(num, NumericFeaturizer) and list(num.fields) == ["a", "b"]


def test_featurizer_rejects_impossible_combinations_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"model\.features: 'numeric' needs feature_fields"):
        featurizer_for(_config(model={"features": "numeric"}))
    with pytest.raises(ConfigError, match=r"model\.features: must be 'auto' for an http model"):
        featurizer_for(_config(model={"kind": "http", "url": "http://m", "features": "tfidf"}))


def test_model_follows_the_config() -> None:
    model = model_for(_config(multi_label=True, model={"C": 2.0}), random_state=7)
    assert isinstance(model, LogisticModel)
    assert (model.n_classes, model.multi_label, model.C, model.random_state) == (3, True, 2.0, 7)
    embedded = model_for(_config(model={"features": "embeddings"}))
    assert isinstance(embedded, LogisticModel) and embedded.C == 8.0
    http = model_for(_config(model={"kind": "http", "url": "http://m/predict", "timeout_s": 5}))
    assert isinstance(http, HttpModel)
    assert (http.url, http.n_classes, http.timeout_s) == ("http://m/predict", 3, 5.0)
    spec = "labelloop.learn.models:LogisticModel"  # any class taking n_classes, multi_label
    plugin = model_for(_config(multi_label=True, model={"kind": "plugin", "plugin": spec}))
    assert isinstance(plugin, LogisticModel) and (plugin.n_classes, plugin.multi_label) == (3, True)

"""The featurizer and the model a project's config asks for.

:mod:`labelloop.learn` takes plain parameters; this is where the ``model`` section of the config
and the data settings turn into them, and where a combination the config allows but no
featurizer can serve is reported with its config key.
"""

from __future__ import annotations

from typing import Any

from labelloop.config import ProjectConfig
from labelloop.errors import ConfigError
from labelloop.kinds import kind_for
from labelloop.learn.features import Featurizer, make_featurizer
from labelloop.learn.models import Model, make_model


def featurizer_kind(config: ProjectConfig) -> str:
    """Which featurizer the project uses.

    HTTP models always get 'records' (items travel as JSON); plug-ins get it when
    ``model.features`` is 'auto', else the named featurizer. 'auto' is TF-IDF for text and
    numeric columns for tabular and image data.
    """
    features, kind = config.model.features, config.model.kind
    if kind == "http" and features != "auto":
        raise ConfigError(f"model.features: must be 'auto' for an http model. Got {features!r}")
    if kind == "http" or (kind == "plugin" and features == "auto"):
        return "records"
    if features == "auto":
        return "tfidf" if config.data == "text" else "numeric"
    if features == "numeric" and not config.feature_fields:
        raise ConfigError("model.features: 'numeric' needs feature_fields (the numeric columns)")
    return features


def featurizer_for(config: ProjectConfig) -> Featurizer:
    """A new, unfitted featurizer for the project's items."""
    return make_featurizer(
        featurizer_kind(config),
        text_field=config.text_field,
        feature_fields=config.feature_fields,
    )


def model_for(
    config: ProjectConfig, *, random_state: int | None = None, warm_start_from: Any = None
) -> Model:
    """A new, unfitted model for the project; ``warm_start_from`` (the previous version, fitted
    on the same features) seeds the built-in model's solver."""
    model = config.model
    return make_model(
        model.kind,
        n_classes=len(config.labels),
        multi_label=kind_for(config).independent_labels,
        C=config.regularisation(),
        plugin=model.plugin,
        url=model.url,
        timeout_s=model.timeout_s,
        random_state=random_state,
        warm_start_from=warm_start_from,
    )

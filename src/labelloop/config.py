"""Project configuration: label schema, data, model, query strategy, routing and retraining.

A project is described by a TOML or YAML file (or the same dict through the API). Unknown keys and
bad values raise :class:`~labelloop.errors.ConfigError` naming the dotted key, e.g.
``routing.target_accuracy: Input should be less than 1``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from labelloop.codec import reads_as
from labelloop.errors import ConfigError, RuleError
from labelloop.routing.rules import compile_rule
from labelloop.tiers import Tier


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rule(_Strict):
    when: str

    @field_validator("when")
    @classmethod
    def _parses(cls, text: str) -> str:
        try:
            compile_rule(text)
        except RuleError as exc:
            raise ValueError(str(exc)) from None
        return text


class RiskRule(_Rule):
    """Route items whose metadata match ``when`` to ``tier``, whatever the model's confidence."""

    tier: Tier = "expert"


class SkillRule(_Rule):
    """Hand items whose metadata match ``when`` only to people with ``skill`` on the project."""

    skill: str = Field(min_length=1, max_length=64)


class ModelConfig(_Strict):
    """Which model pre-annotates and how its features are made.

    ``C`` is the inverse L2 strength of the built-in logistic regression; unset, it is 8 for
    sentence embeddings (unit-length vectors give weak logits: on banking77 C = 8 to 16 errs a
    quarter less than C = 1) and 1 otherwise.
    """

    kind: Literal["logistic", "plugin", "http"] = "logistic"
    features: Literal["auto", "tfidf", "embeddings", "numeric"] = "auto"
    C: float | None = Field(default=None, gt=0)
    plugin: str | None = None
    url: str | None = None
    timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _needs_target(self) -> ModelConfig:
        if self.kind == "plugin" and not self.plugin:
            raise ValueError("model.kind 'plugin' needs model.plugin = 'package.module:Class'")
        if self.kind == "http" and not self.url:
            raise ValueError("model.kind 'http' needs model.url")
        return self


class QueryConfig(_Strict):
    """How the human queue is ordered."""

    strategy: str = "margin"
    batch_size: int = Field(default=50, ge=1)

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, name: str) -> str:
        # Imported here: the strategies load scikit-learn (a second), which reading a config
        # for `labelloop --help` or `labelloop aggregate` must not pay for.
        from labelloop.learn.strategies import STRATEGIES

        if name not in STRATEGIES:
            raise ValueError(f"unknown strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}")
        return name


class RoutingConfig(_Strict):
    """Target accuracy of the finished dataset, the risk rules and the skill rules."""

    target_accuracy: float = Field(default=0.99, gt=0, lt=1)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    holdout_size: int | None = Field(default=None, ge=10)
    holdout_max_fraction: float = Field(default=0.1, gt=0, le=1)
    rules: tuple[RiskRule, ...] = ()
    skills: tuple[SkillRule, ...] = ()


class TasksConfig(_Strict):
    """How work is handed to people: distinct annotators per item, lease length, how many leases
    one person may hold and how long an answer can be undone."""

    overlap: int = Field(default=1, ge=1, le=20)
    lease_seconds: int = Field(default=600, ge=10)
    # Most open leases one person holds on the project: nobody can take the whole queue.
    max_leases: int = Field(default=50, ge=1, le=1000)
    # How long after answering a person may take their answer back (0: never).
    undo_seconds: int = Field(default=60, ge=0, le=3600)


class RetrainConfig(_Strict):
    """When a new model version is trained."""

    every: int = Field(default=50, ge=1)
    min_labels: int = Field(default=10, ge=2)


class GatesConfig(_Strict):
    """What a dataset version must show before it can be certified (unset: not checked).

    The estimated label accuracy must always reach ``routing.target_accuracy`` and the holdout
    must hold ``min_holdout`` labelled items (default: the size the target asks for)."""

    min_agreement: float | None = Field(default=None, ge=-1, le=1)
    min_gold_accuracy: float | None = Field(default=None, gt=0, le=1)
    min_holdout: int | None = Field(default=None, ge=1)


class QualityConfig(_Strict):
    """How answers become labels and how people's work is checked.

    ``aggregation`` turns the answers to an item into a label and a posterior. With
    ``max_overlap`` above ``tasks.overlap`` overlap is dynamic: an item whose best posterior is
    under ``min_posterior`` (default: the target accuracy) goes to one more person, up to
    ``max_overlap``, then to a reviewer. ``gold_rate`` of the hand-outs are gold questions; an
    annotator whose gold accuracy falls under ``min_annotator_accuracy`` after
    ``min_gold_answers`` gold answers is paused and flagged to admins."""

    aggregation: Literal["majority", "wawa", "one-coin", "dawid-skene"] = "majority"
    max_overlap: int | None = Field(default=None, ge=1, le=20)
    min_posterior: float | None = Field(default=None, gt=0, lt=1)
    gold_rate: float = Field(default=0.0, ge=0, le=0.5)
    min_annotator_accuracy: float = Field(default=0.0, ge=0, le=1)
    min_gold_answers: int = Field(default=10, ge=1)
    gates: GatesConfig = GatesConfig()


class ProjectConfig(_Strict):
    """Everything that defines a labelling project."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    labels: tuple[str, ...] = Field(min_length=2)
    kind: str = "single_label"
    multi_label: bool = Field(default=False, strict=True)
    data: Literal["text", "tabular", "image"] = "text"
    text_field: str = "text"
    feature_fields: tuple[str, ...] = ()
    id_field: str | None = "id"
    label_field: str | None = None
    image_shape: tuple[int, ...] | None = None
    guidelines: str = ""
    model: ModelConfig = ModelConfig()
    query: QueryConfig = QueryConfig()
    routing: RoutingConfig = RoutingConfig()
    retrain: RetrainConfig = RetrainConfig()
    tasks: TasksConfig = TasksConfig()
    quality: QualityConfig = QualityConfig()

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, raw: Any) -> Any:
        """``multi_label: true`` is short for ``kind: multi_label``; each implies the other."""
        if not isinstance(raw, dict):
            return raw
        kind, multi = raw.get("kind"), raw.get("multi_label")
        if multi is True and kind in (None, "multi_label"):
            return {**raw, "kind": "multi_label"}
        if kind == "multi_label" and multi in (None, True):
            return {**raw, "multi_label": True}
        if multi is True or (kind == "multi_label" and multi is not None):
            raise ValueError(f"multi_label: {multi!r} contradicts kind {kind!r}")
        return raw

    @model_validator(mode="after")
    def _check_schema(self) -> ProjectConfig:
        from labelloop.kinds import KINDS, make_kind

        if self.kind not in KINDS:
            raise ValueError(f"kind: {KINDS.unknown(self.kind)}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be unique")
        kind = make_kind(self.kind, self.labels)
        read: dict[str, str] = {}
        for name in self.labels:
            if reason := kind.label_name_problem(name):
                raise ValueError(f"label {name!r} {reason}")
            if (twin := read.setdefault(reads_as(name), name)) != name:
                raise ValueError(f"labels {twin!r} and {name!r} read the same")
        if self.quality.max_overlap is not None and self.quality.max_overlap < self.tasks.overlap:
            raise ValueError("quality.max_overlap must be at least tasks.overlap")
        if self.data in ("tabular", "image") and not self.feature_fields:
            raise ValueError(f"data '{self.data}' needs feature_fields (the numeric columns)")
        return self

    def max_overlap(self) -> int:
        """Most distinct annotators an item may get (dynamic overlap when above the overlap)."""
        return self.quality.max_overlap or self.tasks.overlap

    def min_posterior(self) -> float:
        """Posterior of the best label under which dynamic overlap asks one more person."""
        return self.quality.min_posterior or self.routing.target_accuracy

    def regularisation(self) -> float:
        """The logistic regression's ``C`` for this project."""
        if self.model.C is not None:
            return self.model.C
        return 8.0 if self.model.features == "embeddings" else 1.0


def parse_config(raw: dict[str, Any], *, source: str = "config") -> ProjectConfig:
    """Validate a config dict, raising :class:`ConfigError` that names every bad key."""
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{key}: {err['msg']}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from None


def load_config(path: str | Path) -> ProjectConfig:
    """Read a project config from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        if path.suffix == ".toml":
            raw = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            raw = yaml.safe_load(text)
        elif path.suffix == ".json":
            raw = json.loads(text)
        else:
            raise ConfigError(f"{path}: unknown config format (use .toml, .yaml or .json)")
    except (tomllib.TOMLDecodeError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a table of keys")
    guidelines_file = raw.pop("guidelines_file", None)
    if guidelines_file is not None:
        gpath = (path.parent / str(guidelines_file)).resolve()
        try:
            raw["guidelines"] = gpath.read_text(encoding="utf-8")
        except OSError:
            raise ConfigError(f"{path}: guidelines_file: cannot read {gpath}") from None
    return parse_config(raw, source=str(path))

"""Red team after the core was reshaped (issue 10), through the library: audit rounds evaluated by
racing callers, the ``kind`` / ``multi_label`` config, label names that pages and files must
carry, and hostile answers to ``submit`` and ``annotate``, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from labelloop.config import parse_config
from labelloop.errors import AnswerError, ConfigError, ConflictError
from labelloop.learn import persistence
from labelloop.learn.models import HttpModel
from labelloop.loop import training
from labelloop.loop.project import Project
from labelloop.store import tables as t
from labelloop.store.engine import writer
from races import race


def _project(text_project: Callable[..., Project], **config: Any) -> Project:
    """The red team's project: 60 items, routing to 80 % accuracy."""
    config.setdefault("n_items", 60)
    routing = {"holdout_size": 10, "target_accuracy": 0.8}
    return text_project(name="redteam", routing=routing, **config)


def _promote_a_model(project: Project, confidence: float = 0.99) -> int:
    """A promoted model version 1 that predicts "a" for every item (written directly: what is
    raced here is the routing, not the training); its row id."""
    with writer(project.engine).begin() as conn:
        version_id = t.inserted_id(
            conn.execute(
                t.model_versions.insert().values(
                    project_id=project.id, version=1, status="promoted", n_labels=10, metrics={}
                )
            )
        )
        item_ids = conn.execute(
            select(t.items.c.id).where(t.items.c.project_id == project.id)
        ).scalars()
        conn.execute(
            t.predictions.insert(),
            [
                {
                    "item_id": i,
                    "model_version_id": version_id,
                    "label": "a",
                    "confidence": confidence,
                }
                for i in item_ids
            ],
        )
        # The holdout is labelled, so nothing holds routing back.
        conn.execute(
            t.items.update()
            .where(t.items.c.project_id == project.id, t.items.c.is_holdout)
            .values(is_holdout=False)
        )
    return version_id


def _label_audit_sample(project: Project, label: str) -> int:
    """Give every audit item of the open round the final label ``label`` (written directly: an
    answer through :meth:`Project.annotate` would evaluate the round itself); the round's id."""
    with writer(project.engine).begin() as conn:
        round_id = conn.execute(
            select(t.routing_rounds.c.id).where(t.routing_rounds.c.status == "sampling")
        ).scalar_one()
        sample = (
            conn.execute(
                select(t.audit_samples.c.item_id).where(t.audit_samples.c.round_id == round_id)
            )
            .scalars()
            .all()
        )
        conn.execute(
            t.final_labels.insert(),
            [
                {
                    "item_id": item_id,
                    "project_id": project.id,
                    "label": label,
                    "source": "human",
                    "decided_by": "ann",
                }
                for item_id in sample
            ],
        )
        conn.execute(t.items.update().where(t.items.c.id.in_(sample)).values(status="labelled"))
    return int(round_id)


def _round_events(project: Project) -> list[str]:
    with project.engine.connect() as conn:
        return list(
            conn.execute(
                select(t.events.c.action)
                .where(t.events.c.action.like("round.%"))
                .order_by(t.events.c.id)
            ).scalars()
        )


@pytest.mark.parametrize("callers", [8])
def test_concurrent_routing_starts_one_round(text_project, callers) -> None:
    project = _project(text_project, tasks={"overlap": 1})
    _promote_a_model(project)
    outcomes = race([project.route for _ in range(callers)])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    with project.engine.connect() as conn:
        rounds = conn.execute(select(func.count()).select_from(t.routing_rounds)).scalar_one()
    assert rounds == 1, [o.action for o in outcomes]
    assert _round_events(project) == ["round.start"]


@pytest.mark.parametrize("label", ["a", "b"], ids=["passes", "fails"])
def test_concurrent_evaluations_of_an_answered_round_evaluate_it_once(text_project, label) -> None:
    project = _project(text_project, tasks={"overlap": 1})
    _promote_a_model(project)
    assert project.route().action == "started"
    round_id = _label_audit_sample(project, label)
    outcomes = race([project.route for _ in range(8)])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    evaluated = _round_events(project)[1:]
    assert evaluated == ["round.passed" if label == "a" else "round.failed"], evaluated
    with project.engine.connect() as conn:
        status = conn.execute(
            select(t.routing_rounds.c.status).where(t.routing_rounds.c.id == round_id)
        ).scalar_one()
    assert status == ("passed" if label == "a" else "failed")


# -- the kind and multi_label config ----------------------------------------------------------

BASE = {"name": "cfg", "labels": ["a", "b"]}


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        ({}, "single_label"),
        ({"multi_label": True}, "multi_label"),
        ({"multi_label": False}, "single_label"),
        ({"kind": "multi_label"}, "multi_label"),
        ({"kind": "multi_label", "multi_label": True}, "multi_label"),
        ({"kind": "single_label", "multi_label": False}, "single_label"),
    ],
)
def test_kind_and_multi_label_agree(extra, kind) -> None:
    config = parse_config({**BASE, **extra})
    assert (config.kind, config.multi_label) == (kind, kind == "multi_label")


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"kind": "single_label", "multi_label": True}, "contradicts"),
        ({"kind": "multi_label", "multi_label": False}, "contradicts"),
        ({"kind": "gone"}, "Unknown task kind 'gone'. Known: multi_label, single_label"),
        ({"kind": "Multi_Label"}, "Unknown task kind"),
        ({"kind": " multi_label"}, "Unknown task kind"),
        ({"kind": None}, "kind"),
        ({"kind": 3}, "kind"),
        ({"kind": ["multi_label"]}, "kind"),
    ],
)
def test_a_kind_that_makes_no_sense_is_refused_naming_it(extra, problem) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_config({**BASE, **extra})


@pytest.mark.parametrize("value", [1, "true", "yes", "on"])
def test_multi_label_given_as_a_truthy_non_boolean_cannot_contradict_the_kind(value) -> None:
    try:
        config = parse_config({**BASE, "multi_label": value})
    except ConfigError:
        return
    assert config.multi_label == (config.kind == "multi_label"), config


@pytest.mark.parametrize(
    "labels",
    [
        ["caf\u00e9", "cafe\u0301"],  # NFC and NFD of one word
        ["a b", "a  b"],  # one space or two: the page shows one
        ["a b", "a\u00a0b"],  # a no-break space
        ["ab", "a\u200bb"],  # a zero-width space
        ["\uff41", "a"],  # fullwidth
    ],
    ids=["nfd", "double-space", "nbsp", "zero-width", "fullwidth"],
)
def test_labels_that_read_the_same_are_refused(labels) -> None:
    with pytest.raises(ConfigError):
        parse_config({**BASE, "labels": labels})


def test_a_config_stored_before_kinds_existed_opens(text_project, close) -> None:
    project = _project(text_project, n_items=4)
    multi = Project.create(
        {"name": "oldmulti", "labels": ["a", "b"], "multi_label": True},
        engine=project.engine,
        settings=project.settings,
        retrain="off",
    )
    close(multi)
    with writer(project.engine).begin() as conn:
        for name, dropped in (("redteam", ("kind", "multi_label")), ("oldmulti", ("kind",))):
            row = conn.execute(select(t.projects.c.config).where(t.projects.c.name == name))
            config = {k: v for k, v in row.scalar_one().items() if k not in dropped}
            conn.execute(t.projects.update().where(t.projects.c.name == name).values(config=config))
    for name, kind in (("redteam", "single_label"), ("oldmulti", "multi_label")):
        reopened = Project.open(name, engine=project.engine, settings=project.settings)
        close(reopened)
        assert reopened.config.kind == kind


def test_a_stored_config_of_an_uninstalled_kind_fails_to_open_naming_the_kind(text_project) -> None:
    project = _project(text_project, n_items=4)
    with writer(project.engine).begin() as conn:
        row = conn.execute(select(t.projects.c.config).where(t.projects.c.name == "redteam"))
        config = {**row.scalar_one(), "kind": "ranking"}
        conn.execute(t.projects.update().values(config=config))
    with pytest.raises(ConfigError, match=r"project redteam.*Unknown task kind 'ranking'"):
        Project.open("redteam", engine=project.engine, settings=project.settings)


# -- answers through the library --------------------------------------------------------------


@pytest.mark.parametrize(
    ("multi", "answer"),
    [
        (False, ("a",)),
        (False, {"a"}),
        (False, b"a"),
        (False, 0),
        (False, float("nan")),
        (False, None),
        (False, ["a"]),
        (True, ("a",)),
        (True, {"a"}),
        (True, [b"a"]),
        (True, [0]),
        (True, None),
        (True, {"a": True}),
        (True, [["a"]]),
        (True, "a|b"),
    ],
)
def test_a_hostile_answer_through_the_library_is_refused_and_stores_nothing(
    text_project, multi, answer
) -> None:
    project = _project(text_project, n_items=4, multi_label=multi)
    (task,) = project.next_tasks(1, annotator="ann")
    with pytest.raises(AnswerError, match="label"):
        project.submit(task.id, answer, person="ann")
    with pytest.raises(AnswerError, match="label"):
        project.annotate(task.item_id, answer, annotator="ann")
    with project.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.annotations)).scalar_one() == 0


def test_a_client_key_reused_for_another_item_does_not_drop_the_answer(text_project) -> None:
    project = _project(text_project, n_items=4, tasks={"overlap": 1})
    first, second = project.next_tasks(2, annotator="ann")
    project.annotate(first.item_id, "a", annotator="ann", task_id=first.id, client_key="k")
    try:
        result = project.annotate(
            second.item_id, "b", annotator="ann", task_id=second.id, client_key="k"
        )
    except ConflictError:  # refused, naming the key: fine too
        return
    assert result.created and result.item_id == second.item_id


class _EntryPoint:
    """A stand-in for an installed plugin's entry point."""

    def __init__(self, name: str, load: Callable[[], Any]) -> None:
        self.name = name
        self.load = load


def _broken() -> Any:
    raise ImportError("No module named 'old_kinds'")


def test_a_plugin_that_no_longer_imports_does_not_break_other_lookups(monkeypatch) -> None:
    import labelloop.registry as registry

    class Ranking:
        pass

    points = [_EntryPoint("stale", _broken), _EntryPoint("ranking", lambda: Ranking)]
    monkeypatch.setattr(registry, "entry_points", lambda group: points)
    kinds: registry.Registry[Any] = registry.Registry("task kind", entry_point_group="g")
    kinds.add("single_label", object)
    assert "gone" not in kinds
    assert kinds["ranking"] is Ranking
    with pytest.raises(ValueError, match="stale"):  # the message says which plugin broke
        kinds.get_or_raise("stale")


# -- training racing training ------------------------------------------------------------------


def test_two_handles_training_at_once_keep_each_versions_own_model_file(
    text_project, close, monkeypatch
) -> None:
    project = _project(text_project, n_items=80, retrain={"every": 1000, "min_labels": 6})
    for task in project.next_tasks(60, annotator="ann"):
        project.annotate(task.item_id, "a" if task.item_id % 2 else "b", annotator="ann")
    other = Project.open("redteam", engine=project.engine, settings=project.settings)
    close(other)
    both_trained = threading.Barrier(2, timeout=60)

    judge = training.holdout_metrics

    def holdout_metrics(*args: Any) -> Any:  # both have a model before either records it
        both_trained.wait()
        return judge(*args)

    monkeypatch.setattr(training, "holdout_metrics", holdout_metrics)
    results = race([project.train, other.train])
    with project.engine.connect() as conn:
        rows = conn.execute(
            select(t.model_versions.c.version, t.model_versions.c.path, t.model_versions.c.metrics)
        ).all()
    for row in rows:
        *_, meta = persistence.load_model(Path(row.path))
        assert meta["version"] == row.version and meta["metrics"] == row.metrics
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.version for r in rows) == [1, 2]


def test_an_http_models_fit_url_keeps_the_query_string() -> None:
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={})

    model = HttpModel("http://model.test/m?key=k3y", 2, transport=httpx.MockTransport(answer))
    model.fit([{"text": "a"}, {"text": "b"}], np.array([0, 1]))
    assert (seen[0].path, seen[0].params.get("key")) == ("/m/fit", "k3y"), seen[0]

"""The task-kind protocol: the two built-in kinds, the registry, and configs naming kinds."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop import registry as registry_module
from labelloop.config import parse_config
from labelloop.errors import AnswerError, ConfigError
from labelloop.kinds import KINDS, MultiLabel, SingleLabel, TaskKind, kind_for, make_kind
from labelloop.registry import Registry

LABELS = ("cat", "dog", "fox")


def test_single_label_answers_round_trip_and_bad_ones_are_named() -> None:
    kind = SingleLabel(LABELS)
    assert kind.validate("dog") == "dog"
    assert kind.answer(kind.key("dog")) == "dog"
    assert kind.read(" fox ") == "fox" and kind.read("") is None
    for bad, message in [
        ("cow", "not one of"),
        (["dog"], "not one of"),
        (None, "not one of"),
    ]:
        with pytest.raises(AnswerError, match=message):
            kind.validate(bad)
    with pytest.raises(AnswerError, match=r"must be one label.*got a list"):
        kind.read(["dog", "cat"])
    with pytest.raises(AnswerError, match="unknown label 'cow'; allowed: cat, dog, fox"):
        kind.read("cow")


def test_multi_label_answers_are_sorted_sets_read_from_text_or_lists() -> None:
    kind = MultiLabel(LABELS)
    assert kind.validate(["fox", "cat", "fox"]) == ["cat", "fox"]
    assert kind.validate("dog") == ["dog"] and kind.validate([]) == []
    assert kind.read("fox|cat") == ["cat", "fox"] and kind.read(["dog"]) == ["dog"]
    assert kind.describe([]) == "(none)" and kind.describe(["cat", "fox"]) == "cat|fox"
    with pytest.raises(AnswerError, match="label: unknown label 'cow'; allowed: cat, dog, fox"):
        kind.validate(["cow"])
    with pytest.raises(AnswerError, match="list of label names, got a number"):
        kind.validate(3)
    assert kind.label_name_problem("a|b") is not None
    assert SingleLabel(LABELS).label_name_problem("a|b") is None


def test_model_targets_suggestions_and_rightness() -> None:
    single, multi = SingleLabel(LABELS), MultiLabel(LABELS)
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    assert single.targets(["dog", "cat"]).tolist() == [1, 0]
    labels, confidence = single.suggest(proba)
    assert labels == ["cat", "fox"] and confidence.tolist() == [0.7, 0.6]
    assert single.correct(proba, np.array([0, 1])).tolist() == [True, False]
    assert not single.trainable(np.array([1, 1])) and single.trainable(np.array([0, 1]))

    y = multi.targets([["cat", "fox"], []])
    assert y.tolist() == [[1, 0, 1], [0, 0, 0]]
    labels, confidence = multi.suggest(np.array([[0.9, 0.2, 0.6], [0.1, 0.1, 0.1]]))
    assert labels == [["cat", "fox"], []]
    np.testing.assert_allclose(confidence, [0.9 * 0.8 * 0.6, 0.9**3])
    assert multi.correct(np.array([[0.9, 0.2, 0.6]]), np.array([[1, 0, 1]])).tolist() == [True]
    assert multi.correct(np.array([[0.9, 0.2, 0.4]]), np.array([[1, 0, 1]])).tolist() == [False]
    assert not multi.trainable(np.zeros((2, 3), dtype=int))


def test_multi_label_sets_are_aggregated_by_vote_whatever_was_configured() -> None:
    assert MultiLabel(LABELS).aggregation("dawid-skene") == "majority"
    assert SingleLabel(LABELS).aggregation("dawid-skene") == "dawid-skene"


def test_a_config_names_its_kind_and_multi_label_is_short_for_it() -> None:
    base = {"name": "p", "labels": list(LABELS)}
    assert parse_config(base).kind == "single_label"
    assert parse_config({**base, "multi_label": True}).kind == "multi_label"
    both = parse_config({**base, "kind": "multi_label"})
    assert both.multi_label and isinstance(kind_for(both), MultiLabel)
    with pytest.raises(ConfigError, match=r"Unknown task kind 'ranking'\. Known: multi_label"):
        parse_config({**base, "kind": "ranking"})
    with pytest.raises(ConfigError, match="contradicts kind 'single_label'"):
        parse_config({**base, "kind": "single_label", "multi_label": True})
    with pytest.raises(ConfigError, match=r"label 'a\|b' must not hold '\|'"):
        parse_config({"name": "p", "labels": ["a|b", "c"], "kind": "multi_label"})


class Stars(SingleLabel):
    """A stand-in third-party kind (a plugin would ship its own folder)."""

    name = "stars"
    title = "star rating"


class _EntryPoint:
    def __init__(self, name: str, target: object) -> None:
        self.name, self._target = name, target

    def load(self) -> object:
        return self._target


def test_a_kind_from_an_entry_point_is_found_by_name(monkeypatch) -> None:
    groups = {"labelloop.kinds": [_EntryPoint("stars", Stars)]}
    monkeypatch.setattr(registry_module, "entry_points", lambda group: groups.get(group, []))
    kinds: Registry[type[TaskKind]] = Registry("task kind", entry_point_group="labelloop.kinds")
    kinds.add("single_label", SingleLabel)
    assert kinds["stars"] is Stars
    assert sorted(kinds) == ["single_label", "stars"]


def test_the_built_in_kinds_are_registered_and_built_once_per_label_set() -> None:
    assert {"single_label", "multi_label"} <= set(KINDS)
    assert make_kind("multi_label", LABELS) is make_kind("multi_label", LABELS)
    with pytest.raises(ValueError, match="Unknown task kind 'x'"):
        make_kind("x", LABELS)


def test_model_rightness_and_export_columns_follow_the_canonical_answer() -> None:
    multi = MultiLabel(LABELS)
    assert multi.model_was_right(["cat", "fox"], ["cat", "fox"])
    assert not multi.model_was_right(["cat"], ["cat", "fox"])
    assert SingleLabel(LABELS).model_was_right("dog", "dog")
    assert multi.export_fields(["cat"]) == {"label": ["cat"]}


@pytest.mark.parametrize(
    ("labels", "problem"),
    [
        (["caf\u00e9", "cafe\u0301"], "composed form"),
        (["a b", "a  b"], "single plain spaces"),
        (["a b", "a\u00a0b"], "single plain spaces"),
        (["x\u2028y", "z"], "single plain spaces"),
        (["ab", "a\u200bb"], "invisible"),
        (["\uff41", "a"], "read the same"),
    ],
)
def test_label_names_that_would_look_alike_are_refused(labels, problem) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_config({"name": "p", "labels": labels})


def test_answers_typed_in_another_unicode_form_are_the_label() -> None:
    decomposed = "cafe\u0301"
    assert SingleLabel(["caf\u00e9", "th\u00e9"]).validate(decomposed) == "caf\u00e9"
    assert MultiLabel(["caf\u00e9", "th\u00e9"]).read(decomposed) == ["caf\u00e9"]
    with pytest.raises(AnswerError) as refused:
        SingleLabel(LABELS).validate("x" * 100_000)
    assert len(str(refused.value)) < 200

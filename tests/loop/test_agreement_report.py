"""Agreement and guideline reports on a project worked by simulated annotators."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from labelloop.codec import key_name, label_key
from labelloop.loop.agreement_report import NOT_MEASURABLE
from labelloop.loop.project import Project, connect
from labelloop.settings import Settings

WORDS = {"bird": "feathers wings beak", "cat": "whiskers meow purr", "dog": "bark fetch paws"}
PEOPLE = ("ann", "bob", "cy")


def make_project(tmp_path: Path, store_url: str, *, overlap: int, n_items: int = 30) -> Project:
    """Items 0-9 birds, 10-19 cats, 20-29 dogs (and so on), half from "web", half from "app"."""
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    config = {
        "name": "pets",
        "labels": ["bird", "cat", "dog"],
        "routing": {"holdout_size": 10, "holdout_max_fraction": 0.5},
        "retrain": {"every": 1000, "min_labels": 6},
        "tasks": {"overlap": overlap},
    }
    project = Project.create(
        config, engine=connect(settings), settings=settings, retrain="off", random_state=0
    )
    rows = [
        {"id": i, "text": WORDS[truth(i)], "source": "web" if i % 2 else "app"}
        for i in range(n_items)
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    project.import_file(path)
    return project


def truth(index: int) -> str:
    return ("bird", "cat", "dog")[(index // 10) % 3]


def index(key: str) -> int:
    """The item's number from its key ("id:21")."""
    return int(key.removeprefix("id:"))


def work(project: Project, answer: Callable[[str, int], str], people=PEOPLE) -> None:
    """Every person answers every item they are handed: ``answer(person, item index)``."""
    for person in people:
        while tasks := project.next_tasks(10, annotator=person):
            for task in tasks:
                label = answer(person, index(task.key))
                project.annotate(task.item_id, label, annotator=person, task_id=task.id)


def right(_person: str, index: int) -> str:
    return truth(index)


def dogs_look_like_cats(seed: int = 0) -> Callable[[str, int], str]:
    """Birds and cats are clear; a dog is called a cat a third of the time."""
    rng = np.random.default_rng(seed)

    def answer(_person: str, index: int) -> str:
        if truth(index) == "dog" and rng.random() < 1 / 3:
            return "cat"
        return truth(index)

    return answer


@pytest.fixture
def opened() -> Iterator[Callable[[Project], Project]]:
    projects: list[Project] = []

    def keep(project: Project) -> Project:
        projects.append(project)
        return project

    yield keep
    for project in projects:
        project.close()
        project.engine.dispose()


def test_agreement_overall_per_label_per_pair_and_per_slice(
    tmp_path: Path, store_url: str, opened
) -> None:
    project = opened(make_project(tmp_path, store_url, overlap=3))
    work(project, dogs_look_like_cats())
    report = project.agreement_report(slice_field="source", n_resamples=100)
    json.dumps(report, allow_nan=False)
    assert report["measurable"] and report["reason"] is None
    assert report["n_items"] == 30 and report["n_answers"] == 90
    assert report["n_annotators"] == 3 and report["answers_per_item"] == {"3": 30}
    alpha = report["alpha"]
    assert 0 < alpha["estimate"] < 1
    assert alpha["low"] <= alpha["estimate"] <= alpha["high"]
    assert report["fleiss_kappa"] is not None and 0 < report["fleiss_kappa"] < 1
    per_label = {row["label"]: row["alpha"] for row in report["per_label"]}
    assert per_label["bird"] == pytest.approx(1.0)
    assert [row["label"] for row in report["per_label"]][-1] == "bird", "lowest first"
    assert min(per_label["cat"], per_label["dog"]) < 1
    pairs = report["pairs"]
    assert {(p["annotator_a"], p["annotator_b"]) for p in pairs} == {
        ("ann", "bob"),
        ("ann", "cy"),
        ("bob", "cy"),
    }
    assert all(p["n_items"] == 30 for p in pairs)
    assert [p["kappa"] for p in pairs] == sorted(p["kappa"] for p in pairs)
    slices = report["slices"]
    assert slices["field"] == "source" and slices["n_slices"] == 2
    assert {g["value"]: g["n_items"] for g in slices["groups"]} == {"web": 15, "app": 15}
    assert all(g["alpha"]["estimate"] is not None for g in slices["groups"])
    again = project.agreement_report(slice_field="source", n_resamples=100)
    assert again == report, "the same random_state gives the same intervals"
    missing = project.agreement_report(slice_field="nope", n_resamples=10)["slices"]
    assert [g["value"] for g in missing["groups"]] == ["(missing)"]


def test_the_confusable_pair_comes_first_with_examples(
    tmp_path: Path, store_url: str, opened
) -> None:
    project = opened(make_project(tmp_path, store_url, overlap=3))
    work(project, dogs_look_like_cats())
    report = project.guideline_report(top=3, examples=2)
    json.dumps(report, allow_nan=False)
    people = report["annotators"]
    assert people["measurable"] and people["n_pairs"] == 90
    first = people["confused"][0]
    assert first["labels"] == ["cat", "dog"]
    assert first["count"] == people["n_split_pairs"] > 0
    assert 0 < first["rate"] < 1
    assert 1 <= len(first["examples"]) <= 2
    for example in first["examples"]:
        assert 20 <= index(example["key"]) < 30, "a dog someone called a cat"
        assert set(example["answers"]) == {"cat", "dog"}
    assert people["labels"][0]["label"] in ("cat", "dog")
    matrix = people["matrix"]
    assert matrix["labels"] == ["bird", "cat", "dog"]
    counts = np.array(matrix["counts"])
    assert (counts == counts.T).all() and counts[0, 1:].sum() == 0
    model = report["model"]
    assert not model["available"] and model["reason"] == "no promoted model yet"


def test_human_model_disagreement_lists_the_largest_cells(
    tmp_path: Path, store_url: str, opened
) -> None:
    project = opened(make_project(tmp_path, store_url, overlap=1, n_items=60))
    # One person, who calls four of the twenty dogs cats: the model trained on the rest says dog.
    work(project, lambda _who, i: "cat" if i in (50, 51, 52, 53) else truth(i), people=("ann",))
    assert project.train() is not None
    model = project.guideline_report(top=2, examples=3)["model"]
    json.dumps(model, allow_nan=False)
    assert model["available"] and model["model_version"] == 1
    assert model["n_items"] == 60
    counts = np.array(model["matrix"]["counts"])
    assert counts.sum() == 60 and model["agreement"] == pytest.approx(np.trace(counts) / 60)
    top = model["cells"][0]
    assert (top["human"], top["model"]) == ("cat", "dog")
    assert top["count"] == counts.max(where=~np.eye(3, dtype=bool), initial=0)
    assert 1 <= len(top["examples"]) <= 3
    confidences = [e["confidence"] for e in top["examples"]]
    assert confidences == sorted(confidences, reverse=True), "most confident first"
    assert all(50 <= index(e["key"]) <= 53 for e in top["examples"])


def test_without_overlap_agreement_is_not_measurable(
    tmp_path: Path, store_url: str, opened
) -> None:
    project = opened(make_project(tmp_path, store_url, overlap=1, n_items=12))
    work(project, right, people=("ann",))
    report = project.agreement_report(slice_field="source")
    assert not report["measurable"] and report["reason"] == NOT_MEASURABLE
    assert report["n_items"] == 0 and report["alpha"] is None and report["pairs"] == []
    guide = project.guideline_report()
    assert not guide["annotators"]["measurable"] and guide["annotators"]["confused"] == []
    json.dumps([report, guide], allow_nan=False)


def test_label_names_and_parameter_checks(tmp_path: Path, store_url: str, opened) -> None:
    keys = [label_key(x) for x in ("pos", ["a", "b"], [])]
    assert [key_name(k) for k in keys] == ["pos", "a|b", "(none)"]
    project = opened(make_project(tmp_path, store_url, overlap=1, n_items=12))
    with pytest.raises(ValueError, match="'n_resamples' parameter of agreement_report"):
        project.agreement_report(n_resamples=0)
    with pytest.raises(ValueError, match="'top' parameter of guideline_report"):
        project.guideline_report(top=0)


def test_multi_label_sets_agree_per_label(tmp_path: Path, store_url: str, opened) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    config = {
        "name": "tags",
        "labels": ["funny", "sad", "long"],
        "multi_label": True,
        "routing": {"holdout_size": 10},
        "retrain": {"every": 1000},
        "tasks": {"overlap": 2},
    }
    project = opened(
        Project.create(config, engine=connect(settings), settings=settings, retrain="off")
    )
    path = tmp_path / "tags.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": f"story {i}"}) + "\n" for i in range(12)))
    project.import_file(path)
    for person in ("ann", "bob"):
        for task in project.next_tasks(12, annotator=person):
            i = index(task.key)
            tags = ["funny"] if i % 2 else ["sad"]
            if person == "bob" and i % 3 == 0:
                tags = [*tags, "long"]  # only bob thinks these are long
            project.annotate(task.item_id, tags, annotator=person, task_id=task.id)
    report = project.agreement_report(n_resamples=20)
    json.dumps(report, allow_nan=False)
    per_label = {row["label"]: row for row in report["per_label"]}
    assert per_label["funny"]["alpha"] == pytest.approx(1.0)
    assert per_label["long"]["alpha"] < 0 and per_label["long"]["answers"] == 4
    assert report["per_label"][0]["label"] == "long"
    confused = project.guideline_report()["annotators"]["confused"]
    assert {tuple(c["labels"]) for c in confused} == {("long|sad", "sad"), ("funny", "funny|long")}

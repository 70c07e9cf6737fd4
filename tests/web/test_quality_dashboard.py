"""The dashboard's Quality section: agreement, labels people confuse, human–model splits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from labelloop.accounts.users import create_user
from labelloop.loop.project import Project
from labelloop.server.app import create_app
from labelloop.settings import Settings

PASSWORD = "a long enough password"
WORDS = {"neg": "awful boring dull", "pos": "great lovely fun"}


@pytest.fixture
def client(tmp_path: Path, store_url: str) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", database_url=store_url)
    with TestClient(create_app(settings)) as client:
        create_user(client.app.state.engine, "rita", PASSWORD, "reviewer")  # type: ignore[attr-defined]
        res = client.post("/api/v1/auth/login", json={"username": "rita", "password": PASSWORD})
        assert res.status_code == 200, res.text
        yield client


def make_project(client: TestClient, tmp_path: Path, *, overlap: int) -> Project:
    app = client.app
    config = {
        "name": "films",
        "labels": ["neg", "pos"],
        "routing": {"holdout_size": 10, "holdout_max_fraction": 0.5},
        "retrain": {"every": 1000, "min_labels": 6},
        "tasks": {"overlap": overlap},
    }
    project = Project.create(
        config,
        engine=app.state.engine,
        settings=app.state.settings,
        retrain="off",  # type: ignore[attr-defined]
    )
    path = tmp_path / "films.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": i, "text": WORDS["pos" if i % 2 else "neg"]}) + "\n"
            for i in range(20)
        )
    )
    project.import_file(path)
    project.add_member("rita")
    return project


def quality_section(html: str) -> str:
    found = re.search(r'<section id="quality" class="quality">(.*)</section>\s*</main>', html, re.S)
    assert found is not None
    return found.group(1)


def test_the_quality_section_shows_agreement_and_confused_labels(
    client: TestClient, tmp_path: Path
) -> None:
    project = make_project(client, tmp_path, overlap=2)
    try:
        for person in ("ann", "bob"):
            for task in project.next_tasks(20, annotator=person):
                number = int(task.key.removeprefix("id:"))
                label = "pos" if number % 2 else "neg"
                if person == "bob" and number % 5 == 0:  # bob calls ids 0, 5, 10, 15 otherwise
                    label = "neg" if label == "pos" else "pos"
                project.annotate(task.item_id, label, annotator=person, task_id=task.id)
        project.train()
    finally:
        project.close()
    res = client.get("/projects/films/dashboard")
    assert res.status_code == 200, res.text
    html = quality_section(res.text)
    report = client.get("/api/v1/projects/films/quality/agreement").json()
    alpha = report["alpha"]
    assert f'<p class="big" id="agreement-alpha">{alpha["estimate"]:.3f}</p>' in html
    assert f"{alpha['low']:.3f} to {alpha['high']:.3f}" in html
    assert 'id="per-label"' in html and "<td>neg</td>" in html and "<td>pos</td>" in html
    assert "<td>ann · bob</td>" in html
    assert "<td>neg / pos</td><td>4</td>" in html
    for key in ("id:0", "id:5", "id:10"):
        assert f"<code>{key}</code>" in html
    assert "Model v1 agrees with" in html and "of 16 human labels" in html  # 4 ties escalated
    assert "style=" not in html and "<script" not in html, "no inline styles or scripts (CSP)"


def test_without_overlap_the_section_says_not_measurable(
    client: TestClient, tmp_path: Path
) -> None:
    project = make_project(client, tmp_path, overlap=1)
    project.close()
    html = quality_section(client.get("/projects/films/dashboard").text)
    assert 'id="agreement-not-measurable"' in html and "no item has two answers" in html
    assert 'id="no-model-confusion"' in html and "No promoted model yet" in html


def test_the_dashboard_shows_estimated_accuracy_gates_and_annotators(
    client: TestClient, tmp_path: Path
) -> None:
    project = make_project(client, tmp_path, overlap=1)
    try:
        for task in project.next_tasks(20, annotator="ann"):
            number = int(task.key.removeprefix("id:"))
            label = "pos" if number % 2 else "neg"
            project.annotate(task.item_id, label, annotator="ann", task_id=task.id)
    finally:
        project.close()
    html = quality_section(client.get("/projects/films/dashboard").text)
    # Nothing measures one person's answers without gold: no number, and no false certainty.
    assert '<p class="big" id="estimated-accuracy">not measured</p>' in html
    assert "20 of 20 items are decided" in html
    assert "20 human labels have no measure of their accuracy" in html
    page = client.get("/projects/films/dashboard").text
    assert 'id="answers-by-person"' in page and "<th>ann</th><td>20</td>" in page
    assert "not in the status API" not in page
    assert "<td>complete</td><td>yes</td>" in html and "<td>holdout</td><td>yes</td>" in html
    assert 'id="annotator-skill"' in html and "<td>ann</td><td>20</td><td>0</td>" in html

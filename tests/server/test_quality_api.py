"""The quality reports over HTTP: agreement (overall, per label, pair, slice) and guidelines."""

from __future__ import annotations

import json

API = "/api/v1/projects/demo"


def answer_everything(server, people: dict[str, int]) -> None:
    """``people[role]``: every how-manyth item the person gets wrong (0: never)."""
    for role, every in people.items():
        tasks = server.client.post(
            f"{API}/tasks/next", json={"n": 100}, headers=server.auth(role)
        ).json()
        for task in tasks:
            truth = "pos" if task["data"]["id"] % 2 else "neg"
            wrong = every and task["data"]["id"] % every == 0
            label = {"pos": "neg", "neg": "pos"}[truth] if wrong else truth
            res = server.client.post(
                f"{API}/tasks/{task['task_id']}/submit",
                json={"label": label},
                headers=server.auth(role),
            )
            assert res.status_code == 200, res.text


def test_agreement_and_guideline_reports(server) -> None:
    rows = server.texts(20)
    for row in rows:
        row["lang"] = "en" if row["id"] < 10 else "de"
    server.add_project(rows, tasks={"overlap": 2})
    answer_everything(server, {"annotator": 0, "reviewer": 4})
    reviewer = server.auth("reviewer")
    res = server.client.get(f"{API}/quality/agreement?slice_field=lang", headers=reviewer)
    assert res.status_code == 200, res.text
    report = res.json()
    assert report["measurable"] and report["n_items"] == 20 and report["n_annotators"] == 2
    alpha = report["alpha"]
    assert alpha["low"] <= alpha["estimate"] <= alpha["high"] and alpha["estimate"] < 1
    assert {row["label"] for row in report["per_label"]} == {"neg", "pos"}
    assert [(p["annotator_a"], p["annotator_b"], p["n_items"]) for p in report["pairs"]] == [
        ("annotator", "reviewer", 20)
    ]
    assert {g["value"] for g in report["slices"]["groups"]} == {"en", "de"}

    res = server.client.get(f"{API}/quality/guidelines?top=1&examples=2", headers=reviewer)
    assert res.status_code == 200, res.text
    guide = res.json()
    (pair,) = guide["annotators"]["confused"]
    assert pair["labels"] == ["neg", "pos"] and pair["count"] == 5  # ids 0, 4, 8, 12, 16
    assert [e["key"] for e in pair["examples"]] == ["id:0", "id:4"]
    assert guide["model"]["available"] is False
    json.dumps([report, guide], allow_nan=False)


def test_reports_without_overlap_say_not_measurable(server) -> None:
    server.add_project(server.texts(12))
    answer_everything(server, {"annotator": 0})
    report = server.client.get(f"{API}/quality/agreement", headers=server.auth("admin")).json()
    assert report["measurable"] is False and "no item has two answers" in report["reason"]
    bad = server.client.get(f"{API}/quality/guidelines?top=0", headers=server.auth("admin"))
    assert bad.status_code == 422
    missing = server.client.get(
        "/api/v1/projects/nope/quality/agreement", headers=server.auth("admin")
    )
    assert missing.status_code == 404

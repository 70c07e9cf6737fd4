"""``POST …/label-errors``: a background job that ranks (and maybe routes) wrong final labels."""

from __future__ import annotations

API = "/api/v1"
FLIPPED = {3, 18, 41, 60, 77, 95}


def _rows(server) -> list[dict]:
    """100 reviews with imported labels (``FLIPPED`` ones wrong), then 20 without."""
    rows = server.texts(120)
    for r in rows[:100]:
        wrong = {"pos": "neg", "neg": "pos"}[r["truth"]]
        r["label"] = wrong if r["id"] in FLIPPED else r["truth"]
    return rows


def test_label_errors_job_ranks_and_routes_suspects(server) -> None:
    server.add_project(_rows(server), label_field="label")
    tc, admin = server.client, server.auth("admin")
    url = f"{API}/projects/demo/label-errors"
    accepted = tc.post(url, json={"n_splits": 3, "top": 3, "route": True}, headers=admin)
    assert accepted.status_code == 202
    job = server.finished_job(accepted.json()["job_id"])
    assert (job["kind"], job["status"]) == ("label-errors", "done"), job
    result = job["result"]
    assert result["n_items"] == 100 and result["n_flagged"] >= 3
    assert result["routed"] == 3 and not result["truncated"]
    suspects = result["suspects"]
    assert len(suspects) == 3
    assert {s["key"] for s in suspects} <= {f"id:{i}" for i in FLIPPED}
    assert set(suspects[0]) >= {"item_id", "key", "given", "suggested", "score", "source"}
    assert all(s["routed"] and s["source"] == "imported" for s in suspects)
    assert result["annotators"] == []

    rita = server.add_user("rita", "reviewer")
    server.join("demo", "rita")
    given = tc.post(
        f"{API}/projects/demo/tasks/next",
        json={"n": 5, "tier": "reviewer"},
        headers={"Authorization": f"Bearer {rita}"},
    ).json()
    assert [task["item_id"] for task in given] == [s["item_id"] for s in suspects]


def test_label_errors_body_is_checked(server) -> None:
    server.add_project(server.texts(12))
    url = f"{API}/projects/demo/label-errors"
    admin = server.auth("admin")
    assert server.client.post(url, json={"top": 0}, headers=admin).status_code == 422
    assert server.client.post(url, json={"unknown": 1}, headers=admin).status_code == 422
    accepted = server.client.post(url, json={}, headers=admin)
    job = server.finished_job(accepted.json()["job_id"])
    assert job["status"] == "failed" and "has 0 decided items" in job["error"]

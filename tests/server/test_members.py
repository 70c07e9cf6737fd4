"""Per-project tiers and skills: skill rules reserve items, memberships open them, flags pause."""

from __future__ import annotations

from labelloop.accounts.memberships import flag_member
from labelloop.store import tables as t
from labelloop.store.engine import writer


def _rows(n: int) -> list[dict]:
    return [
        {"id": i, "text": f"item {i} good film", "lang": "de" if i % 4 == 0 else "en"}
        for i in range(n)
    ]


SKILLS = {"skills": [{"when": "lang == 'de'", "skill": "german"}]}


def _next(server, role: str, n: int = 50, tier: str = "annotator"):
    return server.client.post(
        "/api/v1/projects/demo/tasks/next", json={"n": n, "tier": tier}, headers=server.auth(role)
    )


def test_skill_rules_reserve_items_for_members_with_the_skill(server) -> None:
    server.add_project(
        _rows(40), routing={"holdout_size": 10, "holdout_max_fraction": 0.5, **SKILLS}
    )
    plain = _next(server, "annotator").json()
    assert plain and all(task["data"]["lang"] == "en" for task in plain)

    answer = server.client.put(
        "/api/v1/projects/demo/members/reviewer",
        json={"tier": "annotator", "skills": ["german", " german "]},
        headers=server.auth("admin"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["skills"] == ["german"]
    german = _next(server, "reviewer").json()
    assert {task["data"]["lang"] for task in german} == {"de"}
    # The membership caps the reviewer at the annotator tier on this project.
    assert _next(server, "reviewer", tier="reviewer").status_code == 403

    listed = server.client.get("/api/v1/projects/demo/members", headers=server.auth("admin"))
    tiers = {m["username"]: m["tier"] for m in listed.json()}
    assert tiers == {
        "admin": "expert",
        "expert": "expert",
        "reviewer": "annotator",
        "annotator": "annotator",
    }


def test_a_membership_cannot_lift_a_person_above_their_role(server) -> None:
    server.add_project(_rows(20))
    answer = server.client.put(
        "/api/v1/projects/demo/members/annotator",
        json={"tier": "expert"},
        headers=server.auth("admin"),
    )
    assert answer.status_code == 422
    assert "annotator cannot work at the expert tier" in answer.json()["detail"]
    missing = server.client.put(
        "/api/v1/projects/demo/members/nobody", json={}, headers=server.auth("admin")
    )
    assert missing.status_code == 404


def test_a_flagged_annotator_gets_no_work_until_an_admin_clears_the_flag(server) -> None:
    server.add_project(_rows(20))
    project_id = server.client.app.state.projects.get("demo").id
    with writer(server.engine).begin() as conn:
        flag_member(
            conn, project_id=project_id, username="annotator", reason="gold 3/10", now=t.utcnow()
        )
    denied = _next(server, "annotator")
    assert denied.status_code == 403
    assert "gold 3/10" in denied.json()["detail"]
    server.client.put(
        "/api/v1/projects/demo/members/annotator", json={}, headers=server.auth("admin")
    )
    assert _next(server, "annotator", n=1).status_code == 200


def test_route_endpoint_reports_what_routing_did(server) -> None:
    server.add_project(_rows(20))
    answer = server.client.post("/api/v1/projects/demo/route", headers=server.auth("admin"))
    assert answer.status_code == 200
    assert answer.json()["action"] == "waiting"
    assert answer.json()["reason"] == "no promoted model yet"

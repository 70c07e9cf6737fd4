"""GET /audit/verify reports the head hash and count, and checks an anchor given back to it."""

from __future__ import annotations

from sqlalchemy import func, select

from labelloop.store import tables as t

API = "/api/v1"


def test_verify_reports_the_head_and_catches_a_cut_against_its_anchor(server) -> None:
    server.add_project(server.texts(6))
    admin = server.auth("admin")
    first = server.client.get(f"{API}/audit/verify", headers=admin).json()
    assert first["ok"] is True and first["events"] > 0 and first["key_id"]
    anchor = {"expect_head": first["head"], "expect_count": first["events"]}
    again = server.client.get(f"{API}/audit/verify", params=anchor, headers=admin).json()
    assert again["ok"] is True, again
    with server.engine.begin() as conn:
        newest = conn.execute(select(func.max(t.events.c.id))).scalar_one()
        conn.execute(t.events.delete().where(t.events.c.id > newest - 2))
    plain = server.client.get(f"{API}/audit/verify", headers=admin).json()
    assert plain["ok"] is True  # a shorter chain is valid on its own
    cut = server.client.get(f"{API}/audit/verify", params=anchor, headers=admin).json()
    assert cut["ok"] is False and cut["breaks"][-1]["event_id"] is None
    assert "were deleted" in cut["breaks"][-1]["reason"]
    half = server.client.get(f"{API}/audit/verify", params={"expect_count": 3}, headers=admin)
    assert half.status_code == 422 and "go together" in half.json()["detail"]
    annotator = server.auth("annotator")
    assert server.client.get(f"{API}/audit/verify", headers=annotator).status_code == 403

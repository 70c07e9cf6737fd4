"""Red-team findings on access control, past what issue 9 listed: each test failed before its
fix. Low-privilege callers (a stranger, an annotator, a non-member) against the HTTP API."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from labelloop.accounts.users import create_user
from labelloop.server.app import create_app
from labelloop.settings import Settings

API = "/api/v1"
BIG = 2 << 20  # over the default 1 MiB body limit, well under the 512 MiB upload limit


def _upload(server, headers: dict[str, str], size: int = BIG):
    return server.client.post(
        f"{API}/projects/demo/imports",
        files={"file": ("big.jsonl", b'{"text": "x"}\n' + b" " * size)},
        headers=headers,
    )


def test_only_importers_may_send_an_upload_sized_body(server) -> None:
    """FastAPI reads (and spools to disk) a multipart body before any dependency runs, so the
    upload limit (512 MiB) applied to anyone, strangers included: a stranger could fill the
    server's disk with uploads that were only then refused with 401. Only a caller who may import
    gets the upload limit; everyone else gets the body limit of every other endpoint."""
    server.add_project(server.texts(4))
    for headers in ({}, server.auth("annotator"), {"Authorization": "Bearer nonsense"}):
        assert _upload(server, headers).status_code == 413
    assert _upload(server, server.auth("annotator"), size=10).status_code == 403
    assert _upload(server, {}, size=10).status_code == 401
    assert _upload(server, server.auth("admin")).status_code == 202


def test_a_job_id_tells_a_non_admin_nothing(server) -> None:
    """A job that is not one's own answers exactly what a missing job answers (it said 403 "only
    the job's creator or an admin may read it", so anyone could count and time the imports,
    trainings and label-error checks of every project)."""
    server.add_project(server.texts(4))
    tc = server.client
    job_id = tc.post(f"{API}/projects/demo/models/train", headers=server.auth("admin")).json()[
        "job_id"
    ]
    for who in ("annotator", "reviewer", "expert"):
        mine = tc.get(f"{API}/jobs/{job_id}", headers=server.auth(who))
        missing = tc.get(f"{API}/jobs/{job_id + 1000}", headers=server.auth(who))
        assert (mine.status_code, missing.status_code) == (404, 404)
        assert mine.json()["detail"] == f"no job {job_id}"
        assert missing.json()["detail"] == f"no job {job_id + 1000}"


def test_a_lowered_tier_ends_the_work_of_the_higher_one(server) -> None:
    """A reviewer whose tier (or role) an admin lowers to the annotator tier could still answer,
    skip and undo the reviewer tasks leased before, deciding items as a reviewer; and the answers
    told them ``decided``. Their tasks of a tier they no longer work at read as missing."""
    rows = [{**row, "source": "hard"} for row in server.texts(6)]
    rules = [{"when": "source == 'hard'", "tier": "reviewer"}]
    server.add_project(rows, routing={"holdout_size": 10, "rules": rules})
    tc, url = server.client, f"{API}/projects/demo/tasks"
    who = server.auth("reviewer")
    tasks = tc.post(f"{url}/next", json={"n": 3, "tier": "reviewer"}, headers=who).json()
    assert len(tasks) == 3 and all(task["tier"] == "reviewer" for task in tasks)
    lowered = tc.put(
        f"{API}/projects/demo/members/reviewer",
        json={"tier": "annotator"},
        headers=server.auth("admin"),
    )
    assert lowered.status_code == 200, lowered.text
    first, second, third = (task["task_id"] for task in tasks)
    answer = tc.post(f"{url}/{first}/submit", json={"label": "pos"}, headers=who)
    assert answer.status_code == 404, answer.text
    assert tc.post(f"{url}/{second}/skip", headers=who).status_code == 404
    assert tc.post(f"{url}/{third}/retract", headers=who).status_code == 404


def test_the_last_active_admin_keeps_the_role(server) -> None:
    """Deactivating the last active admin was refused, but taking their role was not: one PUT
    left a server that nobody could manage through the API or the admin page."""
    tc, admin = server.client, server.auth("admin")
    demoted = tc.put(f"{API}/users/admin/role", json={"role": "expert"}, headers=admin)
    assert demoted.status_code == 409, demoted.text
    assert "last active admin" in demoted.json()["detail"]
    assert tc.get(f"{API}/auth/me", headers=admin).json()["role"] == "admin"
    server.add_user("boss", "admin")
    assert (
        tc.put(f"{API}/users/admin/role", json={"role": "expert"}, headers=admin).status_code == 200
    )


def test_rotating_ipv6_addresses_of_one_network_share_the_login_limits(
    store_url: str, tmp_path: Path
) -> None:
    """Whoever holds one IPv6 address usually holds its whole /64 (2**64 addresses): rotating
    through them made every guess come from a fresh address, past the per-address failure limit
    of an account and the per-address attempt limit. The limits count an IPv6 client by its /64."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=store_url,
        trusted_proxies=("127.0.0.1",),
        login_max_failures=2,
        login_max_attempts=50,
        login_backoff_max_seconds=0,
    )
    with TestClient(create_app(settings), client=("127.0.0.1", 40000)) as tc:
        create_user(tc.app.state.engine, "ana", "a long enough password", "annotator")
        codes = [
            tc.post(
                f"{API}/auth/login",
                json={"username": "ana", "password": f"guess {n}"},
                headers={"X-Forwarded-For": f"2001:db8:1:2::{n + 1:x}"},
            ).status_code
            for n in range(4)
        ]
        assert codes == [401, 401, 429, 429]
        other_network = tc.post(
            f"{API}/auth/login",
            json={"username": "ana", "password": "a long enough password"},
            headers={"X-Forwarded-For": "2001:db8:1:3::1"},
        )
        assert other_network.status_code == 200, other_network.text


def test_a_non_member_does_not_make_the_server_open_a_project(server) -> None:
    """The project was opened (config parsed, model loaded, kept in memory for good) before the
    membership check: any logged-in stranger could make the server load every project by name,
    and time a first open apart from a missing project's quick 404."""
    server.add_project(server.texts(4), members=["admin"])
    cache = server.client.app.state.projects
    answer = server.client.get(f"{API}/projects/demo", headers=server.auth("annotator"))
    assert answer.status_code == 404
    assert answer.json()["detail"] == "no project called 'demo'"
    assert "demo" not in cache._open
    assert (
        server.client.get(f"{API}/projects/demo", headers=server.auth("admin")).status_code == 200
    )
    assert "demo" in cache._open

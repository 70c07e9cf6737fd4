"""Who may call what (derived from the permission table), CSRF, secrets, blindness."""

from __future__ import annotations

import pytest

from labelloop.accounts.roles import ROLES, allowed

API = "/api/v1"
CONFIG = {"name": "other", "labels": ["a", "b"]}

# (method, path, action, request kwargs): every endpoint that names an action.
ENDPOINTS: list[tuple[str, str, str, dict]] = [
    ("GET", "/projects", "project.read", {}),
    ("POST", "/projects", "project.create", {"json": CONFIG}),
    ("GET", "/projects/demo", "project.read", {}),
    ("GET", "/projects/demo/status", "metrics.read", {}),
    ("GET", "/projects/demo/guidelines", "project.read", {}),
    ("PUT", "/projects/demo/guidelines", "project.manage", {"json": {"text": "new"}}),
    (
        "POST",
        "/projects/demo/imports",
        "item.import",
        {"files": {"file": ("x.jsonl", b'{"id": 99, "text": "good film"}\n')}},
    ),
    ("POST", "/projects/demo/route", "model.train", {}),
    ("GET", "/projects/demo/members", "project.manage", {}),
    ("PUT", "/projects/demo/members/annotator", "project.manage", {"json": {"skills": ["de"]}}),
    ("DELETE", "/projects/demo/members/expert", "project.manage", {}),
    ("GET", "/projects/demo/items", "item.read", {}),
    ("POST", "/projects/demo/tasks/next", "task.work", {"json": {"n": 1}}),
    ("POST", "/projects/demo/tasks/999999/submit", "task.work", {"json": {"label": "pos"}}),
    ("POST", "/projects/demo/tasks/999999/skip", "task.work", {}),
    ("POST", "/projects/demo/tasks/999999/retract", "task.work", {}),
    ("GET", "/projects/demo/items/1/annotations", "annotation.read", {}),
    ("GET", "/projects/demo/models", "model.read", {}),
    ("POST", "/projects/demo/models/train", "model.train", {}),
    ("POST", "/projects/demo/label-errors", "model.train", {"json": {"n_splits": 2}}),
    ("GET", "/projects/demo/jobs", "project.read", {}),  # all for admins, one's own for others
    ("POST", "/projects/demo/exports", "dataset.export", {"json": {"format": "csv"}}),
    ("GET", "/projects/demo/exports/1/download", "dataset.export", {}),
    ("GET", "/users", "user.manage", {}),
    (
        "POST",
        "/users",
        "user.manage",
        {"json": {"username": "zed", "password": "long enough pw", "role": "annotator"}},
    ),
    ("PUT", "/users/annotator/role", "user.manage", {"json": {"role": "annotator"}}),
    # Credentials of another user (zed, made above): only admins may touch them.
    ("GET", "/users/zed/tokens", "user.manage", {}),
    ("DELETE", "/users/zed/tokens/999999", "user.manage", {}),
    ("PUT", "/users/zed/password", "user.manage", {"json": {"password": "reset by someone"}}),
    ("POST", "/users/zed/logout-everywhere", "user.manage", {}),
    ("PUT", "/users/zed/active", "user.manage", {"json": {"active": False}}),
    ("GET", "/projects/demo/quality/annotators", "metrics.read", {}),
    ("GET", "/projects/demo/quality/accuracy", "metrics.read", {}),
    ("GET", "/projects/demo/quality/gates", "metrics.read", {}),
    ("GET", "/projects/demo/quality/agreement", "metrics.read", {}),
    ("GET", "/projects/demo/quality/guidelines", "metrics.read", {}),
    ("POST", "/projects/demo/certify", "dataset.export", {}),
    ("GET", "/audit/verify", "audit.read", {}),
    ("GET", "/metrics", "server.metrics", {}),  # or the LABELLOOP_METRICS_TOKEN bearer
]
# Open to anyone, or to anyone logged in (jobs: their creator or an admin).
UNGUARDED = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("GET", "/auth/me"),
    ("POST", "/auth/tokens"),
    ("GET", "/auth/tokens"),  # one's own (tests/server/test_credentials.py)
    ("DELETE", "/auth/tokens/{token_id}"),
    ("POST", "/auth/password"),
    ("POST", "/auth/logout-everywhere"),
    ("GET", "/jobs/{job_id}"),
}


def _template(path: str) -> str:
    parts = path.split("/")
    names = {"demo": "{name}", "999999": "{task_id}", "1": "{item_id}"}
    out = [names.get(p, p) for p in parts]
    if "exports" in parts:
        out = [("{version_id}" if p == "1" else names.get(p, p)) for p in parts]
    if parts[1] == "users" and len(parts) > 2:
        out[2] = "{username}"
    if "members" in parts and parts[-1] != "members":
        out[-1] = "{username}"
    if "tokens" in parts and parts[-1] != "tokens":
        out[-1] = "{token_id}"
    return "/".join(out)


def test_every_route_is_in_the_matrix(server) -> None:
    spec = server.client.get(f"{API}/openapi.json").json()
    routes = {
        (method.upper(), path.removeprefix(API))
        for path, operations in spec["paths"].items()
        for method in operations
    }
    covered = {(m, _template(p)) for m, p, _a, _k in ENDPOINTS} | UNGUARDED
    assert routes == covered


@pytest.mark.parametrize("role", [*ROLES, None])
def test_security_matrix(server, role: str | None) -> None:
    server.add_project(server.texts(12))
    headers = server.auth(role) if role else {}
    wrong = []
    for method, path, action, kwargs in ENDPOINTS:
        code = server.client.request(method, API + path, headers=headers, **kwargs).status_code
        if role is None:
            expected_ok = code == 401
        elif allowed(role, action):
            expected_ok = code not in (401, 403)
        else:
            expected_ok = code == 403
        if not expected_ok:
            wrong.append(f"{method} {path} as {role}: {code}")
    assert not wrong


PER_PROJECT = [e for e in ENDPOINTS if e[1].startswith("/projects/demo")]


@pytest.mark.parametrize("role", ["annotator", "reviewer", "expert"])
def test_non_members_get_404_on_every_per_project_endpoint(server, role: str) -> None:
    assert not [route for route in UNGUARDED if "{name}" in route[1]], "all are in ENDPOINTS"
    server.add_project(server.texts(12))
    outsider = {"Authorization": f"Bearer {server.add_user('outsider', role)}"}
    wrong = []
    for method, path, _action, kwargs in PER_PROJECT:
        answers = [
            server.client.request(method, API + p, headers=outsider, **kwargs)
            for p in (path, path.replace("/demo", "/nosuch", 1))
        ]
        seen = [(a.status_code, a.json()["detail"].replace("nosuch", "demo")) for a in answers]
        # The same answer as for a project that does not exist: nothing tells it exists.
        if seen[0] != (404, "no project called 'demo'") or seen[0] != seen[1]:
            wrong.append(f"{method} {path} as a non-member {role}: {seen}")
    assert not wrong
    listed = server.client.get(f"{API}/projects", headers=outsider)
    assert listed.status_code == 200 and listed.json() == []
    member = server.client.get(f"{API}/projects", headers=server.auth(role)).json()
    assert [p["name"] for p in member] == ["demo"]


@pytest.mark.parametrize(
    ("role", "tier"), [("reviewer", "annotator"), ("expert", "annotator"), ("expert", "reviewer")]
)
def test_a_membership_tier_caps_every_per_project_endpoint(server, role: str, tier: str) -> None:
    server.add_project(server.texts(12))
    capped = server.client.put(
        f"{API}/projects/demo/members/{role}", json={"tier": tier}, headers=server.auth("admin")
    )
    assert capped.status_code == 200, capped.text
    wrong = []
    for method, path, action, kwargs in PER_PROJECT:
        answer = server.client.request(method, API + path, headers=server.auth(role), **kwargs)
        code, hidden = answer.status_code, "no project called" in answer.text
        ok = code not in (401, 403) and not hidden if allowed(tier, action) else code == 403
        if not ok:
            wrong.append(f"{method} {path} as a {role} at the {tier} tier: {code}")
    assert not wrong


def test_csrf_is_required_for_cookie_sessions_only(server) -> None:
    tc = server.client
    server.add_project(server.texts(12))
    csrf = tc.post(
        f"{API}/auth/login", json={"username": "annotator", "password": server.password}
    ).json()["csrf_token"]
    url = f"{API}/projects/demo/tasks/next"
    assert tc.post(url, json={"n": 1}).status_code == 403
    assert tc.post(url, json={"n": 1}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert (
        tc.get(
            f"{API}/projects/demo",
        ).status_code
        == 200
    )  # safe methods need none
    assert tc.post(url, json={"n": 1}, headers={"X-CSRF-Token": csrf}).status_code == 200
    tc.cookies.clear()
    assert tc.post(url, json={"n": 1}, headers=server.auth("annotator")).status_code == 200
    assert tc.post(url, json={"n": 1}).status_code == 401
    bad = tc.get(f"{API}/auth/me", headers={"Authorization": "Bearer ll_nope"})
    assert bad.status_code == 401


def test_no_secret_in_any_answer(server) -> None:
    tc = server.client
    server.add_project(server.texts(12))
    other = server.tokens["expert"]
    session = tc.post(f"{API}/auth/login", json={"username": "admin", "password": server.password})
    minted = tc.post(
        f"{API}/auth/tokens",
        json={"name": "ci"},
        headers={"X-CSRF-Token": session.json()["csrf_token"]},
    )
    assert minted.status_code == 201 and minted.json()["token"].startswith("ll_")
    tc.cookies.clear()
    bodies = [session.text]
    for method, path, _action, kwargs in ENDPOINTS:
        bodies.append(tc.request(method, API + path, headers=server.auth("admin"), **kwargs).text)
    bodies.append(tc.get(f"{API}/auth/me", headers=server.auth("admin")).text)
    bodies.append(tc.get(f"{API}/openapi.json").text)
    with server.engine.connect() as conn:
        from sqlalchemy import select

        from labelloop.store import tables as t

        hashes = list(conn.execute(select(t.api_tokens.c.token_hash)).scalars())
        hashes += list(conn.execute(select(t.web_sessions.c.token_hash)).scalars())
    for body in bodies:
        assert "$argon2" not in body
        assert other not in body
        assert not any(h in body for h in hashes)


def test_annotators_work_blind_and_only_on_their_own_tasks(server) -> None:
    tc = server.client
    server.add_user("bea", "annotator")
    bea = {"Authorization": f"Bearer {server.add_user('bea2', 'annotator')}"}
    server.add_project(server.texts(30), tasks={"overlap": 2})
    ana = server.auth("annotator")
    url = f"{API}/projects/demo/tasks"
    mine = tc.post(f"{url}/next", json={"n": 5}, headers=ana).json()
    for task in mine:
        done = tc.post(f"{url}/{task['task_id']}/submit", json={"label": "pos"}, headers=ana)
        assert done.status_code == 200
    theirs = tc.post(f"{url}/next", json={"n": 5}, headers=bea).json()
    assert {t["data"]["id"] for t in theirs} == {t["data"]["id"] for t in mine}  # overlap 2
    for task in theirs:
        assert set(task) == {
            "task_id",
            "item_id",
            "key",
            "data",
            "kind",
            "tier",
            "suggestion",
            "confidence",
            "lease_expires_at",
        }
        assert task["suggestion"] is None and task["confidence"] is None
        assert set(task["data"]) <= {"id", "text"}
        assert task["kind"] == "task", "annotators cannot tell holdout or audit items apart"
        assert task["item_id"] is None and task["key"] is None
    # Someone else's task: neither submit nor skip.
    stolen = tc.post(f"{url}/{theirs[0]['task_id']}/submit", json={"label": "neg"}, headers=ana)
    assert stolen.status_code == 404
    assert tc.post(f"{url}/{theirs[0]['task_id']}/skip", headers=ana).status_code == 404
    assert tc.post(f"{url}/{theirs[0]['task_id']}/skip", headers=bea).status_code == 204
    # Nor may an annotator take reviewer work or read others' answers.
    up = tc.post(f"{url}/next", json={"n": 1, "tier": "reviewer"}, headers=ana)
    assert up.status_code == 403
    peek = tc.get(f"{API}/projects/demo/items/{server.item_of(mine[0])}/annotations", headers=ana)
    assert peek.status_code == 403

"""Revoking credentials through the API (SQLite and PostgreSQL): API tokens listed, revoked,
expiring and capped; users deactivated; passwords changed and reset; logging out everywhere."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from labelloop.accounts import credentials, users
from labelloop.errors import AuthError, ConflictError
from labelloop.server.app import create_app
from labelloop.server.deps import SESSION_COOKIE
from labelloop.settings import Settings
from labelloop.store import tables as t

API = "/api/v1"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _login(client: TestClient, username: str, password: str) -> dict[str, str]:
    """Log in (the client keeps the cookie); headers with the CSRF token."""
    answer = client.post(f"{API}/auth/login", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"X-CSRF-Token": answer.json()["csrf_token"]}


def _me_as(client: TestClient, cookie: str) -> int:
    """The status of ``GET /auth/me`` with only the session cookie ``cookie``."""
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    try:
        return client.get(f"{API}/auth/me").status_code
    finally:
        client.cookies.clear()


def test_a_user_lists_and_revokes_their_own_tokens_only(server) -> None:
    tc = server.client
    ana = server.auth("annotator")
    minted = tc.post(f"{API}/auth/tokens", json={"name": "laptop", "days": 7}, headers=ana)
    assert minted.status_code == 201
    laptop = minted.json()
    listed = tc.get(f"{API}/auth/tokens", headers=ana).json()
    assert [x["name"] for x in listed] == ["laptop", "test"]
    fields = {"id", "username", "name", "created_at", "expires_at", "last_used_at", "expired"}
    assert all(set(x) == fields for x in listed)
    assert laptop["token"] not in str(listed)
    # Someone else's token: 404, as for a missing one; it keeps working.
    reviewer_tokens = tc.get(f"{API}/auth/tokens", headers=server.auth("reviewer")).json()
    theirs = reviewer_tokens[0]["id"]
    assert tc.delete(f"{API}/auth/tokens/{theirs}", headers=ana).status_code == 404
    assert tc.get(f"{API}/auth/me", headers=server.auth("reviewer")).status_code == 200
    # Revoking one's own: it stops working at once.
    assert tc.get(f"{API}/auth/me", headers=_bearer(laptop["token"])).status_code == 200
    assert tc.delete(f"{API}/auth/tokens/{laptop['id']}", headers=ana).status_code == 204
    assert tc.get(f"{API}/auth/me", headers=_bearer(laptop["token"])).status_code == 401
    assert tc.delete(f"{API}/auth/tokens/{laptop['id']}", headers=ana).status_code == 404


def test_admins_list_and_revoke_anyones_tokens(server) -> None:
    tc = server.client
    admin = server.auth("admin")
    listed = tc.get(f"{API}/users/annotator/tokens", headers=admin).json()
    assert [x["username"] for x in listed] == ["annotator"]
    gone = tc.delete(f"{API}/users/annotator/tokens/{listed[0]['id']}", headers=admin)
    assert gone.status_code == 204
    assert tc.get(f"{API}/auth/me", headers=server.auth("annotator")).status_code == 401
    assert tc.get(f"{API}/users/nobody/tokens", headers=admin).status_code == 404
    assert tc.get(f"{API}/users/ann%00otator/tokens", headers=admin).status_code == 422
    # A token id of another user under this user's path: 404.
    reviewers = tc.get(f"{API}/users/reviewer/tokens", headers=admin).json()
    wrong = tc.delete(f"{API}/users/annotator/tokens/{reviewers[0]['id']}", headers=admin)
    assert wrong.status_code == 404


def test_tokens_expire_after_their_days(store_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", database_url=store_url, token_days=7)
    with TestClient(create_app(settings)) as tc:
        engine = tc.app.state.engine  # type: ignore[attr-defined]
        user = users.create_user(engine, "ana", "long enough pw", "annotator")
        bootstrap = users.create_token(engine, user, "bootstrap")
        made = tc.post(f"{API}/auth/tokens", json={"name": "ci"}, headers=_bearer(bootstrap))
        assert made.status_code == 201
        expires = t.aware(users.list_tokens(engine, username="ana")[0].expires_at)
        assert timedelta(days=6, hours=23) < expires - t.utcnow() <= timedelta(days=7)
        with engine.begin() as conn:  # a week later
            conn.execute(
                t.api_tokens.update()
                .where(t.api_tokens.c.id == made.json()["id"])
                .values(expires_at=t.utcnow() - timedelta(seconds=1))
            )
        late = tc.get(f"{API}/auth/me", headers=_bearer(made.json()["token"]))
        assert late.status_code == 401 and "expired" in late.json()["detail"]
        listed = tc.get(f"{API}/auth/tokens", headers=_bearer(bootstrap)).json()
        assert {x["name"]: x["expired"] for x in listed} == {"ci": True, "bootstrap": False}


def test_tokens_per_user_are_capped_even_when_asked_for_at_once(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "d", database_url=store_url, max_tokens_per_user=4)
    with TestClient(create_app(settings)) as tc:
        engine = tc.app.state.engine  # type: ignore[attr-defined]
        user = users.create_user(engine, "ana", "long enough pw", "annotator")
        headers = _bearer(users.create_token(engine, user, "bootstrap"))  # 1 of 4
        start = threading.Barrier(10)
        codes: list[int] = []

        def mint() -> None:
            start.wait()
            answer = tc.post(f"{API}/auth/tokens", json={"name": "x"}, headers=headers)
            codes.append(answer.status_code)

        threads = [threading.Thread(target=mint) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(codes) == [201] * 3 + [409] * 7
        refused = tc.post(f"{API}/auth/tokens", json={"name": "y"}, headers=headers)
        assert "LABELLOOP_MAX_TOKENS_PER_USER" in refused.json()["detail"]
        assert len(users.list_tokens(engine, username="ana")) == 4


def test_a_deactivated_user_cannot_log_in_or_use_tokens_or_sessions(server) -> None:
    tc = server.client
    admin = server.auth("admin")
    ana_token = server.tokens["annotator"]
    _login(tc, "annotator", server.password)
    cookie = tc.cookies[SESSION_COOKIE]
    tc.cookies.clear()
    answer = tc.put(f"{API}/users/annotator/active", json={"active": False}, headers=admin)
    assert answer.status_code == 200
    assert answer.json() == {"username": "annotator", "sessions_ended": 1, "tokens_revoked": 1}
    assert tc.get(f"{API}/auth/me", headers=_bearer(ana_token)).status_code == 401
    assert _me_as(tc, cookie) == 401
    body = {"username": "annotator", "password": server.password}
    assert tc.post(f"{API}/auth/login", json=body).status_code == 401
    names = {u["username"]: u["active"] for u in tc.get(f"{API}/users", headers=admin).json()}
    assert "annotator" not in names
    everyone = tc.get(f"{API}/users", params={"include_inactive": True}, headers=admin).json()
    assert {u["username"]: u["active"] for u in everyone}["annotator"] is False
    # Back again: logging in works; the old token stays dead.
    assert tc.put(f"{API}/users/annotator/active", json={"active": True}, headers=admin).is_success
    _login(tc, "annotator", server.password)
    assert tc.get(f"{API}/auth/me", headers=_bearer(ana_token)).status_code == 401


def test_no_admin_deactivates_themselves_or_the_last_admin(server) -> None:
    tc = server.client
    admin = server.auth("admin")
    mine = tc.put(f"{API}/users/admin/active", json={"active": False}, headers=admin)
    assert mine.status_code == 409 and "your own account" in mine.json()["detail"]
    second = {"Authorization": f"Bearer {server.add_user('root2', 'admin')}"}
    assert tc.put(f"{API}/users/admin/active", json={"active": False}, headers=second).is_success
    with server.engine.connect() as conn:
        active = select(t.users.c.is_active).where(t.users.c.username == "admin")
        assert conn.execute(active).scalar() is False
    with pytest.raises(ConflictError, match="last active admin"):  # root2 is: the CLI neither
        credentials.set_active(server.engine, "root2", False, actor="cli")


def test_changing_ones_password_needs_the_old_one_and_logs_out_everywhere(server) -> None:
    tc = server.client
    old, new = server.password, "brand new secret"
    _login(tc, "reviewer", old)  # a second browser of the same person
    browser_b = tc.cookies[SESSION_COOKIE]
    tc.cookies.clear()
    csrf = _login(tc, "reviewer", old)
    url = f"{API}/auth/password"
    wrong = tc.post(url, json={"old_password": "not it at all", "new_password": new}, headers=csrf)
    assert wrong.status_code == 403 and "old_password" in wrong.json()["detail"]
    short = tc.post(url, json={"old_password": old, "new_password": "short"}, headers=csrf)
    assert short.status_code == 422 and "new_password" in short.json()["detail"]
    assert tc.post(url, json={"old_password": old, "new_password": new}).status_code == 403  # CSRF
    done = tc.post(url, json={"old_password": old, "new_password": new}, headers=csrf)
    assert done.status_code == 200, done.text
    assert done.json() == {"username": "reviewer", "sessions_ended": 2, "tokens_revoked": 1}
    assert "labelloop_session=" in done.headers["set-cookie"]  # cleared
    assert _me_as(tc, browser_b) == 401
    assert tc.get(f"{API}/auth/me", headers=server.auth("reviewer")).status_code == 401
    tc.cookies.clear()
    body = {"username": "reviewer", "password": old}
    assert tc.post(f"{API}/auth/login", json=body).status_code == 401
    _login(tc, "reviewer", new)


def test_an_admin_resets_a_password_and_the_user_is_logged_out(server) -> None:
    tc = server.client
    admin = server.auth("admin")
    url = f"{API}/users/annotator/password"
    reset = tc.put(url, json={"password": "reset by admin"}, headers=admin)
    assert reset.status_code == 200 and reset.json()["tokens_revoked"] == 1
    assert tc.get(f"{API}/auth/me", headers=server.auth("annotator")).status_code == 401
    _login(tc, "annotator", "reset by admin")
    tc.cookies.clear()
    own = tc.put(f"{API}/users/admin/password", json={"password": "my own new one"}, headers=admin)
    assert own.status_code == 409 and "/auth/password" in own.json()["detail"]
    short = tc.put(f"{API}/users/expert/password", json={"password": "short"}, headers=admin)
    assert short.status_code == 422 and "password" in short.json()["detail"]
    missing = tc.put(
        f"{API}/users/nobody/password", json={"password": "long enough"}, headers=admin
    )
    assert missing.status_code == 404


def test_logging_out_everywhere_ends_every_session_and_token(server) -> None:
    tc = server.client
    _login(tc, "expert", server.password)
    first = tc.cookies[SESSION_COOKIE]
    tc.cookies.clear()
    second = _login(tc, "expert", server.password)
    second_cookie = tc.cookies[SESSION_COOKIE]
    minted = tc.post(f"{API}/auth/tokens", json={"name": "more"}, headers=second).json()["token"]
    ended = tc.post(f"{API}/auth/logout-everywhere", headers=second)
    assert ended.json() == {"username": "expert", "sessions_ended": 2, "tokens_revoked": 2}
    assert _me_as(tc, first) == _me_as(tc, second_cookie) == 401
    for token in (minted, server.tokens["expert"]):
        assert tc.get(f"{API}/auth/me", headers=_bearer(token)).status_code == 401
    # An admin does the same for someone else.
    tc.cookies.clear()
    theirs = tc.post(f"{API}/users/reviewer/logout-everywhere", headers=server.auth("admin"))
    assert theirs.json()["tokens_revoked"] == 1
    assert tc.get(f"{API}/auth/me", headers=server.auth("reviewer")).status_code == 401


def test_credentials_issued_by_a_check_that_raced_a_revocation_never_work(server) -> None:
    """A login that checked the old password just before a "log out everywhere" stores its
    session afterwards: the session carries the old epoch and is dead on arrival."""
    engine = server.engine
    checked = users.authenticate(engine, "annotator", server.password)
    credentials.log_out_everywhere(engine, "annotator", actor="admin")
    late = users.create_session(engine, checked)
    with pytest.raises(AuthError):
        users.session_for(engine, late.token)
    with pytest.raises(ConflictError, match="revoked"):
        users.create_token(engine, checked, "late")


def test_the_python_client_manages_its_own_credentials(server) -> None:
    from labelloop import Client

    ana = Client("http://testserver", token=server.tokens["annotator"], http=server.client)
    made = ana.create_token("script", days=3)
    assert [x["name"] for x in ana.tokens()] == ["script", "test"]
    ana.revoke_token(ana.tokens()[0]["id"])
    with pytest.raises(AuthError):
        Client("http://testserver", token=made, http=server.client).me()
    browser = Client("http://testserver", http=server.client)
    browser.login("annotator", server.password)
    changed = browser.change_password(server.password, "the next password")
    assert changed["tokens_revoked"] == 1 and changed["sessions_ended"] == 1
    with pytest.raises(AuthError):
        ana.me()
    server.client.cookies.clear()
    browser.login("annotator", "the next password")
    assert browser.logout_everywhere()["sessions_ended"] == 1
    with pytest.raises(AuthError):
        browser.me()

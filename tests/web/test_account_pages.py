"""The account page, the admin page's credential controls, and where a login may redirect to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from labelloop.accounts.credentials import set_active
from labelloop.accounts.users import create_token, create_user
from labelloop.server.app import create_app
from labelloop.settings import Settings

PASSWORD = "a long enough password"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        engine = client.app.state.engine  # type: ignore[attr-defined]
        for role in ("admin", "annotator", "reviewer"):
            create_token(engine, create_user(engine, role, PASSWORD, role), f"{role}-ci")
        yield client


def _login(client: TestClient, username: str) -> str:
    body = {"username": username, "password": PASSWORD}
    answer = client.post("/api/v1/auth/login", json=body)
    assert answer.status_code == 200, answer.text
    csrf: str = answer.json()["csrf_token"]
    return csrf


def test_the_account_page_offers_password_tokens_and_logging_out_everywhere(
    client: TestClient,
) -> None:
    stranger = client.get("/account", follow_redirects=False)
    assert stranger.status_code == 303 and stranger.headers["location"] == "/login?next=%2Faccount"
    csrf = _login(client, "annotator")
    minted = client.post(
        "/api/v1/auth/tokens", json={"name": "laptop"}, headers={"X-CSRF-Token": csrf}
    ).json()
    page = client.get("/account")
    html = page.text
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for part in ('id="password-form"', 'id="logout-everywhere"', 'id="token-form"'):
        assert part in html
    assert f'data-token-id="{minted["id"]}"' in html and "laptop" in html and "annotator-ci" in html
    assert minted["token"] not in html and "<script>" not in html
    assert 'href="/account"' in client.get("/").text  # the header links it


def test_the_admin_page_offers_deactivation_resets_and_revocation(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    set_active(engine, "reviewer", False, actor="test")
    _login(client, "admin")
    html = client.get("/admin").text
    assert '<tr data-username="annotator">' in html
    assert '<tr data-username="reviewer" class="inactive">' in html
    assert 'class="active-button" data-username="annotator" data-active="false"' in html
    assert 'class="active-button" data-username="reviewer" data-active="true"' in html
    assert 'data-username="admin" data-active' not in html  # not one's own account
    assert 'class="reset-form inline" data-username="annotator"' in html
    assert 'class="logout-user" data-username="annotator"' in html
    assert 'class="revoke-token" data-username="annotator"' in html and "annotator-ci" in html
    assert "reviewer-ci" not in html  # deactivating revoked it


# Each leads a browser to evil.example, or (the last ones) off this site's paths.
HOSTILE = [
    "/\t/evil.example",
    "/\r\n/evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t\\evil.example",
    "//evil.example",
    " //evil.example",
    "\x1f//evil.example",
    "/.//evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_login_never_redirects_off_site(client: TestClient, target: str) -> None:
    page = client.get("/login", params={"next": target})
    kept = page.text.split('data-next="', 1)[1].split('"', 1)[0]
    assert kept == "/"
    _login(client, "annotator")
    answer = client.get("/login", params={"next": target}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_login_keeps_a_path_of_this_site(client: TestClient) -> None:
    target = "/projects/digits/annotate?tier=annotator"
    page = client.get("/login", params={"next": target})
    assert 'data-next="/projects/digits/annotate?tier=annotator"' in page.text
    _login(client, "annotator")
    answer = client.get("/login", params={"next": target}, follow_redirects=False)
    assert answer.headers["location"] == target

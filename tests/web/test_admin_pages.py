"""The adjudicate and admin pages through a plain TestClient: who may see them, what they show."""

from __future__ import annotations

import pytest
import test_pages as pages
from fastapi.testclient import TestClient

from labelloop.server.deps import SESSION_COOKIE

client = pages.client
demo_dir = pages.demo_dir
STRANGERS_AND_ROLES = {
    "/projects/digits/adjudicate": (("annotator", "reviewer"), ("expert", "admin")),
    "/admin": (("annotator", "reviewer", "expert"), ("admin",)),
}


@pytest.mark.parametrize("path", sorted(STRANGERS_AND_ROLES))
def test_strangers_are_sent_to_login(client: TestClient, path: str) -> None:
    res = client.get(path, follow_redirects=False)
    assert res.status_code == 303
    assert res.headers["location"] == "/login?next=" + path.replace("/", "%2F")


@pytest.mark.parametrize("path", sorted(STRANGERS_AND_ROLES))
def test_pages_refuse_the_wrong_roles_and_serve_the_right_ones(
    client: TestClient, path: str
) -> None:
    refused, served = STRANGERS_AND_ROLES[path]
    for username in refused:
        pages.login(client, username)
        res = client.get(path)
        assert res.status_code == 403, username
        assert 'id="message"' in res.text
        assert 'href="/admin"' not in res.text
    for username in served:
        pages.login(client, username)
        res = client.get(path)
        assert res.status_code == 200, username
        assert res.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in res.headers["content-security-policy"]


def test_adjudicate_is_the_work_page_at_the_expert_tier(client: TestClient) -> None:
    pages.login(client, "expert")
    html = client.get("/projects/digits/adjudicate").text
    config = pages.page_config(html)
    assert config["mode"] == "adjudicate" and config["tier"] == "expert"
    assert 'id="review-context"' in html and "Decide" in html
    assert client.get("/projects/nope/adjudicate").status_code == 404
    assert 'href="/projects/digits/adjudicate"' in client.get("/").text
    pages.login(client, "reviewer")
    assert 'href="/projects/digits/adjudicate"' not in client.get("/").text


def test_admin_page_lists_users_projects_and_settings_without_secrets(client: TestClient) -> None:
    csrf = pages.login(client, "admin")
    res = client.get("/admin")
    html = res.text
    for username in pages.PASSWORDS:
        assert f'<tr data-username="{username}">' in html
    for link in ("annotate", "review", "adjudicate", "dashboard"):
        assert f'href="/projects/digits/{link}"' in html
    assert 'class="import-form' in html and 'class="export-form' in html
    assert "&#34;labels&#34;" in html or "&quot;labels&quot;" in html  # the config, escaped
    assert f'<meta name="csrf-token" content="{csrf}">' in html
    assert client.cookies[SESSION_COOKIE] not in html
    assert not any(password in html for password in pages.PASSWORDS.values())
    assert "$argon2" not in html and "password_hash" not in html
    assert 'href="/admin"' in client.get("/").text  # the header links it for admins
    pages.login(client, "expert")
    assert 'href="/admin"' not in client.get("/").text

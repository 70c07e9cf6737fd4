"""/api/v1/docs works offline: Swagger UI comes from the server itself, under the pages' CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_browser as browser
from fastapi.testclient import TestClient

from labelloop.server.app import create_app
from labelloop.server.web.rendering import CSP
from labelloop.settings import Settings

live_server = browser.live_server
DOCS = "/api/v1/docs"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        yield client


def test_the_docs_page_loads_only_local_files_that_answer(client: TestClient) -> None:
    page = client.get(DOCS)
    assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
    urls = re.findall(r'(?:src|href|data-openapi)="([^"]*)"', page.text)
    assert len(urls) >= 5, page.text  # icon, stylesheet, two scripts, the OpenAPI schema
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert client.get(url).status_code == 200, url
    assert "<script>" not in page.text  # nothing inline: script-src 'self' allows none


def test_swagger_ui_renders_with_the_network_cut_off(live_server: tuple[str, Settings]) -> None:
    sync_playwright = browser._sync_playwright()
    base, _settings = live_server
    outside: list[str] = []
    problems: list[str] = []
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(browser.CHROMIUM), args=browser.CHROMIUM_ARGS, headless=True
        )
        try:
            page = chromium.new_page()
            page.set_default_timeout(browser.TIMEOUT_MS)

            def only_local(route, request) -> None:  # type: ignore[no-untyped-def]
                if request.url.startswith(base):
                    route.continue_()
                else:
                    outside.append(request.url)
                    route.abort()

            page.route("**/*", only_local)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: problems.append(msg.text) if msg.type == "error" else None,
            )
            page.goto(base + DOCS)
            page.wait_for_selector(".opblock-summary-path")
            paths = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            chromium.close()
    assert "/api/v1/tasks" not in paths and any("/tasks/next" in p for p in paths), paths
    assert outside == []
    assert not [p for p in problems if "Content Security Policy" in p or "page error" in p]

"""Label names that look like HTML cannot break the work page: its embedded JSON escapes them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_browser as browser
import test_pages as pages
from fastapi.testclient import TestClient

from labelloop.accounts.memberships import join
from labelloop.cli.demo import prepare_demo
from labelloop.loop.project import Project, connect
from labelloop.server.app import create_app
from labelloop.settings import Settings
from labelloop.store.engine import writer

NASTY = ["<!--<script>", "</script>", "a&b>c"]
# Label names may not hold line separators (they would look like other names); a field name may,
# and it is embedded in the page's JSON too.
NASTY_FIELD = "te\u2028xt</script>"
SCRIPT = re.compile(r'<script type="application/json" id="page-config">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def nasty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo, plus a project ``nasty`` whose labels are markup, with the annotator on it."""
    data_dir = tmp_path_factory.mktemp("nasty")
    prepare_demo(data_dir)
    settings = Settings(data_dir=data_dir)
    engine = connect(settings)
    try:
        config = {
            "name": "nasty",
            "labels": NASTY,
            "text_field": NASTY_FIELD,
            "guidelines": "Pick one.",
        }
        project = Project.create(config, engine=engine, settings=settings, retrain="off")
        items = data_dir / "items.jsonl"
        items.write_text("".join(json.dumps({NASTY_FIELD: f"item {n}"}) + "\n" for n in range(5)))
        project.import_file(items)
        project.close()
        with writer(engine).begin() as conn:
            join(conn, project_id=project.id, username="annotator", actor="admin")
    finally:
        engine.dispose()
    return data_dir


@pytest.fixture
def page_html(nasty_dir: Path) -> Iterator[str]:
    with TestClient(create_app(Settings(data_dir=nasty_dir))) as client:
        pages.login(client, "annotator")
        res = client.get("/projects/nasty/annotate")
        assert res.status_code == 200, res.text
        yield res.text


def test_the_embedded_json_holds_no_markup_and_parses_back(page_html: str) -> None:
    found = SCRIPT.search(page_html)
    assert found is not None
    embedded = found.group(1)
    assert not set(embedded) & set("<>&\u2028\u2029"), embedded
    assert json.loads(embedded)["labels"] == NASTY
    assert json.loads(embedded)["text_field"] == NASTY_FIELD
    assert page_html.count('class="label"') == len(NASTY)


def test_a_browser_parses_the_whole_page(page_html: str) -> None:
    sync_playwright = browser._sync_playwright()
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(browser.CHROMIUM), args=browser.CHROMIUM_ARGS, headless=True
        )
        try:
            page = chromium.new_page()
            page.set_content(page_html)  # the HTML parser only: no server, no script runs
            labels = page.evaluate(
                "JSON.parse(document.getElementById('page-config').textContent).labels"
            )
            buttons = page.locator("#labels button.label").count()
        finally:
            chromium.close()
    assert labels == NASTY
    assert buttons == len(NASTY)  # the page after the script element is still there

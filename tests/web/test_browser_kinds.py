"""The work page asks for an answer through the project's task kind: a multi-label project's
widget toggles several labels and sends the set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import test_browser as browser

from labelloop.loop.project import Project, connect
from labelloop.settings import Settings

live_server = browser.live_server


def _tag_project(settings: Settings, tmp_path: Path) -> None:
    engine = connect(settings)
    try:
        project = Project.create(
            {"name": "tags", "labels": ["red", "green", "blue"], "kind": "multi_label"},
            engine=engine,
            settings=settings,
            retrain="off",
        )
        project.add_member("annotator")
        items = tmp_path / "tags.jsonl"
        items.write_text(
            "".join(json.dumps({"id": n, "text": f"thing {n}"}) + "\n" for n in range(5))
        )
        project.import_file(items)
    finally:
        engine.dispose()


def test_a_multi_label_item_is_answered_with_a_set_by_keyboard(
    live_server: tuple[str, Settings], tmp_path: Path
) -> None:
    sync_playwright = browser._sync_playwright()
    base, settings = live_server
    _tag_project(settings, tmp_path)
    problems: list[str] = []
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(browser.CHROMIUM), args=browser.CHROMIUM_ARGS, headless=True
        )
        try:
            page: Any = chromium.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(browser.TIMEOUT_MS)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            browser._log_in(page, base, "annotator")
            page.goto(base + "/projects/tags/annotate")
            page.wait_for_selector("#item[data-task-id]")
            assert page.locator("#answer").get_attribute("data-kind") == "multi_label"
            first = page.locator("#item").get_attribute("data-task-id")
            for key in ("3", "1", "2", "2"):  # blue, red, green, green again: toggled off
                page.keyboard.press(key)
            assert page.locator(".label.selected").count() == 2
            page.keyboard.press("?")
            assert "several may apply" in page.locator("#help").inner_text()
            page.keyboard.press("Escape")
            page.keyboard.press("Enter")
            browser.wait_next_item(page, first)
            page.keyboard.press("Enter")  # nothing picked: the empty set is an answer here
            page.wait_for_selector("#outbox[data-pending='0']")
        finally:
            chromium.close()
    assert problems == []
    stored = browser._annotations(settings, "annotator")
    assert sorted(row.label for row in stored) == [[], ["blue", "red"]]

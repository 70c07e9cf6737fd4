"""A real headless chromium: an item flagged ambiguous is corrected by a reviewer, an expert
decides an expert-tier item, and the admin page exports the dataset and reports a bad import.

Uses the server, browser and log-in helpers of ``test_browser``; skipped like it without
playwright or ``/usr/bin/chromium``, unless ``LABELLOOP_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import test_browser as browser
from sqlalchemy import select

from labelloop.loop.project import connect
from labelloop.settings import Settings
from labelloop.store import tables as t

live_server = browser.live_server


def _final_label(settings: Settings, key: str) -> Any:
    engine = connect(settings)
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(t.final_labels.c.label, t.final_labels.c.source, t.final_labels.c.decided_by)
                .join(t.items, t.items.c.id == t.final_labels.c.item_id)
                .where(t.items.c.key == key)
            ).first()
    finally:
        engine.dispose()


def _send_to_expert_tier(settings: Settings) -> str:
    """One unlabelled item goes to the expert tier, as a risk rule would send it; its key."""
    engine = connect(settings)
    try:
        with engine.begin() as conn:
            row = conn.execute(
                select(t.items.c.id, t.items.c.key)
                .where(t.items.c.status == "new", t.items.c.is_holdout.is_(False))
                .order_by(t.items.c.id.desc())
                .limit(1)
            ).one()
            conn.execute(t.items.update().where(t.items.c.id == row.id).values(tier="expert"))
        return str(row.key)
    finally:
        engine.dispose()


def _flagged_key(settings: Settings) -> str:
    """The key of the item the annotator flagged ambiguous."""
    engine = connect(settings)
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    select(t.items.c.key)
                    .join(t.annotations, t.annotations.c.item_id == t.items.c.id)
                    .where(t.annotations.c.flag == "ambiguous")
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _work_until(page: Any, key: str, answer: list[str], tries: int = 20) -> None:
    """Skip (S) tasks until the item ``key`` is on screen, then press ``answer``'s keys."""
    for _ in range(tries):
        page.wait_for_selector("#item[data-task-id]")
        task_id = page.locator("#item").get_attribute("data-task-id")
        if page.locator("#item-key").inner_text() == key:
            page.wait_for_selector("#final-label")
            for pressed in answer:
                page.keyboard.press(pressed)
            return
        page.keyboard.press("s")
        browser.wait_next_item(page, task_id)
    raise AssertionError(f"item {key} never came up")


def _log_out(page: Any, base: str) -> None:
    page.click("text=Log out")
    page.wait_for_url(base + "/login")


def test_review_adjudicate_and_admin_in_a_browser(
    live_server: tuple[str, Settings], tmp_path: Path
) -> None:
    sync_playwright = browser._sync_playwright()
    base, settings = live_server
    expert_key = _send_to_expert_tier(settings)
    browser.ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(browser.CHROMIUM), args=browser.CHROMIUM_ARGS, headless=True
        )
        try:
            page = chromium.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(browser.TIMEOUT_MS)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console: {msg.text}") if msg.type == "error" else None
                ),
            )

            # The annotator labels one item and flags the next as ambiguous (A).
            browser._log_in(page, base, "annotator")
            page.goto(base + "/projects/digits/annotate?undo_seconds=0")
            page.wait_for_selector("#item[data-task-id] canvas.pixels")
            first = page.locator("#item").get_attribute("data-task-id")
            page.keyboard.press("4")
            page.keyboard.press("Enter")
            browser.wait_next_item(page, first)
            assert page.locator("#item-key").inner_text() == "", "keys are withheld"
            second = page.locator("#item").get_attribute("data-task-id")
            page.keyboard.press("a")
            browser.wait_next_item(page, second)
            page.wait_for_selector("#outbox[data-pending='0']")
            flagged = _flagged_key(settings)
            assert _final_label(settings, flagged) is None
            _log_out(page, base)

            # The reviewer sees the escalated item with the annotator's flag and corrects it.
            browser._log_in(page, base, "reviewer")
            page.goto(base + "/projects/digits/review?undo_seconds=0")
            _work_until(page, flagged, ["7"])
            context = page.locator("#review-context").inner_text()
            assert "annotator (annotator): (no label) [ambiguous]" in context, context
            assert page.locator(".label.selected").inner_text().strip().endswith("7")
            page.screenshot(path=str(browser.ARTIFACTS / "review-escalated.png"))
            page.keyboard.press("Enter")
            page.wait_for_selector("#outbox[data-pending='0']")
            decided = _final_label(settings, flagged)
            assert decided is not None
            assert (decided.label, decided.source, decided.decided_by) == (
                "7",
                "adjudicated",
                "reviewer",
            )
            _log_out(page, base)

            # An expert decides the expert-tier item on the adjudicate page.
            browser._log_in(page, base, "expert")
            page.goto(base + "/projects/digits/adjudicate?undo_seconds=0")
            _work_until(page, expert_key, ["2"])
            assert page.locator("#item-kind").inner_text() != ""
            page.screenshot(path=str(browser.ARTIFACTS / "adjudicate.png"))
            page.keyboard.press("Enter")
            page.wait_for_selector("#outbox[data-pending='0']")
            decided = _final_label(settings, expert_key)
            assert decided is not None and (decided.label, decided.source) == ("2", "adjudicated")
            _log_out(page, base)

            # The admin exports the dataset and is told why a bad file was not imported.
            browser._log_in(page, base, "admin")
            page.click("header >> text=Admin")
            page.wait_for_url(base + "/admin")
            card = page.locator("#project-digits")
            card.locator(".export-form select").select_option("csv")
            card.locator(".export-form button").click()
            link = card.locator(".export-result a.download")
            link.wait_for()
            assert "3 items" in card.locator(".export-result").inner_text()
            href = link.get_attribute("href")
            assert href is not None and href.endswith("download?format=csv")
            download = page.request.get(base + href)
            assert download.ok and download.text().count("\n") == 4  # a header and 3 rows
            bad = tmp_path / "bad.jsonl"
            bad.write_text('{"nothing": "useful"}\n')
            card.locator(".import-form input[type=file]").set_input_files(str(bad))
            card.locator(".import-form button").click()
            page.wait_for_selector("#project-digits .import-result.error")
            assert "failed" in card.locator(".import-result").inner_text()
            page.screenshot(path=str(browser.ARTIFACTS / "admin.png"), full_page=True)

            # Add a user, then make them a reviewer.
            page.fill("#user-form input[name=username]", "newcomer")
            page.fill("#user-form input[name=password]", "a-long-enough-password")
            page.click("#user-form button")
            row = page.locator('tr[data-username="newcomer"]')
            row.wait_for()
            row.locator("select").select_option("reviewer")
            row.get_by_role("button", name="Change").click()
            page.wait_for_selector("#users-message:has-text('newcomer is now reviewer.')")
            page.reload()
            assert row.locator("select").input_value() == "reviewer"
        finally:
            chromium.close()
    assert not problems, problems

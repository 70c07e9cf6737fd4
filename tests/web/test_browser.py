"""A real headless chromium labels ten digits with the keyboard only, then reads the dashboard.

Needs ``pip install playwright`` and Debian's ``/usr/bin/chromium`` (no browser download). Skipped
without them, unless ``LABELLOOP_REQUIRE_BROWSER=1`` (CI), where their absence fails the test.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from labelloop.cli.demo import DEMO_ACCOUNTS, prepare_demo
from labelloop.loop.project import connect
from labelloop.server.app import create_app
from labelloop.settings import Settings
from labelloop.store import tables as t

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORDS = {username: password for username, _role, password in DEMO_ACCOUNTS}
TIMEOUT_MS = 10_000


def _sync_playwright() -> Any:
    """Playwright's entry point, or skip (fail under LABELLOOP_REQUIRE_BROWSER=1) saying why."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install playwright)"
    if reason is None and not CHROMIUM.exists():
        reason = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("LABELLOOP_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test is required (LABELLOOP_REQUIRE_BROWSER=1): {reason}")
        pytest.skip(reason)
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """uvicorn on a free localhost port, in a thread, over a fresh demo data dir."""
    import uvicorn

    prepare_demo(tmp_path)
    settings = Settings(data_dir=tmp_path)
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _annotations(settings: Settings, annotator: str) -> list[Any]:
    engine = connect(settings)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(
                        t.annotations.c.item_id, t.annotations.c.label, t.annotations.c.flag
                    ).where(t.annotations.c.annotator == annotator)
                ).all()
            )
    finally:
        engine.dispose()


def _open_tasks(settings: Settings, annotator: str) -> set[int]:
    engine = connect(settings)
    try:
        with engine.connect() as conn:
            return set(
                conn.execute(
                    select(t.tasks.c.id).where(
                        t.tasks.c.assignee == annotator, t.tasks.c.status == "open"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()


def _log_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/")
    page.wait_for_url(f"{base}/login?next=%2F")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/")


def test_label_ten_digits_with_the_keyboard(live_server: tuple[str, Settings]) -> None:
    sync_playwright = _sync_playwright()
    base, settings = live_server
    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(TIMEOUT_MS)
            page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console: {msg.text}") if msg.type == "error" else None
                ),
            )

            _log_in(page, base, "annotator")
            assert page.locator("#projects").inner_text().count("digits") == 1
            page.screenshot(path=str(ARTIFACTS / "index.png"))

            page.goto(base + "/projects/digits/annotate")
            item = page.locator("#item")
            page.wait_for_selector("#item[data-task-id] canvas.pixels")
            seen: list[str] = []

            # Undo while the answer is still held back: the same item comes back.
            first = item.get_attribute("data-task-id")
            page.keyboard.press("7")
            page.keyboard.press("Enter")
            wait_next_item(page, first)
            page.keyboard.press("u")
            page.wait_for_function(f"document.querySelector('#item').dataset.taskId === '{first}'")
            assert page.locator(".label.selected").inner_text().strip().endswith("7")

            page.keyboard.press("?")
            assert page.locator("#help").is_visible()
            page.screenshot(path=str(ARTIFACTS / "annotate-help.png"))
            page.keyboard.press("Escape")
            assert page.locator("#help").is_hidden()

            for n in range(10):
                task_id = item.get_attribute("data-task-id")
                assert task_id is not None and task_id not in seen
                seen.append(task_id)
                page.keyboard.press(str(n % 10))
                assert page.locator(".label.selected").count() == 1
                if n == 9:
                    page.screenshot(path=str(ARTIFACTS / "annotate.png"))
                page.keyboard.press("Enter")
                wait_next_item(page, task_id)
            assert page.locator("#progress").inner_text() == "10 done this session"
            page.wait_for_selector("#outbox[data-pending='0']")

            stored = _annotations(settings, "annotator")
            assert len(stored) == 10
            assert len({row.item_id for row in stored}) == 10
            assert sorted(row.label for row in stored) == [str(n) for n in range(10)]

            # Undo after the answer was stored: the server retracts it, the task comes back.
            from playwright.sync_api import expect

            last = seen[-1]
            page.keyboard.press("u")
            expect(item).to_have_attribute("data-task-id", last)
            page.keyboard.press("3")
            page.keyboard.press("Enter")
            wait_next_item(page, last)
            page.wait_for_selector("#outbox[data-pending='0']")
            stored = _annotations(settings, "annotator")
            kept = sorted(row.label for row in stored if row.flag is None)
            assert kept == sorted([*map(str, range(9)), "3"])
            assert [row.label for row in stored if row.flag == "retracted"] == ["9"]

            # A reload gives back what the person holds: nothing skipped, nothing lost.
            held = _open_tasks(settings, "annotator")
            on_screen = item.get_attribute("data-task-id")
            assert on_screen is not None and int(on_screen) in held
            page.reload()
            page.wait_for_selector("#item[data-task-id] canvas.pixels")
            assert int(item.get_attribute("data-task-id") or 0) in held
            assert _open_tasks(settings, "annotator") == held

            # The dashboard is for reviewers and up.
            page.click("text=Log out")
            page.wait_for_url(base + "/login")
            _log_in(page, base, "reviewer")
            page.goto(base + "/projects/digits/dashboard")
            by_status = page.locator("#by-status").inner_text()
            assert "labelled\t10" in by_status or "labelled 10" in by_status, by_status
            assert "human\t10" in page.locator("#label-sources").inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

            page.goto(base + "/projects/digits/review")
            page.wait_for_selector("#no-tasks, #item[data-task-id]")
            page.screenshot(path=str(ARTIFACTS / "review.png"))
        finally:
            browser.close()
    assert not problems, problems


def wait_next_item(page: Any, task_id: str | None) -> None:
    """Wait until another task is on screen (not the blank between two items).

    Locator assertions need no ``eval``, which the pages' Content-Security-Policy forbids.
    """
    from playwright.sync_api import expect

    item = page.locator("#item")
    expect(item).to_have_attribute("data-task-id", re.compile(r"^\d+$"))
    expect(item).not_to_have_attribute("data-task-id", task_id or "")

"""A real headless chromium: a login does not follow a tab-smuggled ``next`` off the site; a user
makes and revokes an API token and changes their password on the account page; an admin
deactivates a user on the admin page.

Uses the server, browser and log-in helpers of ``test_browser``; skipped like it without
playwright or ``/usr/bin/chromium``, unless ``LABELLOOP_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

from typing import Any

import httpx
import test_browser as browser

from labelloop.settings import Settings

live_server = browser.live_server
NEW_PASSWORD = "a brand new password"


def _fill_login(page: Any, username: str, password: str) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.keyboard.press("Enter")


def test_account_and_admin_pages_end_credentials(live_server: tuple[str, Settings]) -> None:
    from playwright.sync_api import expect

    sync_playwright = browser._sync_playwright()
    base, _settings = live_server
    problems: list[str] = []
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(browser.CHROMIUM), args=browser.CHROMIUM_ARGS, headless=True
        )
        try:
            page = chromium.new_page()
            page.set_default_timeout(browser.TIMEOUT_MS)
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))

            # The browser drops the tab: "/<TAB>/evil.example" would be "//evil.example".
            page.goto(base + "/login?next=%2F%09%2Fevil.example")
            _fill_login(page, "annotator", browser.PASSWORDS["annotator"])
            page.wait_for_url(base + "/")

            page.click("a.who")  # the header's link to one's account
            page.wait_for_url(base + "/account")
            page.fill("#token-form input[name=name]", "laptop")
            page.click("#token-form button")
            token = page.locator("code.new-token").inner_text()
            assert token.startswith("ll_")
            headers = {"Authorization": f"Bearer {token}"}
            assert httpx.get(f"{base}/api/v1/auth/me", headers=headers).status_code == 200
            page.reload()
            row = page.locator("#tokens tr", has_text="laptop")
            row.locator("button.revoke-token").click()
            expect(row).to_have_count(0)
            assert httpx.get(f"{base}/api/v1/auth/me", headers=headers).status_code == 401

            page.fill("input[name=old_password]", browser.PASSWORDS["annotator"])
            page.fill("input[name=new_password]", NEW_PASSWORD)
            page.fill("input[name=confirm]", NEW_PASSWORD + "x")
            page.click("#password-form button")
            expect(page.locator("#password-message")).to_contain_text("differ")
            page.fill("input[name=confirm]", NEW_PASSWORD)
            page.click("#password-form button")
            page.wait_for_url(base + "/login")
            _fill_login(page, "annotator", NEW_PASSWORD)
            page.wait_for_url(base + "/")

            page.click("text=Log out")
            page.wait_for_url(base + "/login")
            _fill_login(page, "admin", browser.PASSWORDS["admin"])
            page.wait_for_url(base + "/")
            page.goto(base + "/admin")
            page.on("dialog", lambda dialog: dialog.accept())
            page.click('button.active-button[data-username="reviewer"]')
            expect(page.locator('tr[data-username="reviewer"]')).to_have_class("inactive")
            body = {"username": "reviewer", "password": browser.PASSWORDS["reviewer"]}
            assert httpx.post(f"{base}/api/v1/auth/login", json=body).status_code == 401
        finally:
            chromium.close()
    assert not problems, problems

"""A real browser for the console's tests: Debian's headless Chromium driven by Playwright.

One browser per test module; each test gets a fresh context (its own storage, nothing
shared) on a page of the console, signed in by the test. Playwright's own browser download
does not work offline, so Chromium comes from Debian (``make test`` installs it); without it
the tests fail, saying how to install it, rather than being skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    async_playwright,
    expect,
)

from tests.stack import Stack

__all__ = ["CHROMIUM", "Console", "browser", "console", "launch"]

CHROMIUM = Path(os.environ.get("HERALD_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium calls home at start, and this machine's closed network refuses
    # its connections.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 20_000
"""How long an expectation waits: the console refreshes on its own every few seconds."""

expect.set_options(timeout=WAIT_MS)


@dataclass
class Console:
    """The console in a browser page, served by a running Herald."""

    page: Page
    base_url: str
    problems: list[str] = field(default_factory=list)
    """Uncaught errors and Content-Security-Policy violations the page reported."""

    async def open(self) -> None:
        await self.page.goto(f"{self.base_url}/console")

    async def sign_in(self, key: str) -> None:
        await self.open()
        await self.page.get_by_label("API key").fill(key)
        await self.page.get_by_role("button", name="Sign in").click()
        await expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()

    async def go(self, page_name: str) -> None:
        """Follow a navigation link and wait for its view."""
        await self.page.get_by_role("link", name=page_name, exact=True).click()
        await expect(self.heading).to_contain_text(page_name)

    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    async def nav_links(self) -> list[str]:
        names: list[str] = await self.page.locator("#nav a").all_inner_texts()
        return names

    async def everything_stored(self) -> str:
        """What the browser keeps for the site beyond the page's memory: local and session
        storage, cookies (those scripts cannot read too), IndexedDB and Cache Storage."""
        in_page = await self.page.evaluate(
            """async () => JSON.stringify({
                local: {...localStorage},
                session: {...sessionStorage},
                cookie: document.cookie,
                indexedDB: (await indexedDB.databases()).map((d) => d.name),
                caches: await caches.keys(),
            })"""
        )
        cookies = await self.page.context.cookies()
        return str(in_page) + json.dumps(cookies)


def chromium_path() -> str:
    """Debian's Chromium, or a failure that says how to install it."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the console's browser tests need Debian's Chromium; "
            "install it with `apt-get install -y chromium` (`make test` does)",
            pytrace=False,
        )
    return str(CHROMIUM)


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await launch(playwright)
        yield launched
        await launched.close()


@pytest.fixture
async def console(browser: Browser, stack: Stack) -> AsyncIterator[Console]:
    """A fresh browser context on the console of the test's Herald; after the test, no
    uncaught error and no Content-Security-Policy violation may have been reported."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    opened = Console(page, str(stack.api.base_url).rstrip("/"))

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            opened.problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: opened.problems.append(str(error)))
    try:
        yield opened
    finally:
        await context.close()
    assert opened.problems == []

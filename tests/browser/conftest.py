"""A live `yuqing run` with the demo school, and a headless Debian Chromium to drive it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.clitools import ARTIFACTS, child_database, cli_env, need, running
from yuqing.core.demo import PASSWORD_FILE, read_passwords

CHROMIUM = os.environ.get("YUQING_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# Chromium reports CSP violations on the console already; this makes them unmistakable (and
# catches those a browser only reports as an event). Injected through the DevTools protocol,
# so the page's own policy does not apply to it.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
});
"""


@dataclass(frozen=True)
class Site:
    url: str
    passwords: dict[str, str]


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("browser") / "data"
    # No worker: the pages under test need none, and the two cores are better spent elsewhere.
    with (
        child_database() as database_url,
        running(data, env=cli_env(data, database_url=database_url), args=("--no-worker",)) as live,
    ):
        yield Site(url=live.url, passwords=read_passwords(data / PASSWORD_FILE))


# Function scope on purpose: Playwright's sync API keeps an asyncio loop running in this thread
# while it is open, and other tests on the same xdist worker call asyncio.run() afterwards.
@pytest.fixture
def browser() -> Iterator[Any]:
    need("Chromium", Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class ConsoleErrors(list[str]):
    def assert_none(self, where: str) -> None:
        assert not self, f"console errors on {where}:\n" + "\n".join(self)


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, ConsoleErrors]]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    errors = ConsoleErrors()
    tab = context.new_page()
    tab.add_init_script(CSP_LISTENER)
    tab.on(
        "console",
        lambda msg: errors.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None,
    )
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    tab.set_default_timeout(30_000)
    try:
        yield tab, errors
    finally:
        context.close()


def log_in(tab: Any, site: Site, username: str) -> None:
    tab.goto(site.url + "accounts/login/")
    tab.fill("input[name=username]", username)
    tab.fill("input[name=password]", site.passwords[username])
    with tab.expect_navigation():
        tab.press("input[name=password]", "Enter")
    assert "/accounts/login/" not in tab.url, f"{username} could not log in"


def screenshot(tab: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path

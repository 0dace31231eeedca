"""Fixtures of the portal's browser tests: Debian's Chromium driven by Playwright, and a demo
chain of each suite served by a real one-validator node.

No browser is downloaded: Playwright launches ``/usr/bin/chromium`` (``.ci/run`` installs
Debian's ``chromium`` when it is missing) with the flags this machine needs. When Chromium or
Playwright can't be had, every browser test FAILS with a message saying so — never a skip:
a portal that was not tested must not look tested.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.demochain import DemoChain, Served, build_demo_chain, serve

CHROMIUM = os.environ.get("CREDCHAIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    # Without these Chromium keeps dialling Google's hosts, which this network refuses.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
# The README's pictures (shell/web/screenshots/, tracked) are rewritten only when asked
# (CREDCHAIN_UPDATE_SCREENSHOTS=1); otherwise screenshots and timings go to a temporary
# directory, so that running the tests leaves the working tree as it was.
SCREENSHOTS = (ROOT / "shell" / "web" / "screenshots"
               if os.environ.get("CREDCHAIN_UPDATE_SCREENSHOTS", "") not in ("", "0")
               else Path(tempfile.gettempdir()) / "credchain-screenshots")
ACTION_TIMEOUT_MS = 90_000


def _no_browser(reason: str) -> None:
    pytest.fail(f"the portal's browser tests need Debian's Chromium driven by Playwright: "
                f"{reason}. Install them (`apt-get install -y chromium` and the test extras, "
                "`pip install -e '.[test]'`; `.ci/run` does both); these tests fail rather "
                "than pass without a browser.", pytrace=False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not for the session: Playwright's sync API keeps an
    event loop running in the main thread while it is open, and tests of other modules call
    ``asyncio.run`` there."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _no_browser(f"the Python package playwright is not installed ({exc})")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _no_browser(f"{CHROMIUM} does not exist")
    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        except Exception as exc:  # Playwright's own error type: the reason is in its text
            _no_browser(f"{CHROMIUM} did not start ({str(exc)[:300]})")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def demo_ed() -> DemoChain:
    return build_demo_chain("ed25519-sha256")


@pytest.fixture(scope="session")
def demo_sm() -> DemoChain:
    return build_demo_chain("sm2-sm3")


@pytest.fixture(scope="session")
def served_ed(demo_ed: DemoChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(demo_ed, tmp_path_factory.mktemp("ed") / "anchor.json") as served:
        yield served


@pytest.fixture(scope="session")
def served_sm(demo_sm: DemoChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(demo_sm, tmp_path_factory.mktemp("sm") / "anchor.json") as served:
        yield served


@pytest.fixture(scope="session")
def figures() -> Iterator[Any]:
    """Timings the tests add (page loads, verifications); written when the session ends."""
    from tests.browser.pagekit import Figures

    gathered = Figures()
    yield gathered
    if gathered.samples:
        gathered.write()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context per test: no anchor pinned, no service worker, no cache."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    # Generous: CI shares two cores with other runs (the page-load limit is asserted apart).
    ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    ctx.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()

"""Browser fixtures: headless Debian Chromium driven by Playwright, screenshots per test, and the
released site on the local edge (moto behind our local CloudFront, the API handler at /api/*).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from qdn import config

REPO_ROOT = Path(__file__).resolve().parents[2]
PUBLIC = REPO_ROOT / "site" / "public"
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}  # the smallest phone still commonly in use (iPhone SE)
# Long enough for an API call through the local edge, short enough that a broken page fails fast.
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make browser` (never `playwright install`)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


def _shot_name(request: pytest.FixtureRequest, suffix: str = "") -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}{'-' + suffix if suffix else ''}.png"


@dataclass
class Screens:
    """Saves screenshots named after the running test, so each test leaves its own artifacts."""

    request: pytest.FixtureRequest

    def __call__(self, page: Page, suffix: str = "") -> Path:
        path = _shot_name(self.request, suffix)
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screens:
    return Screens(request)


def _new_context(browser: Browser, **options: Any) -> BrowserContext:
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A desktop page; whatever it shows when the test ends is saved as the test's screenshot."""
    context = _new_context(browser, viewport=DESKTOP)
    pg = context.new_page()
    yield pg
    if not pg.is_closed():
        pg.screenshot(path=str(_shot_name(request)), full_page=True)
    context.close()


@pytest.fixture
def phone_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = _new_context(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    pg = context.new_page()
    yield pg
    if not pg.is_closed():
        pg.screenshot(path=str(_shot_name(request, "phone")), full_page=True)
    context.close()


@dataclass
class Site:
    """The released site as the browser tests use it: the edge URL a customer opens, the build
    id the release stamped into the shell, the dispatcher key, and a way to add a job."""

    released: Any  # tests/conftest.py's ReleasedSite
    alias: str = config.DISTRIBUTION_ALIASES[0]

    @property
    def url(self) -> str:
        return self.released.url(self.alias)

    @property
    def build_id(self) -> str:
        return self.released.build_id

    @property
    def dashboard_key(self) -> str:
        return self.released.stack.config.dashboard_key

    def add_job(self, **fields: Any) -> str:
        """Write a job record through the job store; returns its tracking token."""
        return self.released.add_job(**fields).token


@pytest.fixture(scope="session")
def site(released_site: Any) -> Site:
    return Site(released_site)

"""Browser fixtures: headless Debian Chromium driven by Playwright, plus screenshots per test.

TEMPORARY: ``site`` below serves site/public with a tiny HTTP server and a stub API until the
released-site fixture of tests/conftest.py exists; then it goes and the tests run through the edge.
"""

from __future__ import annotations

import json
import mimetypes
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from qdn.routes import ROUTES

REPO_ROOT = Path(__file__).resolve().parents[2]
PUBLIC = REPO_ROOT / "site" / "public"
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"

CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium as root in a container: no sandbox, no GPU, /dev/shm is small, and nothing
# may reach the network on its own (updates, sync, component downloads).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
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


# ---------------------------------------------------------------- TEMPORARY development site ---

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
NOT_FOUND = "Job not found, or this tracking link is no longer valid"
STATUS_LABELS = {"booked": "Booked", "scheduled": "Scheduled", "delivered": "Delivered"}


@dataclass
class DevSite:
    url: str
    build_id: str
    dashboard_key: str
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_job(self, **new_job: Any) -> str:
        """Like a release run's new job: the stored history starts at its status."""
        token = secrets.token_urlsafe(24)
        status = new_job.get("status", "booked")
        now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        self.jobs[token] = {
            "reference": f"J-{secrets.token_hex(6).upper()}",
            "status": status,
            "status_label": STATUS_LABELS[status],
            "service_date": new_job.get("service_date", "2031-05-14"),
            "location": new_job.get("location", "12 Soderblom Ave"),
            "customer_name": new_job.get("customer_name", "Mark Example"),
            "history": [{"status": status, "label": STATUS_LABELS[status], "at": now}],
            "updated_at": now,
            "price": str(new_job.get("price", "600.00")),
            "currency": new_job.get("currency", "USD"),
        }
        return token


def _dev_handler(dev: DevSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/api/"):
                self._api_get(path)
                return
            if path == "/" or any(path.startswith(p) for p in ROUTES):
                path = "/index.html"
            file = (PUBLIC / path.lstrip("/")).resolve()
            if not file.is_file() or PUBLIC not in file.parents:
                self._send(404, b"not found", "text/plain")
                return
            body = file.read_bytes()
            if file.name == "index.html":
                body = body.replace(b"__QDN_BUILD_ID__", dev.build_id.encode())
            ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            self._send(200, body, ctype)

        def _api_get(self, path: str) -> None:
            if path.startswith("/api/track/"):
                token = path.removeprefix("/api/track/")
                if not TOKEN_RE.match(token):
                    self._json(400, {"error": "malformed_token", "message": NOT_FOUND})
                elif token in dev.jobs:
                    job = {
                        k: v for k, v in dev.jobs[token].items() if k not in ("price", "currency")
                    }
                    self._json(200, {"job": job})
                else:
                    self._json(404, {"error": "not_found", "message": NOT_FOUND})
            elif path == "/api/jobs":
                if self.headers.get("Authorization") != f"Bearer {dev.dashboard_key}":
                    self._json(401, {"error": "unauthorized"})
                else:
                    self._json(200, {"jobs": list(dev.jobs.values())})
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if urlsplit(self.path).path == "/api/book":
                self._json(201, {"booking_id": "BK-7Q2M9X", "message": "Thanks, booking received."})
            else:
                self._json(404, {"error": "not_found"})

    return Handler


@pytest.fixture(scope="session")
def site() -> Iterator[DevSite]:
    dev = DevSite(url="", build_id="b20310514-dev", dashboard_key="dispatch-" + "k" * 24)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _dev_handler(dev))
    dev.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield dev
    finally:
        server.shutdown()
        server.server_close()

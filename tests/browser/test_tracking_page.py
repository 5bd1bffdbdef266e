"""The tracking page as a customer sees it: a real job, a dead link, hostile data, API failures."""

from __future__ import annotations

import json
import re
import secrets

import pytest
from playwright.sync_api import Page, Route, expect

from qdn import config

pytestmark = pytest.mark.browser

NOT_FOUND = "Job not found, or this tracking link is no longer valid"
UNREACHABLE = "We couldn't reach the tracking service. Check your connection and try again."

XSS_NAMES = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    '"><img src=x onerror=window.__xss=3>',
]


def test_tracking_page_shows_the_job(site, page: Page) -> None:
    token = site.add_job(
        customer_name="Mark Soderblom",
        location="44 Soderblom Ave",
        service_date="2031-05-14",
        status="scheduled",
    )
    page.goto(f"{site.url}/track/{token}")

    job = page.locator("[data-job]")
    expect(job).to_be_visible()
    expect(job.locator('[data-field="customer_name"]')).to_have_text("Mark Soderblom")
    expect(job.locator('[data-field="location"]')).to_have_text("44 Soderblom Ave")
    expect(job.locator('[data-field="status_label"]')).to_have_text("Scheduled")
    date = job.locator('[data-field="service_date"]')
    expect(date).to_have_attribute("datetime", "2031-05-14")
    expect(date).to_contain_text("2031")
    expect(date).to_contain_text("14")
    expect(job.locator('[data-field="reference"]')).not_to_be_empty()

    # The timeline ends at the current status, marked as the current step.
    current = job.locator(".timeline-item").last
    expect(current.locator(".timeline-label")).to_have_text("Scheduled")
    expect(current).to_have_attribute("aria-current", "step")
    expect(current.locator("time")).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d{2}-\d{2}T")
    )
    expect(page).to_have_title(f"Job {_reference(page)} · QuickDumpNow")


def _reference(page: Page) -> str:
    return page.locator('[data-field="reference"]').inner_text()


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(secrets.token_urlsafe(24), id="unknown-token"),
        pytest.param("fcdc1c82cb284dbe", id="too-short"),
        pytest.param("not%20a%20token%3Cb%3E", id="malformed"),
    ],
)
def test_unknown_or_invalid_token_shows_the_exact_not_found_message(
    site, page: Page, token: str
) -> None:
    page.goto(f"{site.url}/track/{token}")
    message = page.locator('[data-track-error="not_found"]')
    expect(message).to_have_text(NOT_FOUND, use_inner_text=True)
    assert message.inner_text() == NOT_FOUND
    expect(page.locator("[data-retry]")).to_have_count(0)
    expect(page.locator("[data-job]")).to_have_count(0)


@pytest.mark.parametrize("name", XSS_NAMES, ids=["img-onerror", "script-tag", "attribute-breakout"])
def test_hostile_customer_name_renders_as_text_and_runs_nothing(
    site, page: Page, name: str
) -> None:
    token = site.add_job(customer_name=name, location=name)
    page.goto(f"{site.url}/track/{token}")

    job = page.locator("[data-job]")
    expect(job).to_be_visible()
    page.wait_for_load_state("load")  # a broken image's onerror has fired by now
    assert page.evaluate("window.__xss") is None, "the payload ran"
    # The payload is shown literally, and nothing it describes became an element.
    expect(job.locator('[data-field="customer_name"]')).to_have_text(name)
    expect(job.locator('[data-field="location"]')).to_have_text(name)
    assert job.locator("img, script").count() == 0


def _json_route(status: int, payload: dict) -> callable:
    def handle(route: Route) -> None:
        route.fulfill(status=status, content_type="application/json", body=json.dumps(payload))

    return handle


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_shows_a_retryable_message_and_retry_recovers(
    site, page: Page, screenshot, status: int
) -> None:
    token = site.add_job(customer_name="Retry Customer")
    # A 5xx from the track API cannot be provoked through the stack on purpose; intercept it.
    page.route("**/api/track/**", _json_route(status, {"error": "internal"}))
    page.goto(f"{site.url}/track/{token}")

    message = page.locator('[data-track-error="unavailable"]')
    expect(message).to_have_text(UNREACHABLE)
    assert NOT_FOUND not in page.locator("main").inner_text()
    screenshot(page, "error")

    page.unroute("**/api/track/**")
    page.locator("[data-retry]").click()
    expect(page.locator('[data-field="customer_name"]')).to_have_text("Retry Customer")


def test_a_refused_token_from_the_api_shows_the_not_found_message(site, page: Page) -> None:
    # The page already refuses malformed tokens itself, so the API's 400 is only reachable when
    # the two disagree about a token's shape; intercept it to prove the page still says not found.
    page.route("**/api/track/**", _json_route(400, {"error": "malformed_token"}))
    page.goto(f"{site.url}/track/{secrets.token_urlsafe(24)}")
    expect(page.locator('[data-track-error="not_found"]')).to_have_text(NOT_FOUND)
    expect(page.locator("[data-retry]")).to_have_count(0)


def test_unreachable_api_shows_the_retryable_message(site, page: Page) -> None:
    token = site.add_job()
    page.route("**/api/track/**", lambda route: route.abort("connectionrefused"))
    page.goto(f"{site.url}/track/{token}")
    expect(page.locator('[data-track-error="unavailable"]')).to_have_text(UNREACHABLE)
    expect(page.locator("[data-retry]")).to_be_visible()


def test_original_path_is_a_fallback_when_the_shell_itself_is_opened(site, page: Page) -> None:
    token = site.add_job(customer_name="Fallback Customer")
    page.goto(f"{site.url}/index.html?original_path=/track/{token}")
    expect(page.locator('[data-field="customer_name"]')).to_have_text("Fallback Customer")


def test_home_track_box_accepts_a_pasted_link(site, page: Page) -> None:
    token = site.add_job(customer_name="Pasted Link")
    page.goto(f"{site.url}/")
    page.get_by_label("Tracking code or link").fill(f"https://quickdumpnow.com/track/{token}")
    page.get_by_role("button", name="Track").click()
    expect(page.locator('[data-field="customer_name"]')).to_have_text("Pasted Link")
    assert page.url.endswith(f"/track/{token}")


def test_shell_carries_the_build_id(site, page: Page) -> None:
    page.goto(f"{site.url}/book/")
    meta = page.locator('meta[name="qdn-build-id"]')
    assert meta.get_attribute("content") == site.build_id
    footer = page.locator("footer [data-build-id]")
    expect(footer).to_have_attribute("data-build-id", site.build_id)
    expect(footer).to_contain_text(site.build_id)


def test_pages_load_nothing_from_other_origins(site, page: Page) -> None:
    token = site.add_job()
    requested: list[str] = []
    page.on("request", lambda req: requested.append(req.url))
    for path in ("/", f"/track/{token}", "/book/", "/dashboard/"):
        page.goto(f"{site.url}{path}")
        page.wait_for_load_state("networkidle")
    foreign = [u for u in requested if not u.startswith(site.url + "/")]
    assert foreign == []
    # Assets come pinned to a build, so a page never loads another build's.
    assert any(u.startswith(f"{site.url}{config.BUILD_PIN_PREFIX}build-") for u in requested)
    assert not any(u.startswith(f"{site.url}/assets/") for u in requested)


def test_site_links_reach_each_view_through_the_edge(site, page: Page) -> None:
    page.goto(f"{site.url}/")
    page.get_by_role("link", name="Book a dumpster").first.click()
    expect(page.get_by_role("heading", name="Book a dumpster")).to_be_visible()
    assert page.url == f"{site.url}/book/"
    page.get_by_role("link", name="Dispatcher sign-in").click()
    expect(page.get_by_label("Dispatcher key")).to_be_visible()
    assert page.url == f"{site.url}/dashboard/"
    page.get_by_role("link", name="QuickDumpNow").click()
    expect(page.get_by_role("heading", name="Dumpsters delivered, fast.")).to_be_visible()

"""The dispatcher dashboard: customer data only behind the key, and gone again without it."""

from __future__ import annotations

import json
import secrets

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.browser

KEY_STORAGE = "qdn.dispatcherKey"
UNAUTHORIZED = "That dispatcher key was not accepted. Enter a valid key."
DISABLED = "The dispatch dashboard is turned off on this site."


def unique(name: str) -> str:
    """Jobs pile up in the session's jobs.json; a fresh name finds only this test's job."""
    return f"{name} {secrets.token_hex(3)}"


def sign_in(page: Page, key: str) -> None:
    page.get_by_label("Dispatcher key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_without_a_key_the_dashboard_asks_for_one_and_fetches_nothing(site, page: Page) -> None:
    private = unique("Private Customer")
    site.add_job(customer_name=private)
    calls: list[str] = []
    page.on("request", lambda req: calls.append(req.url) if "/api/" in req.url else None)
    page.goto(f"{site.url}/dashboard/")

    key = page.get_by_label("Dispatcher key")
    expect(key).to_be_visible()
    expect(key).to_have_attribute("type", "password")
    expect(page.locator("[data-dash-jobs]")).to_be_hidden()
    assert calls == []
    assert private not in page.content()


def test_a_wrong_key_shows_no_customer_data(site, page: Page) -> None:
    private = unique("Private Customer")
    site.add_job(customer_name=private)
    page.goto(f"{site.url}/dashboard/")
    with page.expect_response("**/api/jobs") as answer:
        sign_in(page, "not-the-key")
    assert answer.value.status == 401

    expect(page.locator("[data-dash-status]")).to_have_text(UNAUTHORIZED)
    expect(page.get_by_label("Dispatcher key")).to_be_visible()
    expect(page.locator("[data-dash-rows] tr")).to_have_count(0)
    assert private not in page.content()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") is None


def test_the_right_key_shows_jobs_as_text_and_sign_out_removes_them(
    site, page: Page, screenshot
) -> None:
    hostile = f'<img src=x onerror="window.__xss=1"> {secrets.token_hex(3)}'
    dana_name = unique("Dana Dispatch")
    site.add_job(customer_name=dana_name, location="7 Depot Rd", price="450.00")
    site.add_job(customer_name=hostile, location="9 Quarry Ln")
    page.goto(f"{site.url}/dashboard/")
    sign_in(page, site.dashboard_key)

    rows = page.locator("[data-dash-rows] tr")
    dana = rows.filter(has_text=dana_name)
    expect(dana).to_have_count(1)
    expect(dana.locator('td[data-label="Location"]')).to_have_text("7 Depot Rd")
    expect(dana.locator('td[data-label="Price"]')).to_have_text("$450.00")
    expect(rows.filter(has_text=hostile)).to_have_count(1)
    assert page.locator("[data-dash-rows] img").count() == 0
    assert page.evaluate("window.__xss") is None
    screenshot(page, "signed-in")

    # The key lives in this tab's sessionStorage only: no cookie, nothing in localStorage.
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") == site.dashboard_key
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []

    page.reload()
    expect(rows.filter(has_text=dana_name)).to_have_count(1)

    page.get_by_role("button", name="Sign out").click()
    expect(rows).to_have_count(0)
    expect(page.get_by_label("Dispatcher key")).to_be_visible()
    assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") is None
    assert dana_name not in page.content()


def test_a_key_that_stops_working_clears_the_table(site, page: Page) -> None:
    dana_name = unique("Dana Dispatch")
    site.add_job(customer_name=dana_name)
    page.goto(f"{site.url}/dashboard/")
    sign_in(page, site.dashboard_key)
    expect(page.locator("[data-dash-rows] tr").filter(has_text=dana_name)).to_have_count(1)

    # The key is rotated while the tab is open: the next refresh is refused.
    page.route(
        "**/api/jobs",
        lambda route: route.fulfill(
            status=401, content_type="application/json", body='{"error":"unauthorized"}'
        ),
    )
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("[data-dash-status]")).to_have_text(UNAUTHORIZED)
    expect(page.locator("[data-dash-rows] tr")).to_have_count(0)
    assert dana_name not in page.content()


def test_a_disabled_dashboard_says_so(site, page: Page) -> None:
    def disabled(route: Route) -> None:
        route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps({"error": "dashboard_disabled"}),
        )

    page.route("**/api/jobs", disabled)
    page.goto(f"{site.url}/dashboard/")
    sign_in(page, "any-key")
    expect(page.locator("[data-dash-status]")).to_have_text(DISABLED)
    expect(page.locator("[data-dash-jobs]")).to_be_hidden()

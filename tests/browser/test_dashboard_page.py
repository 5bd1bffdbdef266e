"""The dispatcher dashboard: customer data only behind the key, and gone again without it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, Request, Response, Route, expect

from qdn.jobs.model import STATUS_LABELS, JobStatus

pytestmark = pytest.mark.browser

KEY_STORAGE = "qdn.dispatcherKey"
UNAUTHORIZED = "That dispatcher key was not accepted. Enter a valid key."
DISABLED = "The dispatch dashboard is turned off on this site."
PAGE_SIZE = 50  # the jobs API's page (site/api/qdn_api/dashboard.py)


def unique(name: str) -> str:
    """Jobs pile up in the session's bucket; a fresh name finds only this test's job."""
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


def jobs_request(**query: str) -> Callable[[str | Request | Response], bool]:
    """Matches a jobs API call whose query carries these parameters: its URL (``page.route``), or
    its request or response (``page.expect_request``, ``page.expect_response``)."""

    def matches(target: str | Request | Response) -> bool:
        url = target if isinstance(target, str) else target.url
        return "/api/jobs?" in url and all(f"{k}={v}" in url for k, v in query.items())

    return matches


def test_more_than_a_page_shows_fifty_and_show_more_appends_the_next(site, page: Page) -> None:
    prefix = unique("Paging Customer")
    for number in range(1, PAGE_SIZE + 6):
        site.add_job(customer_name=f"{prefix} #{number:02d}")
    urls: list[str] = []
    page.on("request", lambda req: urls.append(req.url) if "/api/" in req.url else None)
    page.goto(f"{site.url}/dashboard/")
    sign_in(page, site.dashboard_key)

    # Newest first: page one is the newest fifty, all of them this test's.
    rows = page.locator("[data-dash-rows] tr")
    mine = rows.filter(has_text=prefix)
    expect(rows).to_have_count(PAGE_SIZE)
    expect(mine).to_have_count(PAGE_SIZE)
    expect(rows.filter(has_text=f"{prefix} #55")).to_have_count(1)
    expect(rows.filter(has_text=f"{prefix} #01")).to_have_count(0)
    count = page.locator("[data-dash-count]")
    expect(count).to_have_text("50 jobs shown, more available")

    more = page.get_by_role("button", name="Show more")
    with page.expect_request(jobs_request(after="")) as asked:
        more.click()
    expect(mine).to_have_count(PAGE_SIZE + 5)
    expect(rows.filter(has_text=f"{prefix} #01")).to_have_count(1)
    shown = rows.count()
    assert PAGE_SIZE + 5 <= shown <= 2 * PAGE_SIZE
    assert "after=" in asked.value.url
    if more.is_visible():
        expect(count).to_have_text(f"{shown} jobs shown, more available")
    else:
        expect(count).to_have_text(f"{shown} jobs")

    # Refresh starts again from page one.
    page.get_by_role("button", name="Refresh").click()
    expect(rows).to_have_count(PAGE_SIZE)
    expect(count).to_have_text("50 jobs shown, more available")
    assert not any(site.dashboard_key in url for url in urls)

    page.get_by_role("button", name="Sign out").click()
    expect(rows).to_have_count(0)
    expect(more).to_be_hidden()
    expect(count).to_have_text("")
    assert prefix not in page.content()


def test_filtering_by_status_shows_only_that_status(site, page: Page) -> None:
    picked = unique("Picked Customer")
    waiting = unique("Waiting Customer")
    site.add_job(customer_name=picked, status="picked_up")
    site.add_job(customer_name=waiting, status="ready_for_pickup")
    page.goto(f"{site.url}/dashboard/")
    sign_in(page, site.dashboard_key)
    rows = page.locator("[data-dash-rows] tr")
    expect(rows.filter(has_text=waiting)).to_have_count(1)

    select = page.get_by_label("Status", exact=True)
    options = select.locator("option").evaluate_all(
        "options => options.map(o => [o.value, o.textContent])"
    )
    assert options == [["", "All statuses"]] + [[s.value, STATUS_LABELS[s]] for s in JobStatus]

    with page.expect_response(jobs_request(status="picked_up")) as answer:
        select.select_option("picked_up")
    assert answer.value.status == 200
    expect(rows.filter(has_text=picked)).to_have_count(1)
    expect(rows.filter(has_text=waiting)).to_have_count(0)
    badges = page.locator("[data-dash-rows] .status-badge")
    shown = badges.evaluate_all("badges => badges.map(b => b.dataset.status)")
    assert shown and set(shown) == {"picked_up"}
    expect(badges.filter(has_text="Picked up")).to_have_count(len(shown))

    page.get_by_role("button", name="Clear filters").click()
    expect(select).to_have_value("")
    expect(rows.filter(has_text=waiting)).to_have_count(1)
    expect(rows.filter(has_text=picked)).to_have_count(1)


def test_filtering_by_service_date_shows_only_that_date(site, page: Page) -> None:
    service_date = date.today() + timedelta(days=100 + secrets.randbelow(200))
    day = service_date.isoformat()
    dated = unique("Dated Customer")
    other = unique("Other Customer")
    site.add_job(customer_name=dated, service_date=service_date)
    site.add_job(customer_name=other)
    page.goto(f"{site.url}/dashboard/")
    sign_in(page, site.dashboard_key)
    rows = page.locator("[data-dash-rows] tr")
    expect(rows.filter(has_text=other)).to_have_count(1)

    with page.expect_response(jobs_request(date=day)) as answer:
        page.get_by_label("Service date").fill(day)
    assert answer.value.status == 200
    expect(rows.filter(has_text=dated)).to_have_count(1)
    expect(rows.filter(has_text=other)).to_have_count(0)
    dates = page.locator("[data-dash-rows] time").evaluate_all(
        "times => times.map(t => t.getAttribute('datetime'))"
    )
    assert dates and set(dates) == {day}

    # Both filters at once: this date's job is ready for pickup, not scheduled.
    with page.expect_response(jobs_request(status="scheduled", date=day)):
        page.get_by_label("Status", exact=True).select_option("scheduled")
    expect(page.locator("[data-dash-rows] td.empty")).to_have_text("No jobs match these filters.")
    expect(page.locator("[data-dash-count]")).to_have_text("0 jobs")
    expect(page.get_by_role("button", name="Show more")).to_be_hidden()


def test_a_refused_filter_shows_the_apis_message(site, page: Page) -> None:
    waiting = unique("Waiting Customer")
    site.add_job(customer_name=waiting)
    message = "status must be one of: booked, scheduled"

    def refuse(route: Route) -> None:
        route.fulfill(
            status=400,
            content_type="application/json",
            body=json.dumps({"error": "invalid_filter", "message": message}),
        )

    # The page offers only valid filters, so the refusal is staged for a filtered request.
    page.route(jobs_request(status="booked"), refuse)
    page.goto(f"{site.url}/dashboard/")
    sign_in(page, site.dashboard_key)
    rows = page.locator("[data-dash-rows] tr")
    expect(rows.filter(has_text=waiting)).to_have_count(1)

    page.get_by_label("Status", exact=True).select_option("booked")
    expect(page.locator("[data-dash-status] [role=alert]")).to_have_text(message)
    expect(rows).to_have_count(0)
    expect(page.locator("[data-dash-count]")).to_have_text("")
    expect(page.get_by_role("button", name="Show more")).to_be_hidden()
    # The filters stay, so the dispatcher can change them.
    expect(page.get_by_label("Status", exact=True)).to_be_visible()
    assert waiting not in page.content()

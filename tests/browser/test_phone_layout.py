"""Every view on a phone-sized screen: nothing wider than the screen, nothing to scroll sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# Data as long as the job model allows, in one unbroken run: the worst case for a narrow screen.
LONG_NAME = "W" * 100
LONG_STREET = "Soderblom" * 22  # 198 characters, under the 200 a street may have


def assert_no_horizontal_scroll(page: Page) -> None:
    widths = page.evaluate(
        """() => ({viewport: window.innerWidth,
                   document: document.documentElement.scrollWidth,
                   body: document.body.scrollWidth})"""
    )
    assert widths["document"] <= widths["viewport"], widths
    assert widths["body"] <= widths["viewport"], widths


def test_home_fits_a_phone(site, phone_page: Page, screenshot) -> None:
    phone_page.goto(f"{site.url}/")
    expect(phone_page.get_by_label("Tracking code or link")).to_be_visible()
    assert_no_horizontal_scroll(phone_page)


def test_tracking_page_with_long_data_fits_a_phone(site, phone_page: Page, screenshot) -> None:
    token = site.add_job(customer_name=LONG_NAME, location=LONG_STREET)
    phone_page.goto(f"{site.url}/track/{token}")
    expect(phone_page.locator('[data-field="customer_name"]')).to_have_text(LONG_NAME)
    assert_no_horizontal_scroll(phone_page)


def test_not_found_fits_a_phone(site, phone_page: Page) -> None:
    phone_page.goto(f"{site.url}/track/{'x' * 64}")
    expect(phone_page.locator('[data-track-error="not_found"]')).to_be_visible()
    assert_no_horizontal_scroll(phone_page)


def test_booking_form_with_errors_fits_a_phone(site, phone_page: Page) -> None:
    phone_page.goto(f"{site.url}/book/")
    phone_page.get_by_role("button", name="Request booking").click()
    expect(phone_page.locator("#book-service_date-error")).to_be_visible()
    assert_no_horizontal_scroll(phone_page)


def test_dashboard_table_fits_a_phone(site, phone_page: Page) -> None:
    site.add_job(customer_name=LONG_NAME, location=LONG_STREET)
    phone_page.goto(f"{site.url}/dashboard/")
    phone_page.get_by_label("Dispatcher key").fill(site.dashboard_key)
    phone_page.get_by_role("button", name="Sign in").click()
    expect(phone_page.locator("[data-dash-rows] tr").first).to_be_visible()
    assert_no_horizontal_scroll(phone_page)
    # Nothing is cut off inside the table's own scroll box either: rows become cards.
    box = phone_page.locator(".table-scroll").evaluate("el => el.scrollWidth <= el.clientWidth")
    assert box

"""The booking form: its messages, their agreement with the booking API, and the confirmation."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from qdn.jobs.booking import BOOKING_MESSAGES, BookingRequest

pytestmark = pytest.mark.browser

# The booking API's own field order and messages: the page must show exactly these.
FIELDS = tuple(BookingRequest.model_fields)
MESSAGES = BOOKING_MESSAGES
BOOK_UNREACHABLE = "We couldn't send your booking. Check your connection and try again."


def _day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


def _valid(**overrides: str) -> dict[str, str]:
    values = {
        "name": "Dana Customer",
        "phone": "+1 (555) 123-4567",
        "email": "dana@example.com",
        "address": "12 Main St, Springfield",
        "service_date": _day(7),
        "dumpster_size": "20",
        "notes": "Gate code 4321",
    }
    values.update(overrides)
    return values


def open_form(page: Page, site: Any) -> None:
    page.goto(f"{site.url}/book/")
    expect(page.locator("[data-book-form]")).to_be_visible()


def fill_form(page: Page, values: dict[str, str]) -> None:
    form = page.locator("[data-book-form]")
    for field in FIELDS:
        control = form.locator(f'[name="{field}"]')
        if field == "dumpster_size":
            control.select_option(values[field])
        else:
            control.fill(values[field])


def page_errors(page: Page) -> dict[str, str]:
    """The field messages the page shows now, keyed like the API's ``fields``."""
    return page.evaluate(
        """fields => Object.fromEntries(fields
            .map(f => [f, document.getElementById('book-' + f + '-error')])
            .filter(([, el]) => el && !el.hidden)
            .map(([f, el]) => [f, el.textContent]))""",
        list(FIELDS),
    )


def submit(page: Page) -> None:
    page.get_by_role("button", name="Request booking").click()


def post_booking(site: Any, values: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{site.url}/api/book",
        data=json.dumps(values).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_empty_form_shows_every_required_message_and_sends_nothing(
    site, page: Page, screenshot
) -> None:
    open_form(page, site)
    posts: list[str] = []
    page.on("request", lambda req: posts.append(req.url) if req.method == "POST" else None)
    submit(page)

    required = ("name", "phone", "address", "service_date", "dumpster_size")
    assert page_errors(page) == {field: MESSAGES[field] for field in required}
    assert posts == []
    # Focus lands on the first field to fix; each message is tied to its field for screen readers.
    expect(page.locator("#book-name")).to_be_focused()
    for field in required:
        control = page.locator(f"#book-{field}")
        expect(control).to_have_attribute("aria-invalid", "true")
        described = control.get_attribute("aria-describedby").split()
        assert f"book-{field}-error" in described
    screenshot(page, "errors")


def test_every_message_appears_for_its_own_mistake(site, page: Page) -> None:
    open_form(page, site)
    fill_form(
        page,
        {
            "name": "   ",
            "phone": "12-34-5",
            "email": "dana@example",
            "address": " abc ",
            "service_date": _day(-1),
            "dumpster_size": "",
            "notes": "x" * 501,
        },
    )
    submit(page)
    assert page_errors(page) == MESSAGES


def test_a_fixed_field_loses_its_message_as_the_customer_types(site, page: Page) -> None:
    open_form(page, site)
    fill_form(page, _valid(phone="123"))
    submit(page)
    assert page_errors(page) == {"phone": MESSAGES["phone"]}
    page.locator("#book-phone").fill("555 123 4567")
    assert page_errors(page) == {}
    expect(page.locator("#book-phone")).not_to_have_attribute("aria-invalid", "true")


def test_every_control_has_a_label(site, page: Page) -> None:
    open_form(page, site)
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('[data-book-form] :is(input, select, textarea)')]
            .filter(el => !el.labels.length || !el.labels[0].textContent.trim())
            .map(el => el.name)"""
    )
    assert unlabelled == []
    for field in FIELDS:
        expect(page.locator(f"#book-{field}")).to_be_visible()


def test_date_picker_offers_today_up_to_a_year_ahead(site, page: Page) -> None:
    open_form(page, site)
    date = page.locator("#book-service_date")
    expect(date).to_have_attribute("min", _day(0))
    expect(date).to_have_attribute("max", _day(365))


def test_valid_booking_shows_the_booking_id(site, page: Page) -> None:
    open_form(page, site)
    values = _valid()
    fill_form(page, values)
    with page.expect_response("**/api/book") as answer:
        submit(page)
    response = answer.value
    assert response.status == 201
    assert json.loads(response.request.post_data) == values
    booking_id = response.json()["booking_id"]

    confirmation = page.locator("[data-confirmation]")
    expect(confirmation.get_by_role("heading")).to_have_text("Booking received")
    expect(confirmation.locator('[data-field="booking_id"]')).to_have_text(booking_id)
    expect(confirmation).to_be_focused()


def test_server_field_errors_are_shown_on_their_fields(site, page: Page) -> None:
    # A server that disagrees with the page cannot be produced through the stack; intercept it.
    def reject(route: Route) -> None:
        route.fulfill(
            status=400,
            content_type="application/json",
            body=json.dumps({"error": "invalid", "fields": {"address": MESSAGES["address"]}}),
        )

    page.route("**/api/book", reject)
    open_form(page, site)
    fill_form(page, _valid())
    submit(page)
    expect(page.locator("#book-address-error")).to_have_text(MESSAGES["address"])
    expect(page.locator("#book-address")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-book-error]")).to_be_visible()
    assert page_errors(page) == {"address": MESSAGES["address"]}


def test_unreachable_booking_api_keeps_the_form_for_a_retry(site, page: Page) -> None:
    page.route("**/api/book", lambda route: route.abort("connectionrefused"))
    open_form(page, site)
    values = _valid()
    fill_form(page, values)
    submit(page)
    expect(page.locator("[data-book-error]")).to_have_text(BOOK_UNREACHABLE)
    expect(page.locator("#book-name")).to_have_value(values["name"])
    expect(page.get_by_role("button", name="Request booking")).to_be_enabled()


AGREEMENT_CASES = {
    "all-empty": {field: "" for field in FIELDS},
    "every-rule-broken": {
        "name": "   ",
        "phone": "12-34-5",
        "email": "a@b",
        "address": " abc ",
        "service_date": _day(-1),
        "dumpster_size": "",
        "notes": "x" * 501,
    },
    "just-over-the-limits": _valid(
        name="n" * 101,
        phone="1234567890123456",
        email="a b@example.com",
        address="a" * 201,
        service_date=_day(366),
    ),
    "two-plus-signs": _valid(phone="++15551234567"),
    "long-email": _valid(email="a" * 243 + "@example.com"),
    "at-the-limits": _valid(
        name="n" * 100,
        phone="+1 (555) 123.4567",
        email="",
        address="12 Ma",
        service_date=_day(365),
        dumpster_size="10",
        notes="y" * 500,
    ),
    "astral-characters-count-once": _valid(name="\U0001f600" * 100, address="\U0001f69a" * 5),
    "today": _valid(service_date=_day(0), dumpster_size="15"),
}


@pytest.mark.parametrize("values", AGREEMENT_CASES.values(), ids=AGREEMENT_CASES.keys())
def test_page_and_server_give_the_same_messages(site, page: Page, values: dict[str, str]) -> None:
    open_form(page, site)
    fill_form(page, values)
    submit(page)
    shown = page_errors(page)
    if shown:
        status, body = post_booking(site, values)
        assert status == 400, body
        assert body["fields"] == shown
    else:
        # The page found nothing wrong and sent it; the server must have accepted it.
        expect(page.locator("[data-confirmation]")).to_be_visible()

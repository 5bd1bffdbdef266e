"""POST /api/book against a real moto server: validation messages, storage, no overwrites."""

from __future__ import annotations

import json

import pytest
from handlers_support import Api, api_fixture, body_of, booking_form, event  # noqa: F401 (a fixture)

from qdn import config
from qdn.jobs.booking import BOOKING_MESSAGES
from qdn_api import book
from qdn_api.app import BOOK_PATH as BOOK
from qdn_api.app import handler


def _post(api: Api, data: object, **kwargs: object) -> dict:
    return api.call("POST", BOOK, body=json.dumps(data), **kwargs)


def test_valid_booking_is_stored_once_and_jobs_json_untouched(api: Api) -> None:
    response = _post(api, booking_form())
    assert response["statusCode"] == 201
    payload = body_of(response)
    assert set(payload) == {"booking_id", "message"}
    key = f"{config.BOOKINGS_PREFIX}{payload['booking_id']}.json"
    stored = json.loads(api.s3.get_object(Bucket=api.bucket, Key=key)["Body"].read())
    assert stored["name"] == "Ana Lopez"
    assert stored["phone"] == "5550100199"
    assert stored["dumpster_size"] == "20"
    assert stored["id"] == payload["booking_id"]
    assert response["headers"]["cache-control"] == "no-store"
    sent = api.s3_requests()
    assert [op for op, _ in sent] == ["PutObject"]
    assert sent[0][1]["If-None-Match"] == "*"
    listed = api.s3.list_objects_v2(Bucket=api.bucket).get("Contents", [])
    assert [o["Key"] for o in listed] == [key]  # and no jobs.json


def test_base64_body_and_optional_fields(api: Api) -> None:
    data = booking_form(email="", notes=...)
    response = api.call("POST", BOOK, body=json.dumps(data), base64_body=True)
    assert response["statusCode"] == 201


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("name", "  "),
        ("phone", "12-34"),
        ("email", "ana@example"),
        ("address", "abc"),
        ("service_date", "2020-01-01"),
        ("dumpster_size", "12"),
        ("notes", "n" * 501),
    ],
)
def test_each_rule_answers_400_with_its_message(api: Api, field: str, bad: object) -> None:
    response = _post(api, booking_form(**{field: bad}))
    assert response["statusCode"] == 400
    assert body_of(response) == {"error": "invalid", "fields": {field: BOOKING_MESSAGES[field]}}
    assert api.s3_requests() == []


def _stored_bookings(api: Api) -> list[str]:
    listed = api.s3.list_objects_v2(Bucket=api.bucket, Prefix=config.BOOKINGS_PREFIX)
    return [o["Key"] for o in listed.get("Contents", [])]


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("name", "Ana\u0000Lopez"),
        ("name", "Ana\nLopez"),
        ("email", "ana\u0007@example.com"),
        ("address", "12 Soderblom\u001b[2J Ave"),
        ("address", "12 Soderblom\u0085Ave"),
        ("notes", "Gate code\u0000 1234"),
        ("notes", "Gate code\t1234"),
        ("notes", "Gate code\r\n1234"),
    ],
)
def test_a_control_character_is_refused_with_the_fields_message_and_nothing_is_written(
    api: Api, field: str, bad: str
) -> None:
    assert _post(api, booking_form())["statusCode"] == 201  # so "before" is not trivially empty
    before = _stored_bookings(api)
    api.s3_requests()
    response = _post(api, booking_form(**{field: bad}))
    assert response["statusCode"] == 400
    assert body_of(response) == {"error": "invalid", "fields": {field: BOOKING_MESSAGES[field]}}
    assert api.s3_requests() == []
    assert _stored_bookings(api) == before


def test_notes_keep_their_line_breaks(api: Api) -> None:
    response = _post(api, booking_form(notes="Gate code 1234\nleft of the garage"))
    assert response["statusCode"] == 201
    key = f"{config.BOOKINGS_PREFIX}{body_of(response)['booking_id']}.json"
    stored = json.loads(api.s3.get_object(Bucket=api.bucket, Key=key)["Body"].read())
    assert stored["notes"] == "Gate code 1234\nleft of the garage"


def test_missing_fields_all_reported(api: Api) -> None:
    response = _post(api, {})
    assert response["statusCode"] == 400
    assert set(body_of(response)["fields"]) == {
        "name",
        "phone",
        "address",
        "service_date",
        "dumpster_size",
    }


@pytest.mark.parametrize(
    "body",
    ["", "not json", "[1, 2]", '"text"', "null", "{" * 10000 + "}" * 10000],
)
def test_non_object_bodies_are_400(api: Api, body: str) -> None:
    response = api.call("POST", BOOK, body=body)
    assert response["statusCode"] == 400
    assert body_of(response)["error"] == "invalid_body"


def test_oversized_and_undecodable_bodies_are_400(api: Api) -> None:
    big = booking_form(notes="x" * book.MAX_BODY_BYTES)
    assert body_of(_post(api, big))["error"] == "invalid_body"
    event_body = api.call("POST", BOOK, body=None)
    assert event_body["statusCode"] == 400
    broken = event("POST", BOOK, body="!!notbase64!!")
    broken["isBase64Encoded"] = True
    assert body_of(handler(broken, None))["error"] == "invalid_body"


def test_a_repeated_id_never_overwrites(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(book, "new_booking_id", lambda: "BK-AAAAAAAAAAAAAAAA")
    first = _post(api, booking_form(name="First Customer"))
    assert first["statusCode"] == 201
    second = _post(api, booking_form(name="Second Customer"))
    assert second["statusCode"] == 503
    assert body_of(second)["error"] == "unavailable"
    key = f"{config.BOOKINGS_PREFIX}BK-AAAAAAAAAAAAAAAA.json"
    stored = json.loads(api.s3.get_object(Bucket=api.bucket, Key=key)["Body"].read())
    assert stored["name"] == "First Customer"
    # Each attempt was a conditional put that S3 refused.
    puts = [h for op, h in api.s3_requests() if op == "PutObject"]
    assert len(puts) == 1 + book.MAX_ID_ATTEMPTS
    assert all(h["If-None-Match"] == "*" for h in puts)


def test_a_collision_is_retried_with_a_new_id(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["BK-AAAAAAAAAAAAAAAA", "BK-AAAAAAAAAAAAAAAA", "BK-BBBBBBBBBBBBBBBB"])
    monkeypatch.setattr(book, "new_booking_id", lambda: next(ids))
    assert _post(api, booking_form())["statusCode"] == 201
    second = _post(api, booking_form())
    assert second["statusCode"] == 201
    assert body_of(second)["booking_id"] == "BK-BBBBBBBBBBBBBBBB"


def test_wrong_method(api: Api) -> None:
    response = api.call("GET", BOOK)
    assert response["statusCode"] == 405
    assert response["headers"]["allow"] == "POST"

"""No input makes the API answer 500: arbitrary tokens, bodies, headers and whole events."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from handlers_support import Api, close_api, new_job, open_api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qdn import config
from qdn.jobs.booking import BookingRequest
from qdn_api import settings as api_settings
from qdn_api.app import BOOK_PATH, JOBS_PATH, handler

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def fuzz_api(moto_url: str) -> Iterator[tuple[Api, str]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        api = open_api(moto_url, monkeypatch)
        monkeypatch.setenv(api_settings.DASHBOARD_KEY_ENV, "fuzz-dispatcher-key-0123456789")
        job = new_job()
        api.put_jobs(job, new_job(customer_name="<img src=x onerror=alert(1)>"))
        yield api, job.token
        close_api()


def _assert_json_answer(response: dict, allowed: set[int]) -> dict:
    assert response["statusCode"] in allowed, response
    assert response["headers"]["content-type"].startswith("application/json")
    return json.loads(response["body"]) if response["body"] else {}


@FUZZ
@given(st.text(max_size=80) | st.from_regex(r"[A-Za-z0-9_-]{22,64}", fullmatch=True))
def test_any_token(fuzz_api: tuple[Api, str], token: str) -> None:
    api, _ = fuzz_api
    payload = _assert_json_answer(api.call("GET", config.TRACK_API_PREFIX + token), {400, 404})
    assert payload["error"] in {"malformed_token", "not_found"}


def test_the_real_token_still_works(fuzz_api: tuple[Api, str]) -> None:
    api, token = fuzz_api
    assert api.call("GET", config.TRACK_API_PREFIX + token)["statusCode"] == 200


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
_FORM_KEYS = list(BookingRequest.model_fields)
_FORMISH = st.dictionaries(st.sampled_from(_FORM_KEYS) | st.text(max_size=8), _JSON, max_size=8)


@FUZZ
@given(st.one_of(st.text(max_size=200), _JSON.map(json.dumps), _FORMISH.map(json.dumps)))
def test_any_booking_body(fuzz_api: tuple[Api, str], body: str) -> None:
    api, _ = fuzz_api
    response = api.call("POST", BOOK_PATH, body=body)
    payload = _assert_json_answer(response, {201, 400})
    if response["statusCode"] == 400:
        assert payload["error"] in {"invalid", "invalid_body"}


@FUZZ
@given(st.text(max_size=60))
def test_any_authorization_header(fuzz_api: tuple[Api, str], value: str) -> None:
    api, _ = fuzz_api
    response = api.call("GET", JOBS_PATH, headers={"authorization": value})
    _assert_json_answer(response, {401})


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["rawPath", "body", "headers", "requestContext", "isBase64Encoded"])
        | st.text(max_size=10),
        _JSON,
        max_size=6,
    ),
    st.sampled_from(["/api/book", "/api/jobs", "/api/track/" + "A" * 30, "/x", ""]),
    st.sampled_from(["GET", "POST", "HEAD", "DELETE", "get", ""]),
)
def test_any_event_shape(fuzz_api: tuple[Api, str], event: dict, path: str, method: str) -> None:
    event = dict(event)
    if "rawPath" not in event:
        event["rawPath"] = path
        event["requestContext"] = {"http": {"method": method}}
    response = handler(event, None)
    assert response["statusCode"] != 500, response
    assert response["headers"]["content-type"].startswith("application/json")
    if method != "HEAD" or "rawPath" in event:
        json.loads(response["body"] or "{}")

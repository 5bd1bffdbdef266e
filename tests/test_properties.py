"""Properties of every refusal: it names the one field that is wrong, and it writes nothing.

For inputs generated with exactly one field made invalid, each boundary refuses naming that field
and no other: the job model, the release's params, the job store (which must not send a single
request to AWS) and the booking API (which must not write a single object). For generated valid
inputs each one accepts. The track API answers a malformed token 400 and a well-formed unknown one
404, and writes nothing either way.

``test_handlers_fuzz.py`` already proves no input makes the API answer 500; these tests are about
what a refusal says and what it leaves behind.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from handlers_support import Api, body_of, close_api, open_api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from localaws.request_counter import RequestCounter
from qdn import config
from qdn.jobs import booking
from qdn.jobs.model import (
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    NOTES_ALLOWED_CONTROL,
    NOTES_MAX_LENGTH,
    PRICE_MAX,
    SHORT_TEXT_MAX_LENGTH,
    STREET_MAX_LENGTH,
    STREET_MIN_LENGTH,
    TOKEN_PATTERN,
    JobStatus,
    NewJob,
    describe_validation_error,
)
from qdn.jobs.store import InvalidJobInput, JobStore
from qdn.release_params import JOB_PREFIX, ReleaseParams, ReleaseParamsError
from qdn_api.app import BOOK_PATH
from qdn_api.track import NOT_FOUND_MESSAGE

# 100 examples per property: enough to reach every kind of bad value of every field several times
# (the strategies below pick a field, then a kind), while the whole file stays well under a minute
# with the API properties' round trips to moto. No deadline: a moto round trip varies.
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# The pure-Python properties are cheap; more examples cover the field/kind pairs more evenly.
PURE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def named_fields(message: str) -> set[str]:
    """The field paths a refusal names: each problem line reads ``<path>: <why>``."""
    return set(re.findall(r"^\s*([A-Za-z_][\w.\[\]]*): ", message, re.M))


# --- values ---------------------------------------------------------------------------------------

# Printable text: everything but controls (Cc) and lone surrogates (Cs, not encodable in UTF-8).
_PRINTABLE = st.characters(exclude_categories=("Cc", "Cs"))
# Characters no one strips: letters and digits, for values whose length must survive stripping.
_SOLID = st.characters(categories=("L", "N"))
_WORD = st.text(_SOLID, min_size=1, max_size=12)
_CONTROL = st.characters(categories=("Cc",))
_NOTES_CONTROL = st.characters(categories=("Cc",), exclude_characters=NOTES_ALLOWED_CONTROL)
# Never coerced to a string, a number, a date or a status.
_WRONG_TYPE = st.lists(st.integers(), max_size=2) | st.dictionaries(
    st.text(max_size=3), st.integers(), max_size=2
)


def _text(
    min_size: int, max_size: int, alphabet: st.SearchStrategy[str] = _PRINTABLE
) -> st.SearchStrategy[str]:
    """Text of ``min_size``-``max_size`` characters once stripped (the model strips first)."""
    return st.text(alphabet, min_size=min_size, max_size=max_size).filter(
        lambda text: len(text.strip()) >= min_size
    )


def _too_long(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_SOLID, min_size=max_size + 1, max_size=max_size + 20)


def _with_control(control: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # Inside a word, where stripping cannot remove it (some controls are whitespace: \t, \x85).
    return st.builds(lambda left, ch, right: left + ch + right, _WORD, control, _WORD)


# --- the job model --------------------------------------------------------------------------------

_OPEN_STATUSES = [status.value for status in JobStatus if not status.is_terminal]
_DATE = st.dates(date(2000, 1, 1), date(2100, 12, 31))
_PRICE_DECIMAL = st.decimals(min_value=0, max_value=PRICE_MAX, places=2)
_VALID_JOB_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "customer_name": _text(1, NAME_MAX_LENGTH),
    # The model's pattern allows a "+" and 7-25 of digits and ( ) . - space, 25 characters in all;
    # digits at both ends so stripping takes nothing away.
    "customer_phone": st.from_regex(r"\+?[0-9][0-9 ().-]{5,22}[0-9]", fullmatch=True),
    "customer_email": st.from_regex(
        r"[a-z0-9._+-]{1,30}@[a-z0-9-]{1,20}\.[a-z]{2,8}", fullmatch=True
    ),
    "location": _text(STREET_MIN_LENGTH, STREET_MAX_LENGTH),
    "city": _text(1, SHORT_TEXT_MAX_LENGTH),
    "postal_code": st.from_regex(r"[A-Za-z0-9 -]{3,10}", fullmatch=True),
    "service_date": _DATE | _DATE.map(date.isoformat),
    "price": _PRICE_DECIMAL | _PRICE_DECIMAL.map(str) | st.integers(0, int(PRICE_MAX)),
    "currency": st.from_regex(r"[A-Z]{3}", fullmatch=True),
    "status": st.sampled_from(_OPEN_STATUSES),
    "notes": st.text(_PRINTABLE | st.just("\n"), max_size=NOTES_MAX_LENGTH),
}
_JOB_REQUIRED = ("customer_name", "location", "service_date", "price")
_JOB_DEFAULTED = ("currency", "status")  # optional, but never None
VALID_JOB = st.fixed_dictionaries(
    {name: _VALID_JOB_FIELDS[name] for name in _JOB_REQUIRED},
    optional={
        name: strategy if name in _JOB_DEFAULTED else strategy | st.none()
        for name, strategy in _VALID_JOB_FIELDS.items()
        if name not in _JOB_REQUIRED
    },
)

_NOT_A_STATUS = st.text(max_size=15).filter(lambda text: text not in {s.value for s in JobStatus})
_BAD_JOB_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "customer_name": st.one_of(
        _WRONG_TYPE,
        _too_long(NAME_MAX_LENGTH),
        st.sampled_from(["", " ", " \t "]),
        _with_control(_CONTROL),
    ),
    "customer_phone": st.one_of(
        _WRONG_TYPE,
        st.from_regex(r"[A-Za-z]{7,12}", fullmatch=True),
        st.from_regex(r"[0-9]{1,6}", fullmatch=True),  # fewer than 7
        st.from_regex(r"[0-9]{26,30}", fullmatch=True),  # more than 25
    ),
    "customer_email": st.one_of(
        _WRONG_TYPE,
        st.from_regex(r"[a-z]{1,20}", fullmatch=True),  # no "@"
        st.from_regex(r"[a-z]{1,5}@[a-z]{1,5}", fullmatch=True),  # no dot in the domain
        st.integers(EMAIL_MAX_LENGTH, EMAIL_MAX_LENGTH + 20).map(lambda n: "a" * n + "@b.co"),
    ),
    "location": st.one_of(
        _WRONG_TYPE,
        st.text(_SOLID, max_size=STREET_MIN_LENGTH - 1),
        _too_long(STREET_MAX_LENGTH),
        _with_control(_CONTROL),
    ),
    "city": st.one_of(
        _WRONG_TYPE, st.just(" "), _too_long(SHORT_TEXT_MAX_LENGTH), _with_control(_CONTROL)
    ),
    "postal_code": st.one_of(
        _WRONG_TYPE,
        st.from_regex(r"[A-Za-z0-9]{11,15}", fullmatch=True),
        st.from_regex(r"[#!@_/]{3,5}", fullmatch=True),
    ),
    "service_date": st.one_of(
        _WRONG_TYPE,
        st.sampled_from(["2025-02-30", "2025-13-01", "06/10/2025", "next week", "2025-6-1"]),
        st.from_regex(r"[0-9]{4}-1[3-9]-[0-2][0-9]", fullmatch=True),
    ),
    "price": st.one_of(
        _WRONG_TYPE,
        st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False),
        # Fractions of a cent: a third decimal place that is not zero.
        st.integers(1, 10**8).filter(lambda n: n % 10).map(lambda n: Decimal(n).scaleb(-3)),
        st.decimals(min_value=PRICE_MAX + Decimal("0.01"), places=2, allow_infinity=False),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "six hundred"]),
    ),
    "currency": st.one_of(
        _WRONG_TYPE,
        st.from_regex(r"[a-z]{3}", fullmatch=True),
        st.from_regex(r"[A-Z]{1,2}|[A-Z]{4,6}", fullmatch=True),
        st.just("US$"),
    ),
    "status": st.one_of(_WRONG_TYPE, _NOT_A_STATUS, st.sampled_from(["completed", "cancelled"])),
    "notes": st.one_of(_WRONG_TYPE, _too_long(NOTES_MAX_LENGTH), _with_control(_NOTES_CONTROL)),
}
assert set(_BAD_JOB_FIELDS) == set(NewJob.model_fields)  # every field has its bad values
_UNKNOWN_JOB_FIELD = st.from_regex(r"[a-z_][a-z0-9_]{0,20}", fullmatch=True).filter(
    lambda name: name not in NewJob.model_fields
)
# (field, bad value): one field, then one of its kinds of bad value; or a field the job lacks.
ONE_BAD_JOB_FIELD = st.one_of(
    *(st.tuples(st.just(name), bad) for name, bad in _BAD_JOB_FIELDS.items()),
    st.tuples(_UNKNOWN_JOB_FIELD, st.text(max_size=5)),
)


@PURE
@given(data=VALID_JOB, bad=ONE_BAD_JOB_FIELD)
def test_a_job_with_one_bad_field_is_refused_naming_that_field(
    data: dict[str, Any], bad: tuple[str, Any]
) -> None:
    field, value = bad
    with pytest.raises(ValidationError) as caught:
        NewJob.model_validate({**data, field: value})
    assert named_fields(describe_validation_error(caught.value, "the job")) == {field}


@PURE
@given(VALID_JOB)
def test_a_valid_job_validates_and_round_trips_unchanged(data: dict[str, Any]) -> None:
    job = NewJob.model_validate(data)
    assert NewJob.model_validate(job.model_dump()) == job
    assert NewJob.model_validate(job.model_dump(mode="json")) == job
    assert NewJob.model_validate_json(job.model_dump_json()) == job


# --- the release's params -------------------------------------------------------------------------


def _param(value: Any) -> Any:
    # A params form, the CLI and the REST API all hand over JSON: dates and amounts as text.
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _release_params(job: dict[str, Any], **changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "build_id": "",
        "promote": True,
        "dry_run": False,
        "distributions": list(config.DISTRIBUTION_ALIASES),
    }
    params.update({JOB_PREFIX + name: _param(value) for name, value in job.items()})
    params.update(changes)
    return params


# The release fields of its own, beside the job's: each refused naming itself.
_BAD_RELEASE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "build_id": st.from_regex(r"build-[0-9a-f]{1,11}|[A-Za-z]{1,20}", fullmatch=True),
    "promote": st.sampled_from(["yes", "true", 1, 0]),
    "dry_run": st.sampled_from(["no", "false", 1, 0]),
    "distributions": st.lists(
        st.text(max_size=20).filter(lambda d: d not in config.DISTRIBUTION_ALIASES), min_size=1
    ),
}
# A param left empty means "not given" (the form sends every field), so "" and None are not bad
# values here; the job's other fields say a job is wanted, so its missing fields are named.
ONE_BAD_PARAM = st.one_of(
    ONE_BAD_JOB_FIELD.filter(lambda bad: bad[1] not in (None, "")).map(
        lambda bad: (JOB_PREFIX + bad[0], _param(bad[1]))
    ),
    *(st.tuples(st.just(name), bad) for name, bad in _BAD_RELEASE_FIELDS.items()),
)


@PURE
@given(job=VALID_JOB, bad=ONE_BAD_PARAM)
def test_release_params_with_one_bad_field_are_refused_naming_it(
    job: dict[str, Any], bad: tuple[str, Any]
) -> None:
    field, value = bad
    with pytest.raises(ReleaseParamsError) as caught:
        ReleaseParams.from_params(_release_params(job, **{field: value}))
    assert named_fields(str(caught.value)) == {field}


@PURE
@given(VALID_JOB)
def test_valid_release_params_pass_with_the_job(job: dict[str, Any]) -> None:
    params = ReleaseParams.from_params(_release_params(job))
    expected = {name: value for name, value in job.items() if value not in (None, "")}
    assert params.job == NewJob.model_validate(expected)


# --- the job store --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def counted_store(moto_url: str) -> tuple[JobStore, RequestCounter]:
    """A store on a bucket of its own, with every request its clients send counted."""
    s3 = boto3.client("s3", endpoint_url=moto_url)
    logs = boto3.client("logs", endpoint_url=moto_url)
    bucket = f"qdn-props-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    counter = RequestCounter(s3, logs)
    s3.head_bucket(Bucket=bucket)
    assert counter.take() == {"HeadBucket": 1}  # the counter sees this client's requests
    return JobStore(s3, logs, bucket=bucket), counter


@PROPERTY
@given(data=VALID_JOB, bad=ONE_BAD_JOB_FIELD)
def test_the_store_refuses_a_bad_job_naming_the_field_without_a_request(
    counted_store: tuple[JobStore, RequestCounter], data: dict[str, Any], bad: tuple[str, Any]
) -> None:
    store, counter = counted_store
    field, value = bad
    counter.reset()
    with pytest.raises(InvalidJobInput) as caught:
        store.create({**data, field: value}, idempotency_key="qdn_release/manual__prop/upload")
    assert named_fields(str(caught.value)) == {field}
    assert counter.total == 0


# --- the API, through its Lambda handler ----------------------------------------------------------


@pytest.fixture(scope="module")
def module_api(moto_url: str) -> Iterator[Api]:
    """The handler on a bucket of its own, for this module's API properties. The track tests come
    first, so they list an empty bucket rather than every booking the booking tests stored."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield open_api(moto_url, monkeypatch)
        close_api()


def _objects(api: Api) -> dict[str, str]:
    """Every object in the bucket, by key, with its ETag: what a refusal must leave as it was."""
    paginator = api.s3.get_paginator("list_objects_v2")
    return {
        item["Key"]: item["ETag"]
        for page in paginator.paginate(Bucket=api.bucket)
        for item in page.get("Contents", [])
    }


def _days_ahead(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


# --- the track API --------------------------------------------------------------------------------

_TOKEN = re.compile(TOKEN_PATTERN)
_TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
MALFORMED_TOKEN = st.one_of(
    st.text(max_size=80),
    st.text(st.sampled_from(_TOKEN_ALPHABET), max_size=21),  # too short
    st.text(st.sampled_from(_TOKEN_ALPHABET), min_size=65, max_size=90),  # too long
    st.builds(  # the right length with one character from outside the alphabet
        lambda left, ch, right: left + ch + right,
        st.text(st.sampled_from(_TOKEN_ALPHABET), min_size=11, max_size=11),
        st.characters(exclude_characters=_TOKEN_ALPHABET),
        st.text(st.sampled_from(_TOKEN_ALPHABET), min_size=11, max_size=30),
    ),
).filter(lambda token: not _TOKEN.fullmatch(token))
WELL_FORMED_TOKEN = st.text(st.sampled_from(_TOKEN_ALPHABET), min_size=22, max_size=64)


@PROPERTY
@given(MALFORMED_TOKEN)
def test_a_malformed_token_is_400_and_reads_and_writes_nothing(module_api: Api, token: str) -> None:
    before = _objects(module_api)
    module_api.s3_requests()
    response = module_api.call("GET", config.TRACK_API_PREFIX + token)
    assert response["statusCode"] == 400
    assert body_of(response)["error"] == "malformed_token"
    assert module_api.s3_requests() == []  # refused on its shape, before any lookup
    assert _objects(module_api) == before


@PROPERTY
@given(WELL_FORMED_TOKEN)
def test_an_unknown_well_formed_token_is_404_and_writes_nothing(
    module_api: Api, token: str
) -> None:
    before = _objects(module_api)
    module_api.s3_requests()
    response = module_api.call("GET", config.TRACK_API_PREFIX + token)
    assert response["statusCode"] == 404
    assert body_of(response) == {"error": "not_found", "message": NOT_FOUND_MESSAGE}
    writes = [
        op for op, _ in module_api.s3_requests() if not op.startswith(("Get", "Head", "List"))
    ]
    assert writes == []
    assert _objects(module_api) == before


# --- the booking API ------------------------------------------------------------------------------

_PHONE_DIGITS = st.text(
    st.sampled_from("0123456789"),
    min_size=booking.PHONE_DIGITS_MIN,
    max_size=booking.PHONE_DIGITS_MAX,
)
_VALID_BOOKING_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": _text(1, booking.NAME_MAX),
    # Digits as people type them: maybe a "+", maybe separators the form ignores between them.
    "phone": st.builds(
        lambda plus, digits, separator: plus + separator.join(digits),
        st.sampled_from(["", "+"]),
        _PHONE_DIGITS,
        st.sampled_from(["", " ", "-", "."]),
    ),
    "email": st.none()
    | st.just("")
    | st.from_regex(r"[a-z0-9._+-]{1,30}@[a-z0-9-]{1,20}\.[a-z]{2,8}", fullmatch=True),
    "address": _text(booking.ADDRESS_MIN, booking.ADDRESS_MAX),
    # Not today or the last day: the handler's "today" may turn over while an example runs.
    "service_date": st.integers(1, booking.BOOKING_HORIZON_DAYS - 1).map(_days_ahead),
    "dumpster_size": st.sampled_from(booking.DUMPSTER_SIZES),
    "notes": st.none() | st.text(_PRINTABLE | st.just("\n"), max_size=booking.NOTES_MAX),
}
_BOOKING_REQUIRED = ("name", "phone", "address", "service_date", "dumpster_size")
VALID_BOOKING = st.fixed_dictionaries(
    {name: _VALID_BOOKING_FIELDS[name] for name in _BOOKING_REQUIRED},
    optional={name: _VALID_BOOKING_FIELDS[name] for name in ("email", "notes")},
)

_MISSING = object()  # a bad "value" that removes the field from the body
_BAD_BOOKING_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": st.one_of(
        st.just(_MISSING),
        st.none() | st.integers() | _WRONG_TYPE,
        st.sampled_from(["", " ", " \t "]),
        _too_long(booking.NAME_MAX),
        _with_control(_CONTROL),
    ),
    "phone": st.one_of(
        st.just(_MISSING),
        st.none() | st.integers() | _WRONG_TYPE,
        st.text(st.sampled_from("0123456789"), max_size=booking.PHONE_DIGITS_MIN - 1),
        st.text(
            st.sampled_from("0123456789"),
            min_size=booking.PHONE_DIGITS_MAX + 1,
            max_size=booking.PHONE_DIGITS_MAX + 10,
        ),
        st.from_regex(r"[0-9]{3}[A-Za-z]{4,8}", fullmatch=True),
        st.just("++15550100199"),
    ),
    "email": st.one_of(
        st.integers() | _WRONG_TYPE,
        st.from_regex(r"[a-z]{1,20}", fullmatch=True),
        st.from_regex(r"[a-z]{1,5}@[a-z]{1,5}", fullmatch=True),
        st.integers(booking.EMAIL_MAX, booking.EMAIL_MAX + 20).map(lambda n: "a" * n + "@b.co"),
        _with_control(_CONTROL).map(lambda text: text + "@example.com"),
    ),
    "address": st.one_of(
        st.just(_MISSING),
        st.none() | st.integers() | _WRONG_TYPE,
        st.text(_SOLID, max_size=booking.ADDRESS_MIN - 1),
        _too_long(booking.ADDRESS_MAX),
        _with_control(_CONTROL).map(lambda text: "12 " + text),
    ),
    "service_date": st.one_of(
        st.just(_MISSING),
        st.none() | st.integers() | _WRONG_TYPE,
        st.integers(1, 5000).map(lambda days: _days_ahead(-days)),
        # Two days past the horizon, for the same reason the valid dates keep off its edges.
        st.integers(booking.BOOKING_HORIZON_DAYS + 2, 5000).map(_days_ahead),
        st.sampled_from(["2025-02-30", "06/10/2025", "tomorrow", "2025-6-1"]),
    ),
    "dumpster_size": st.one_of(
        st.just(_MISSING),
        st.none() | _WRONG_TYPE,
        st.sampled_from([int(size) for size in booking.DUMPSTER_SIZES]),  # a number, not text
        st.text(max_size=4).filter(lambda size: size not in booking.DUMPSTER_SIZES),
    ),
    "notes": st.one_of(
        st.integers() | _WRONG_TYPE,
        _too_long(booking.NOTES_MAX),
        _with_control(_NOTES_CONTROL),
    ),
}
assert set(_BAD_BOOKING_FIELDS) == set(booking.BOOKING_MESSAGES)  # every field has bad values
_UNKNOWN_BOOKING_FIELD = st.text(min_size=1, max_size=20).filter(
    lambda name: name not in booking.BOOKING_MESSAGES
)
ONE_BAD_BOOKING_FIELD = st.one_of(
    *(
        st.tuples(st.just(name), bad, st.just(booking.BOOKING_MESSAGES[name]))
        for name, bad in _BAD_BOOKING_FIELDS.items()
    ),
    st.tuples(_UNKNOWN_BOOKING_FIELD, st.text(max_size=5), st.just(booking.UNKNOWN_FIELD_MESSAGE)),
)


def _post(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    return api.call("POST", BOOK_PATH, body=json.dumps(body))


@PROPERTY
@given(body=VALID_BOOKING, bad=ONE_BAD_BOOKING_FIELD)
def test_a_booking_with_one_bad_field_is_refused_naming_it_and_writes_nothing(
    module_api: Api, body: dict[str, Any], bad: tuple[str, Any, str]
) -> None:
    field, value, message = bad
    body = {name: v for name, v in {**body, field: value}.items() if v is not _MISSING}
    before = _objects(module_api)
    module_api.s3_requests()
    response = _post(module_api, body)
    assert response["statusCode"] == 400
    assert body_of(response) == {"error": "invalid", "fields": {field: message}}
    assert module_api.s3_requests() == []
    assert _objects(module_api) == before


@PROPERTY
@given(VALID_BOOKING)
def test_a_valid_booking_is_stored_as_exactly_one_object(
    module_api: Api, body: dict[str, Any]
) -> None:
    before = _objects(module_api)
    response = _post(module_api, body)
    assert response["statusCode"] == 201, body_of(response)
    after = _objects(module_api)
    key = f"{config.BOOKINGS_PREFIX}{body_of(response)['booking_id']}.json"
    assert set(after) - set(before) == {key}
    assert {k: after[k] for k in before} == before  # and nothing else changed

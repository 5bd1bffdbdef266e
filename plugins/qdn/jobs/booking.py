"""The booking form: what a customer may submit, and the record each submission becomes.

The messages are the ones the booking page shows next to each field, word for word, so a customer
reads the same sentence whether the browser or the API caught the mistake. A field's message is
fixed whatever went wrong with it (missing, wrong type, too long): the customer needs to know what
to enter, not how the parser failed.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

# The job's own limits (re-exported by qdn.jobs.model, which cannot be imported from here: it
# imports this module while it loads).
from qdn.jobs.fields import (
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    NAME_MAX_LENGTH,
    NOTES_ALLOWED_CONTROL,
    NOTES_MAX_LENGTH,
    STREET_MAX_LENGTH,
    control_character_problem,
)

DumpsterSize = Literal["10", "15", "20", "30"]  # cubic yards, the sizes the fleet has
DUMPSTER_SIZES: tuple[str, ...] = get_args(DumpsterSize)
# A booking becomes a job by hand, so where the form and the job agree the numbers are the job's.
NAME_MAX = NAME_MAX_LENGTH
NOTES_MAX = NOTES_MAX_LENGTH
EMAIL_MAX = EMAIL_MAX_LENGTH
# The address becomes the job's street line, so its ceiling is the street's. Its floor is the
# form's own and stricter than the street's (STREET_MIN_LENGTH, 3), never looser, so a booked
# address is always a valid street: a customer types a whole address, and 5 turns away a stray
# initial or house number while the shortest real one ("1 A St") passes; a dispatcher who knows
# the place may type a shorter street line.
ADDRESS_MIN, ADDRESS_MAX = 5, STREET_MAX_LENGTH
# The form counts the digits a dispatcher dials (punctuation removed), not the characters typed:
# 15 is E.164's maximum, 7 the shortest local number.
PHONE_DIGITS_MIN, PHONE_DIGITS_MAX = 7, 15
BOOKING_HORIZON_DAYS = 365  # the fleet is not scheduled further out than a year

BOOKING_MESSAGES: dict[str, str] = {
    "name": "Enter your name.",
    "phone": f"Enter a phone number with {PHONE_DIGITS_MIN} to {PHONE_DIGITS_MAX} digits.",
    "email": "Enter a valid email address, or leave it empty.",
    "address": f"Enter the delivery address ({ADDRESS_MIN} to {ADDRESS_MAX} characters).",
    "service_date": "Choose a service date from today up to a year ahead.",
    "dumpster_size": "Choose a dumpster size.",
    "notes": f"Keep notes under {NOTES_MAX} characters.",
}
UNKNOWN_FIELD_MESSAGE = "This field is not part of the booking form."

_PHONE_PUNCTUATION = re.compile(r"[\s.()-]")
_EMAIL = re.compile(EMAIL_PATTERN)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Base32 without padding: booking ids go into S3 keys and e-mails, so no "/" or "+".
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ID_LENGTH = 16  # 80 bits: ids are minted without coordination, collisions must not happen
BOOKING_ID_PATTERN = rf"^BK-[{_ID_ALPHABET}]{{{_ID_LENGTH}}}$"


def _fail(field: str) -> ValueError:
    return ValueError(BOOKING_MESSAGES[field])


def _printable(text: str, field: str, allowed: str = "") -> str:
    """``text`` if it holds no control character (the job's rule, :mod:`qdn.jobs.fields`), else
    the field's fixed message: the record becomes a job by hand, and a job refuses them."""
    if control_character_problem(text, allowed):
        raise _fail(field)
    return text


class _BookingFields(BaseModel):
    """The form's fields, in the form's order: what a customer submits and a booking stores."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    phone: str
    email: str | None = None
    address: str
    service_date: date
    dumpster_size: DumpsterSize
    notes: str | None = None


class BookingRequest(_BookingFields):
    """A booking as submitted. Validate with ``context={"today": date}`` to pin "today" (tests);
    without it, today is the current UTC date."""

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= NAME_MAX:
            raise _fail("name")
        return _printable(value.strip(), "name")

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise _fail("phone")
        compact = _PHONE_PUNCTUATION.sub("", value.strip())
        plus = compact.startswith("+")
        digits = compact[1:] if plus else compact
        if not (digits.isascii() and digits.isdigit()):
            raise _fail("phone")
        if not PHONE_DIGITS_MIN <= len(digits) <= PHONE_DIGITS_MAX:
            raise _fail("phone")
        return ("+" if plus else "") + digits

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise _fail("email")
        value = value.strip()
        if not value:
            return None
        if len(value) > EMAIL_MAX or not _EMAIL.match(value):
            raise _fail("email")
        return _printable(value, "email")

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, value: Any) -> str:
        if not isinstance(value, str) or not ADDRESS_MIN <= len(value.strip()) <= ADDRESS_MAX:
            raise _fail("address")
        return _printable(value.strip(), "address")

    @field_validator("service_date", mode="before")
    @classmethod
    def _service_date(cls, value: Any, info: ValidationInfo) -> date:
        # Only the form's own YYYY-MM-DD text: pydantic would also take a number as a timestamp.
        if not isinstance(value, str) or not _ISO_DATE.match(value):
            raise _fail("service_date")
        try:
            chosen = date.fromisoformat(value)
        except ValueError:
            raise _fail("service_date") from None
        today = (info.context or {}).get("today") or datetime.now(UTC).date()
        if not today <= chosen <= today + timedelta(days=BOOKING_HORIZON_DAYS):
            raise _fail("service_date")
        return chosen

    @field_validator("dumpster_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> str:
        if value not in DUMPSTER_SIZES or not isinstance(value, str):
            raise _fail("dumpster_size")
        return value

    @field_validator("notes", mode="before")
    @classmethod
    def _notes(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or len(value.strip()) > NOTES_MAX:
            raise _fail("notes")
        return _printable(value.strip(), "notes", NOTES_ALLOWED_CONTROL) or None


def booking_field_errors(exc: ValidationError) -> dict[str, str]:
    """``{field: message}`` for the booking page: the fixed message of each field that failed."""
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in BOOKING_MESSAGES:
            fields.setdefault(field, BOOKING_MESSAGES[field])
        elif error["type"] == "extra_forbidden":
            # Cap the name: it is the client's text and goes back into the response.
            fields.setdefault(field[:64], UNKNOWN_FIELD_MESSAGE)
    return fields


def new_booking_id() -> str:
    return "BK-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


class Booking(_BookingFields):
    """A booking as stored in ``data/bookings/<id>.json``: the request plus its id and when it
    came in. The form's rules are not run again: the request already passed them, and a stored
    booking's date may lie in the past by the time someone reads it.

    Dispatch turns a booking into a job by hand (price and date confirmed on the phone), so the
    booking never touches the job records.
    """

    schema_version: Literal[1] = 1
    id: str
    received_at: datetime

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not re.match(BOOKING_ID_PATTERN, value):
            raise ValueError(f"must look like BK- and {_ID_LENGTH} base32 characters")
        return value

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must include a timezone (UTC)")
        return value.astimezone(UTC)

    @classmethod
    def create(
        cls, request: BookingRequest, *, now: datetime, booking_id: str | None = None
    ) -> Booking:
        return cls(
            id=booking_id or new_booking_id(),
            received_at=now,
            **request.model_dump(),
        )

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(indent=2).encode("utf-8") + b"\n"

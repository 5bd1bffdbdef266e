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

BOOKING_MESSAGES: dict[str, str] = {
    "name": "Enter your name.",
    "phone": "Enter a phone number with 7 to 15 digits.",
    "email": "Enter a valid email address, or leave it empty.",
    "address": "Enter the delivery address (5 to 200 characters).",
    "service_date": "Choose a service date from today up to a year ahead.",
    "dumpster_size": "Choose a dumpster size.",
    "notes": "Keep notes under 500 characters.",
}
UNKNOWN_FIELD_MESSAGE = "This field is not part of the booking form."

DumpsterSize = Literal["10", "15", "20", "30"]  # cubic yards, the sizes the fleet has
DUMPSTER_SIZES: tuple[str, ...] = get_args(DumpsterSize)
NAME_MAX = 100
ADDRESS_MIN, ADDRESS_MAX = 5, 200  # 5: the shortest real street line ("1 A St")
NOTES_MAX = 500
EMAIL_MAX = 254  # RFC 5321's limit on a forward path
PHONE_DIGITS_MIN, PHONE_DIGITS_MAX = 7, 15  # 15: E.164's maximum; 7: the shortest local number
BOOKING_HORIZON_DAYS = 365  # the fleet is not scheduled further out than a year

_PHONE_PUNCTUATION = re.compile(r"[\s.()-]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Base32 without padding: booking ids go into S3 keys and e-mails, so no "/" or "+".
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ID_LENGTH = 16  # 80 bits: ids are minted without coordination, collisions must not happen
BOOKING_ID_PATTERN = rf"^BK-[{_ID_ALPHABET}]{{{_ID_LENGTH}}}$"


def _fail(field: str) -> ValueError:
    return ValueError(BOOKING_MESSAGES[field])


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
        return value.strip()

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
        return value

    @field_validator("address", mode="before")
    @classmethod
    def _address(cls, value: Any) -> str:
        if not isinstance(value, str) or not ADDRESS_MIN <= len(value.strip()) <= ADDRESS_MAX:
            raise _fail("address")
        return value.strip()

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
        return value.strip() or None


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
    booking never touches ``jobs.json``.
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

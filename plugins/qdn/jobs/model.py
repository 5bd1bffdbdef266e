"""Job records: what a customer's dumpster job is, how it may change, and what the public may see.

One model serves the release DAG (which adds jobs), the track API (which reveals one job to the
holder of its token) and the nightly verification (which proves every record still validates).
Everything is refused loudly at the boundary, with the field path and the reason, because a
half-valid record is exactly how a customer ends up with "Job not found".

The booking form's request and record live in :mod:`qdn.jobs.booking` (not imported here: the
track API loads this module on every cold start and has no use for them).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "STATUS_LABELS",
    "TERMINAL_STATUSES",
    "Customer",
    "InvalidTransitionError",
    "Job",
    "JobStatus",
    "Location",
    "NewJob",
    "StatusChange",
    "describe_validation_error",
    "iso_utc",
    "job_id_for_key",
    "new_job_id",
    "new_token",
    "redact_token",
]


class JobStatus(StrEnum):
    """Where a job is in its life; the order of the members is the order of the work.

    A ``str`` (``StrEnum``): it compares equal to, and serializes as, its value.
    """

    booked = "booked"
    scheduled = "scheduled"
    delivered = "delivered"
    ready_for_pickup = "ready_for_pickup"
    picked_up = "picked_up"
    completed = "completed"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


STATUS_LABELS: dict[JobStatus, str] = {
    JobStatus.booked: "Booked",
    JobStatus.scheduled: "Scheduled",
    JobStatus.delivered: "Delivered",
    JobStatus.ready_for_pickup: "Ready for pickup",
    JobStatus.picked_up: "Picked up",
    JobStatus.completed: "Completed",
    JobStatus.cancelled: "Cancelled",
}

TERMINAL_STATUSES = frozenset({JobStatus.completed, JobStatus.cancelled})

_CHAIN: tuple[JobStatus, ...] = (
    JobStatus.booked,
    JobStatus.scheduled,
    JobStatus.delivered,
    JobStatus.ready_for_pickup,
    JobStatus.picked_up,
    JobStatus.completed,
)


def _allowed_transitions() -> dict[JobStatus, frozenset[JobStatus]]:
    # Forward along the chain, skipping steps allowed (a dispatcher who schedules and delivers the
    # same morning records "delivered" straight away); cancelling is possible until the job ends;
    # nothing ever goes back, and the two terminal states go nowhere.
    allowed: dict[JobStatus, frozenset[JobStatus]] = {}
    for position, status in enumerate(_CHAIN):
        later = set(_CHAIN[position + 1 :])
        if not status.is_terminal:
            later.add(JobStatus.cancelled)
        allowed[status] = frozenset(later)
    allowed[JobStatus.completed] = frozenset()
    allowed[JobStatus.cancelled] = frozenset()
    return allowed


ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = _allowed_transitions()


class InvalidTransitionError(ValueError):
    """A status change the job's life does not allow."""


# --- identifiers and tokens -------------------------------------------------------------------

# Crockford would drop look-alikes, but RFC 4648 base32 (A-Z, 2-7) is what every tool decodes and
# it already avoids 0/1/8/9; ten characters are 50 bits, plenty for a human-readable reference
# that is never a secret (the token is).
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ID_LENGTH = 10
JOB_ID_PATTERN = rf"^QDN-[{_ID_ALPHABET}]{{{_ID_LENGTH}}}$"

# 24 random bytes are 192 bits and encode to 32 URL-safe characters. Accepted tokens are 22-64
# characters of the URL-safe alphabet: 22 is the shortest encoding of 128 bits, the floor the
# security model sets; 64 leaves room for a longer scheme without a migration.
TOKEN_BYTES = 24
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{22,64}$"  # noqa: S105 (a format, not a secret)


def new_job_id() -> str:
    """A fresh public reference such as ``QDN-7K3Q9XW2MA``."""
    return "QDN-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def job_id_for_key(idempotency_key: str, draw: int = 0) -> str:
    """The public reference of the job an idempotency key creates: the same on every retry, so
    the record's own create-only write is what makes a job exist once per key.

    A reference is never a secret (the token is), so deriving it from a run's key reveals
    nothing. ``draw`` picks the next candidate in the rare case another key's job holds one
    (50 bits each: one in 2**50 per existing job).
    """
    digest = hashlib.sha256(f"qdn-job-id\0{idempotency_key}\0{draw}".encode()).digest()
    text = base64.b32encode(digest).decode("ascii")
    return "QDN-" + text[:_ID_LENGTH]


def new_token() -> str:
    """A fresh tracking token: 192 bits from ``secrets``."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def redact_token(token: str) -> str:
    """What a log may show of a token: enough to tell two apart, far too little to use one."""
    return token[:4] + "…"


# --- field types ----------------------------------------------------------------------------------

# The limits live in qdn.jobs.fields, below this module and the booking form (which this module
# imports above, so it cannot import from here); they are re-exported as this module's names.
from qdn.jobs.fields import (  # noqa: E402 (kept inside this section on purpose)
    CURRENCY_PATTERN,
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    NAME_MAX_LENGTH,
    NOTES_ALLOWED_CONTROL,
    NOTES_MAX_LENGTH,
    PHONE_MAX_LENGTH,
    PHONE_PATTERN,
    PRICE_MAX,
    SHORT_TEXT_MAX_LENGTH,
    STREET_MAX_LENGTH,
    STREET_MIN_LENGTH,
    control_character_problem,
)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a timezone (UTC), e.g. 2025-06-01T09:30:00Z")
    return value.astimezone(UTC)


def _two_places(value: Decimal) -> Decimal:
    # Stored and shown as cents: 600 becomes 600.00 so every reader sees the same text.
    return value.quantize(Decimal("0.01"))


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
# Not negative, no fractions of a cent, not above PRICE_MAX.
Price = Annotated[
    Decimal,
    Field(ge=0, le=PRICE_MAX, decimal_places=2, allow_inf_nan=False),
    AfterValidator(_two_places),
]
Currency = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN)]


def _control_characters(allowed: str = "") -> AfterValidator:
    """:func:`control_character_problem` as a field validator: refuse control characters but
    those ``allowed``, with the reason as the field's error."""

    def check(text: str) -> str:
        problem = control_character_problem(text, allowed)
        if problem:
            raise ValueError(problem)
        return text

    return AfterValidator(check)


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_LENGTH),
    _control_characters(),
]
Street = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=STREET_MIN_LENGTH, max_length=STREET_MAX_LENGTH
    ),
    _control_characters(),
]
ShortText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=SHORT_TEXT_MAX_LENGTH),
    _control_characters(),
]
Notes = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=NOTES_MAX_LENGTH),
    _control_characters(NOTES_ALLOWED_CONTROL),
]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=PHONE_PATTERN, max_length=PHONE_MAX_LENGTH),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=EMAIL_PATTERN, max_length=EMAIL_MAX_LENGTH),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(_Strict):
    name: Name
    phone: Phone | None = None
    email: Email | None = None


class Location(_Strict):
    street: Street
    city: ShortText | None = None
    postal_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 -]{3,10}$")] | None = None


class StatusChange(_Strict):
    status: JobStatus
    at: UtcDatetime
    note: Notes | None = None


# --- the input a release run gives ----------------------------------------------------------------


class NewJob(_Strict):
    """A job as an operator or a release run asks for it: no id, token or times yet."""

    customer_name: Name
    customer_phone: Phone | None = None
    customer_email: Email | None = None
    location: Street  # the street line, e.g. "Soderblom Ave"
    city: ShortText | None = None
    postal_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9 -]{3,10}$")] | None = None
    service_date: date
    price: Price
    currency: Currency = "USD"
    status: JobStatus = JobStatus.booked
    notes: Notes | None = None

    @field_validator("status")
    @classmethod
    def _not_terminal(cls, status: JobStatus) -> JobStatus:
        if status.is_terminal:
            raise ValueError(f"a new job cannot start as {status.value}; use booked or later")
        return status


# --- the stored job -------------------------------------------------------------------------------


class Job(_Strict):
    """One job as its record ``data/jobs/<id>.json`` stores it. Immutable: a change makes a new
    Job."""

    id: Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)]
    token: Annotated[str, StringConstraints(pattern=TOKEN_PATTERN)] = Field(repr=False)
    customer: Customer
    location: Location
    service_date: date
    price: Price
    currency: Currency = "USD"
    status: JobStatus
    notes: Notes | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    history: list[StatusChange] = Field(min_length=1)
    # The release run's key: a retried upload finds the job it already wrote by this, instead of
    # minting a second job with a second token.
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=250)] | None = None

    @model_validator(mode="after")
    def _history_is_a_possible_life(self) -> Job:
        if self.updated_at < self.created_at:
            raise ValueError("updated_at is before created_at")
        first = self.history[0]
        if first.status.is_terminal:
            raise ValueError(f"history[0]: a job cannot start as {first.status.value}")
        for index in range(1, len(self.history)):
            before, after = self.history[index - 1], self.history[index]
            if after.status not in ALLOWED_TRANSITIONS[before.status]:
                raise ValueError(
                    f"history[{index}]: impossible transition {before.status.value} -> "
                    f"{after.status.value}; {_allowed_text(before.status)}"
                )
            if after.at < before.at:
                raise ValueError(f"history[{index}]: at is earlier than the change before it")
        if self.history[-1].status != self.status:
            raise ValueError(
                f"status is {self.status.value} but the last history entry is "
                f"{self.history[-1].status.value}"
            )
        return self

    @classmethod
    def create(
        cls,
        new: NewJob,
        *,
        now: datetime,
        idempotency_key: str | None,
        job_id: str | None = None,
    ) -> Job:
        """A new job with a fresh token, and a fresh id unless given; ``now`` must be aware."""
        now = _utc(now)
        return cls(
            id=job_id or new_job_id(),
            token=new_token(),
            customer=Customer(
                name=new.customer_name, phone=new.customer_phone, email=new.customer_email
            ),
            location=Location(street=new.location, city=new.city, postal_code=new.postal_code),
            service_date=new.service_date,
            price=new.price,
            currency=new.currency,
            status=new.status,
            notes=new.notes,
            created_at=now,
            updated_at=now,
            history=[StatusChange(status=new.status, at=now, note="created")],
            idempotency_key=idempotency_key,
        )

    def transition(self, to: JobStatus, *, at: datetime, note: str | None = None) -> Job:
        """The job moved on to ``to``; refused, naming from, to and what is allowed, if not."""
        to = JobStatus(to)
        at = _utc(at)
        if to not in ALLOWED_TRANSITIONS[self.status]:
            raise InvalidTransitionError(
                f"job {self.id} cannot go from {self.status.value} to {to.value}; "
                f"{_allowed_text(self.status)}"
            )
        if at < self.updated_at:
            raise InvalidTransitionError(
                f"job {self.id}: the change at {at.isoformat()} is earlier than its last change "
                f"at {self.updated_at.isoformat()}"
            )
        data = self.model_dump()
        data.update(
            status=to,
            updated_at=at,
            history=[*self.history, StatusChange(status=to, at=at, note=note)],
        )
        return Job.model_validate(data)

    def public_view(self) -> dict[str, Any]:
        """The only fields the track API reveals: no token, phone, email, price or notes."""
        return {
            "reference": self.id,
            "status": self.status.value,
            "status_label": self.status.label,
            "service_date": self.service_date.isoformat(),
            "location": self.location.street,
            "customer_name": self.customer.name,
            "history": [
                {"status": c.status.value, "label": c.status.label, "at": iso_utc(c.at)}
                for c in self.history
            ],
            "updated_at": iso_utc(self.updated_at),
        }

    def dashboard_view(self) -> dict[str, Any]:
        """One row of the dispatcher dashboard: operational fields, never the token."""
        return {
            "reference": self.id,
            "customer_name": self.customer.name,
            "location": self.location.street,
            "service_date": self.service_date.isoformat(),
            "status": self.status.value,
            "status_label": self.status.label,
            "price": str(self.price),
            "currency": self.currency,
        }


def _allowed_text(status: JobStatus) -> str:
    allowed = ALLOWED_TRANSITIONS[status]
    if not allowed:
        return f"{status.value} is final, no further change is allowed"
    names = ", ".join(s.value for s in (*_CHAIN, JobStatus.cancelled) if s in allowed)
    return f"from {status.value} it can go to: {names}"


def iso_utc(value: datetime) -> str:
    """A time as the API and the audit log show it: UTC, ISO 8601, ``Z`` for the zone."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def describe_validation_error(exc: ValidationError, what: str, *, limit: int = 10) -> str:
    """One line per problem, ``jobs[3].price: ...``; long lists are cut (a broken file can have
    thousands of identical errors and the first few say what is wrong)."""
    lines = []
    errors = exc.errors(include_url=False, include_input=False)
    for error in errors[:limit]:
        path = _path(error["loc"])
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        lines.append(f"{path}: {message}" if path else message)
    if len(errors) > limit:
        lines.append(f"... and {len(errors) - limit} more")
    return f"{what} is invalid:\n  " + "\n  ".join(lines)


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text

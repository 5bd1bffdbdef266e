"""``POST /api/book``: a booking request, stored as its own object; job records are never touched.

Each booking is written once with ``IfNoneMatch: *``: two requests can never overwrite each
other, even if an id repeated. Dispatch turns bookings into jobs after a phone call.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from qdn import config
from qdn.jobs.booking import Booking, BookingRequest, booking_field_errors, new_booking_id
from qdn.s3_errors import error_code, is_conflict
from qdn_api import settings
from qdn_api.payload import Request, json_response

log = logging.getLogger(__name__)

# A complete booking is under 2 KB of text (the field limits add up to about 1,100 characters,
# at most 4 bytes each in UTF-8 plus keys and quotes); 16 KB leaves room for any honest client
# and stops a large body before it is parsed.
MAX_BODY_BYTES = 16 * 1024

# A repeated 80-bit id is not going to happen; three tries only make a freak collision harmless.
MAX_ID_ATTEMPTS = 3

NO_CACHE = "no-store"
THANKS = "Thanks! We have your booking request and will call you to confirm the delivery."


def _bad_body(message: str) -> dict[str, Any]:
    return json_response(400, {"error": "invalid_body", "message": message}, cache=NO_CACHE)


def book(request: Request, *, now: datetime | None = None) -> dict[str, Any]:
    if request.body is None:
        return _bad_body("The request body could not be read; send the booking as JSON.")
    if request.body_size > MAX_BODY_BYTES:
        return _bad_body(f"The booking is too large (at most {MAX_BODY_BYTES} bytes).")
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):
        return _bad_body("The booking must be a JSON object.")
    if not isinstance(data, dict):
        return _bad_body("The booking must be a JSON object.")

    now = now or datetime.now(UTC)
    try:
        booking_request = BookingRequest.model_validate(data, context={"today": now.date()})
    except ValidationError as exc:
        return json_response(
            400, {"error": "invalid", "fields": booking_field_errors(exc)}, cache=NO_CACHE
        )

    for _ in range(MAX_ID_ATTEMPTS):
        booking = Booking.create(booking_request, now=now, booking_id=new_booking_id())
        stored = _store(booking)
        if stored is True:
            log.info("booking %s stored for %s", booking.id, booking.service_date.isoformat())
            return json_response(201, {"booking_id": booking.id, "message": THANKS}, cache=NO_CACHE)
        if stored is None:
            break
        log.warning("booking id %s already exists; drawing another", booking.id)
    return json_response(
        503,
        {
            "error": "unavailable",
            "message": "We could not save your booking just now; please try again or call us.",
        },
        cache=NO_CACHE,
    )


def _store(booking: Booking) -> bool | None:
    """True when written, False when the key already existed, None when S3 failed."""
    key = f"{config.BOOKINGS_PREFIX}{booking.id}.json"
    try:
        settings.s3_client().put_object(
            Bucket=settings.bucket(),
            Key=key,
            Body=booking.to_json_bytes(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    except ClientError as exc:
        if is_conflict(exc):
            return False
        log.error("cannot store booking %s: %s", booking.id, error_code(exc) or "?")
        return None
    except BotoCoreError as exc:
        log.error("cannot reach S3 to store booking %s: %s", booking.id, type(exc).__name__)
        return None
    return True

"""``GET /api/jobs``: the dispatcher's list of jobs, behind a bearer key, a page at a time.

Fifty jobs per page, newest first, optionally ``?status=<status>`` and/or ``?date=YYYY-MM-DD``
(service date); ``next`` in the answer is the ``after`` of the following page. A page costs one
listing and at most fifty record reads, whatever the size of the history.

The key is compared in constant time; without a configured key the dashboard is off rather than
open. Responses are never cached anywhere (``private, no-store``): a shared cache must not hold a
list of customers' names and addresses.
"""

from __future__ import annotations

import hmac
import logging
from datetime import date
from typing import Any

from qdn.headers import PRIVATE_CACHE_CONTROL as CACHE
from qdn.jobs.layout import ORDER_PATTERN
from qdn.jobs.model import JobStatus
from qdn_api import settings
from qdn_api.jobs_store import STORE, JobsUnavailable
from qdn_api.payload import Request, json_response

log = logging.getLogger(__name__)

# A key shorter than this is guessable; such a configuration turns the dashboard off (and says so
# in the log) instead of protecting customer data with it. 16 characters of a random key are
# ~96 bits.
MIN_KEY_LENGTH = 16


def dashboard(request: Request) -> dict[str, Any]:
    expected = settings.dashboard_key()
    if expected is None or len(expected) < MIN_KEY_LENGTH:
        if expected is not None:
            log.error("dashboard disabled: the key is shorter than %d characters", MIN_KEY_LENGTH)
        return json_response(
            503,
            {"error": "dashboard_disabled", "message": "The dispatcher dashboard is not enabled"},
            cache=CACHE,
        )
    if not _authorized(request.headers.get("authorization", ""), expected):
        return json_response(
            401,
            {"error": "unauthorized", "message": "A valid dispatcher key is required"},
            cache=CACHE,
            headers={"www-authenticate": 'Bearer realm="qdn-dashboard"'},
        )
    try:
        filters = _filters(request.query)
    except ValueError as exc:
        return json_response(400, {"error": "invalid_filter", "message": str(exc)}, cache=CACHE)
    try:
        page = STORE.page(**filters)
    except JobsUnavailable:
        return json_response(
            503,
            {"error": "unavailable", "message": "Job records are temporarily unavailable"},
            cache=CACHE,
        )
    rows = [job.dashboard_view() for job in page.jobs]
    return json_response(200, {"jobs": rows, "next": page.next}, cache=CACHE)


def _filters(query: dict[str, str]) -> dict[str, Any]:
    """``status``, ``date`` (YYYY-MM-DD) and ``after`` (the previous page's ``next``), checked."""
    unknown = sorted(set(query) - {"status", "date", "after"})
    if unknown:
        raise ValueError(f"Unknown filter {unknown[0][:32]!r}; use status, date and after")
    filters: dict[str, Any] = {}
    if query.get("status"):
        try:
            filters["status"] = JobStatus(query["status"])
        except ValueError:
            names = ", ".join(s.value for s in JobStatus)
            raise ValueError(f"status must be one of: {names}") from None
    if query.get("date"):
        try:
            filters["service_date"] = date.fromisoformat(query["date"])
        except ValueError:
            raise ValueError("date must be a service date as YYYY-MM-DD") from None
    if query.get("after"):
        if not ORDER_PATTERN.fullmatch(query["after"]):
            raise ValueError("after is not a page cursor this API gave out; start from page one")
        filters["after"] = query["after"]
    return filters


def _authorized(header: str, expected: str) -> bool:
    scheme, _, supplied = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        supplied = ""
    # compare_digest on bytes takes time independent of where the two first differ.
    return hmac.compare_digest(
        supplied.strip().encode("utf-8", errors="surrogatepass"), expected.encode("utf-8")
    )

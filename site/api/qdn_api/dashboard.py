"""``GET /api/jobs``: the dispatcher's list of jobs, behind a bearer key.

The key is compared in constant time; without a configured key the dashboard is off rather than
open. Responses are never cached anywhere (``private, no-store``): a shared cache must not hold a
list of customers' names and addresses.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from qdn.headers import PRIVATE_CACHE_CONTROL as CACHE
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
        document = STORE.document()
    except JobsUnavailable:
        return json_response(
            503,
            {"error": "unavailable", "message": "Job records are temporarily unavailable"},
            cache=CACHE,
        )
    rows = [
        job.dashboard_view() for job in sorted(document.jobs, key=lambda j: (j.service_date, j.id))
    ]
    return json_response(200, {"jobs": rows}, cache=CACHE)


def _authorized(header: str, expected: str) -> bool:
    scheme, _, supplied = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        supplied = ""
    # compare_digest on bytes takes time independent of where the two first differ.
    return hmac.compare_digest(
        supplied.strip().encode("utf-8", errors="surrogatepass"), expected.encode("utf-8")
    )

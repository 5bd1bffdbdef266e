"""``GET /api/track/<token>``: one job's public view, for the holder of its token only."""

from __future__ import annotations

import logging
import re
from typing import Any

from qdn import config
from qdn.jobs.model import TOKEN_PATTERN, redact_token
from qdn_api.jobs_store import STORE, JobsUnavailable
from qdn_api.payload import Request, json_response

log = logging.getLogger(__name__)

_TOKEN = re.compile(TOKEN_PATTERN)

# Cache lifetimes at the edge and in the browser:
# - found: a minute; status changes are not urgent to the second, and every release that changes
#   a job invalidates its track API path anyway;
# - not found: 10 s, CloudFront's own default for errors. Short, because a link can be opened
#   moments before its job is written (the old process's "Job not found" failure);
# - malformed: an hour; the token's shape never becomes valid later;
# - unavailable: never cached, so recovery is immediate.
CACHE_FOUND = "max-age=60"
CACHE_NOT_FOUND = "max-age=10"
CACHE_MALFORMED = "max-age=3600"
CACHE_UNAVAILABLE = "no-store"

NOT_FOUND_MESSAGE = "Job not found, or this tracking link is no longer valid"


def track(request: Request) -> dict[str, Any]:
    token = request.path[len(config.TRACK_API_PREFIX) :]
    if not _TOKEN.fullmatch(token):
        return json_response(
            400,
            {
                "error": "malformed_token",
                "message": "This tracking link is incomplete or mistyped; "
                "open the link from your message again",
            },
            cache=CACHE_MALFORMED,
        )
    try:
        job = STORE.find_by_token(token)
    except JobsUnavailable:
        return json_response(
            503,
            {
                "error": "unavailable",
                "message": "Tracking is temporarily unavailable; please try again in a minute",
            },
            cache=CACHE_UNAVAILABLE,
        )
    if job is None:
        log.info("track %s: not found", redact_token(token))
        return json_response(
            404, {"error": "not_found", "message": NOT_FOUND_MESSAGE}, cache=CACHE_NOT_FOUND
        )
    log.info("track %s: %s", redact_token(token), job.id)
    return json_response(200, {"job": job.public_view()}, cache=CACHE_FOUND)

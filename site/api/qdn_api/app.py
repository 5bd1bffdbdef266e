"""The Lambda entry point: route by method and path, and answer every input with JSON.

Routes (payload 2.0 ``rawPath``):

- ``GET|HEAD /api/track/<token>`` -> :func:`qdn_api.track.track`
- ``POST /api/book`` -> :func:`qdn_api.book.book`
- ``GET /api/jobs`` -> :func:`qdn_api.dashboard.dashboard`

Unknown paths get 404, known paths with another method 405 (with ``Allow``). Whatever happens
inside, the answer is JSON: an unexpected exception is logged by type (its text could hold
request data) and answered 500, which the test suite's fuzzing proves no input reaches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from qdn import config
from qdn_api.payload import Request, json_response, parse_event, without_body
from qdn_api.track import track

log = logging.getLogger(__name__)

Handler = Callable[[Request], dict[str, Any]]

BOOK_PATH = config.API_PATH_PREFIX + "book"
JOBS_PATH = config.API_PATH_PREFIX + "jobs"


def _book(request: Request) -> dict[str, Any]:
    # Imported on first use: the booking form's models cost a cold start that a customer
    # opening a tracking link (most requests) would otherwise pay for nothing.
    from qdn_api.book import book

    return book(request)


def _dashboard(request: Request) -> dict[str, Any]:
    from qdn_api.dashboard import dashboard

    return dashboard(request)


def _route(path: str) -> dict[str, Handler] | None:
    if path.startswith(config.TRACK_API_PREFIX):
        return {"GET": track, "HEAD": track}
    if path == BOOK_PATH:
        return {"POST": _book}
    if path == JOBS_PATH:
        return {"GET": _dashboard}
    return None


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    try:
        request = parse_event(event)
        methods = _route(request.path)
        if methods is None:
            return json_response(
                404, {"error": "not_found", "message": "No such API endpoint"}, cache="max-age=60"
            )
        chosen = methods.get(request.method)
        if chosen is None:
            return json_response(
                405,
                {"error": "method_not_allowed", "message": f"Use {', '.join(methods)}"},
                cache="no-store",
                headers={"allow": ", ".join(methods)},
            )
        response = chosen(request)
        return without_body(response) if request.method == "HEAD" else response
    except Exception as exc:
        log.error("unhandled %s in the API handler", type(exc).__name__)
        return json_response(
            500, {"error": "internal", "message": "Something went wrong"}, cache="no-store"
        )

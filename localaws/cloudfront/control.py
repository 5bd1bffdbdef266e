"""The control plane's HTTP face: CloudFront's API for boto3, plus two routes of our own.

Each request is matched to an operation by the model, parsed, run against the service and
serialized back, and logged as one line (operation, ids, outcome). Whatever goes wrong comes back
as an AWS error document: a bug of ours is ``InternalFailure`` with a 500, never a traceback in
the body.

``GET /_localaws/health`` answers ``{"ok": true}`` once the process serves; ``GET
/_localaws/edges`` lists each distribution's edge URL, which is how the launcher and tests find a
distribution created without a configured alias port.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from localaws.cloudfront import wire
from localaws.cloudfront.errors import CloudFrontError
from localaws.cloudfront.listeners import request_target
from localaws.cloudfront.service import CloudFrontService

log = logging.getLogger("localaws.cloudfront")

# Largest request body read: a DistributionConfig with every field is a few tens of KB; this
# stops a runaway client from filling memory.
MAX_BODY_BYTES = 1024 * 1024

_ID_PARAMS = ("Name", "Id", "DistributionId", "Stage")


def _describe_call(params: dict[str, Any], result: dict[str, Any] | None) -> str:
    """The ids worth a log line: what was addressed and what came back (never code or bodies)."""
    parts = [f"{k}={params[k]}" for k in _ID_PARAMS if isinstance(params.get(k), str)]
    if result:
        for container in ("Distribution", "Invalidation"):
            inner = result.get(container)
            if isinstance(inner, dict):
                parts.append(f"{container}.Id={inner.get('Id')}")
                parts.append(f"Status={inner.get('Status')}")
        if "ETag" in result:
            parts.append(f"ETag={result['ETag']}")
    return " ".join(parts)


class ControlPlane:
    """WSGI application for the CloudFront API of one in-memory account."""

    def __init__(self, service: CloudFrontService, edges: Callable[[], list[dict[str, Any]]]):
        self._service = service
        self._edges = edges

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_localaws/"):
            response = self._local(request)
        else:
            response = self._api(request, environ)
        return response(environ, start_response)

    def _local(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/_localaws/health":
            return _json({"ok": True})
        if request.method == "GET" and request.path == "/_localaws/edges":
            return _json(self._edges())
        return _json({"error": f"no such route: {request.method} {request.path}"}, 404)

    def _api(self, request: Request, environ: dict[str, Any]) -> Response:
        raw_path = request_target(environ).split("?", 1)[0]
        operation: str | None = None
        params: dict[str, Any] = {}
        try:
            found = wire.match_route(request.method, raw_path, request.args)
            if found is None:
                raise CloudFrontError(
                    "InvalidAction",
                    f"No CloudFront {wire.API_VERSION} operation is {request.method} {raw_path}.",
                )
            operation, url_params = found
            if (request.content_length or 0) > MAX_BODY_BYTES:
                raise CloudFrontError(
                    "InvalidArgument", f"The request body is over {MAX_BODY_BYTES} bytes."
                )
            params = wire.parse_input(
                operation,
                method=request.method,
                raw_path=raw_path,
                url_params=url_params,
                query=request.args,
                headers=Headers(request.headers),
                body=request.get_data(cache=False),
            )
            result = self._service.call(operation, params)
            out = wire.serialize_result(operation, result)
            log.info(
                "%s -> %s",
                " ".join([operation, _describe_call(params, result)]).strip(),
                out.status,
            )
        except CloudFrontError as err:
            out = wire.serialize_error(operation, err)
            log.info(
                "%s -> %s %s: %s",
                " ".join(
                    [operation or f"{request.method} {raw_path}", _describe_call(params, None)]
                ).strip(),
                out.status,
                err.code,
                err.message,
            )
        except Exception:
            log.exception("%s failed inside the local CloudFront", operation)
            out = wire.serialize_error(
                operation,
                CloudFrontError(
                    "InternalFailure",
                    "The local CloudFront failed on this request; its log has the details.",
                ),
            )
        return Response(out.body, status=out.status, headers=list(out.headers.items()))


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value), status=status, mimetype="application/json")

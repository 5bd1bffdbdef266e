"""The control plane's HTTP face: CloudFront's API and the key value store data plane for boto3,
plus a few routes of our own.

Requests under ``/key-value-stores/`` are the data plane (``cloudfront-keyvaluestore``, REST-JSON,
see ``kvswire``), everything else the 2020-05-31 API (REST/XML, see ``wire``): one port serves
both. The data plane's client reaches this port as its HTTP proxy, so its requests arrive in the
absolute form (``GET http://123456789012.kvs.localaws/key-value-stores/...``); ``request_target``
keeps their path. Signatures are not checked (any credentials work, as with moto).

Each request is matched to an operation by its model, parsed, run against the service and
serialized back, and logged as one line (operation, ids, outcome; never code, values or bodies).
Whatever goes wrong comes back as an AWS error document: a bug of ours is a 500 with the
protocol's internal-failure code, never a traceback in the body.

``GET /_localaws/health`` answers ``{"ok": true}`` once the process serves; ``GET
/_localaws/edges`` lists each distribution's edge URL, which is how the launcher and tests find a
distribution created without a configured alias port; ``PUT
/_localaws/key-value-stores/<name>/edge`` with ``{"readable": false}`` makes every edge's reads of
that store fail (``true`` mends it), so a function's fallback for an unreadable store can be
tested: AWS gives no way to break a store on purpose, and one in use cannot be deleted.

``PUT /_localaws/edges/<alias or distribution id>/cache`` with ``{"path": "/track/*", "age":
600}`` plants a stale copy in that one edge's cache: every copy it holds that ``path`` covers (the
rules of an invalidation path: exact, or a prefix ending in ``*``, matching the cache key or a
viewer path served from it) becomes ``age`` seconds old and is served past its expiry, with
``X-Cache: Hit`` and that ``Age``; ``"body": "<text>"`` also replaces what it holds (an older
build's shell, say). It is the fault of a real edge that goes on serving a copy older than its
max-age, which no API can cause. It answers 409 when the edge holds no such copy: GET the path
through the edge first. ``DELETE`` on the same route (``?path=`` to pick, else every held copy)
evicts the held copies, so the next request fetches the origin's; an invalidation covering one
evicts it too, and a restart starts every edge with an empty cache.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from localaws.cloudfront import kvswire, wire
from localaws.cloudfront.errors import CloudFrontError
from localaws.cloudfront.listeners import request_target
from localaws.cloudfront.service import CloudFrontService

log = logging.getLogger("localaws.cloudfront")

# Largest request body read: a DistributionConfig with every field is a few tens of KB; this
# stops a runaway client from filling memory.
MAX_BODY_BYTES = 1024 * 1024

_ID_PARAMS = ("Name", "Id", "DistributionId", "Stage", "KvsARN", "Key")
_EDGE_READABLE = re.compile(r"/_localaws/key-value-stores/(?P<name>[^/]+)/edge\Z")
_EDGE_CACHE = re.compile(r"/_localaws/edges/(?P<edge>[^/]+)/cache\Z")
# The oldest a planted copy may be made: ten years, past any max-age (a fingerprinted asset's
# is one year), yet a number no clock arithmetic overflows on.
MAX_STALE_AGE = 10 * 366 * 24 * 3600


@dataclass(frozen=True)
class _Plane:
    """One API on this port: its wire protocol (``wire`` or ``kvswire``) and its operations."""

    wire: ModuleType
    call: Callable[[str, dict[str, Any]], dict[str, Any]]


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
        self._control = _Plane(wire, service.call)
        self._data = _Plane(kvswire, service.call_data)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_localaws/"):
            response = self._local(request)
        elif request.path.startswith(kvswire.PATH_PREFIX + "/"):
            response = self._api(request, environ, self._data)
        else:
            response = self._api(request, environ, self._control)
        return response(environ, start_response)

    def _local(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/_localaws/health":
            return _json({"ok": True})
        if request.method == "GET" and request.path == "/_localaws/edges":
            return _json(self._edges())
        found = _EDGE_READABLE.match(request.path)
        if request.method == "PUT" and found:
            return self._set_edge_readable(found["name"], request)
        found = _EDGE_CACHE.match(request.path)
        if request.method in ("PUT", "DELETE") and found:
            return self._stale_copy(found["edge"], request)
        return _json({"error": f"no such route: {request.method} {request.path}"}, 404)

    def _set_edge_readable(self, name: str, request: Request) -> Response:
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("readable"), bool):
            return _json({"error": 'send {"readable": true} or {"readable": false}'}, 400)
        if not self._service.set_edge_readable(name, body["readable"]):
            return _json({"error": f"no key value store named {name}"}, 404)
        log.info("key value store %s: edge reads %s", name, "work" if body["readable"] else "fail")
        return _json({"name": name, "readable": body["readable"]})

    def _stale_copy(self, edge: str, request: Request) -> Response:
        """Plant (PUT) or remove (DELETE) stale copies in one edge's cache; see the module
        docstring. Paths are not logged: a tracking path carries a token."""
        dist_id = next(
            (e["id"] for e in self._edges() if edge == e["id"] or edge in e["aliases"]), None
        )
        view = self._service.edge_view(dist_id) if dist_id else None
        if view is None:
            return _json({"error": f"no distribution has the alias or id {edge}"}, 404)
        if request.method == "DELETE":
            path = request.args.get("path")
            if path is not None and _path_problem(path):
                return _json({"error": _path_problem(path)}, 400)
            released = view.cache.release_stale(path)
            log.info("edge %s (%s): %d held copies released", edge, dist_id, released)
            return _json({"edge": edge, "distribution_id": dist_id, "released": released})
        body = request.get_json(force=True, silent=True)
        problem = _stale_request_problem(body)
        if problem:
            return _json({"error": problem}, 400)
        content = body.get("body")
        held = view.cache.hold_stale(
            body["path"], body["age"], None if content is None else content.encode("utf-8")
        )
        if not held:
            return _json(
                {
                    "error": f"the edge {edge} holds no live copy that {body['path']} covers: GET "
                    "it through the edge first, then make it stale"
                },
                409,
            )
        log.info(
            "edge %s (%s): %d cached copies made %s s old and held past their expiry%s",
            edge, dist_id, len(held), body["age"], ", body replaced" if content is not None else "",
        )  # fmt: skip
        return _json(
            {"edge": edge, "distribution_id": dist_id, "held": len(held), "age": body["age"]}
        )

    def _api(self, request: Request, environ: dict[str, Any], plane: _Plane) -> Response:
        protocol = plane.wire
        raw_path = request_target(environ).split("?", 1)[0]
        operation: str | None = None
        params: dict[str, Any] = {}
        try:
            found = protocol.match_route(request.method, raw_path, request.args)
            if found is None:
                raise CloudFrontError(
                    protocol.UNKNOWN_OPERATION,
                    f"No {protocol.SERVICE_MODEL.service_name} "
                    f"{protocol.SERVICE_MODEL.api_version} operation is "
                    f"{request.method} {raw_path}.",
                )
            operation, url_params = found
            if (request.content_length or 0) > MAX_BODY_BYTES:
                raise CloudFrontError(
                    protocol.BAD_REQUEST, f"The request body is over {MAX_BODY_BYTES} bytes."
                )
            params = protocol.parse_input(
                operation,
                method=request.method,
                raw_path=raw_path,
                url_params=url_params,
                query=request.args,
                headers=Headers(request.headers),
                body=request.get_data(cache=False),
            )
            result = plane.call(operation, params)
            out = protocol.serialize_result(operation, result)
            log.info(
                "%s -> %s",
                " ".join([operation, _describe_call(params, result)]).strip(),
                out.status,
            )
        except CloudFrontError as err:
            out = protocol.serialize_error(operation, err)
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
            out = protocol.serialize_error(
                operation,
                CloudFrontError(
                    protocol.INTERNAL_FAILURE,
                    "The local CloudFront failed on this request; its log has the details.",
                ),
            )
        return Response(out.body, status=out.status, headers=list(out.headers.items()))


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value), status=status, mimetype="application/json")


def _path_problem(path: Any) -> str | None:
    """Why ``path`` is not an invalidation-style path, or None."""
    if not isinstance(path, str) or not path.startswith("/"):
        return 'path must be a path starting with "/", as in an invalidation'
    if "*" in path[:-1]:
        return 'path may hold "*" only at its end, as in an invalidation'
    return None


def _stale_request_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return 'send {"path": "/...", "age": <seconds>} and optionally "body": "<text>"'
    unknown = sorted(set(body) - {"path", "age", "body"})
    if unknown:
        return f"unknown fields {unknown}: send path, age and optionally body"
    problem = _path_problem(body.get("path"))
    if problem:
        return problem
    age = body.get("age")
    if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= MAX_STALE_AGE:
        return f"age must be whole seconds from 0 to {MAX_STALE_AGE}"
    if "body" in body and not isinstance(body["body"], str):
        return "body must be text (the stale copy's content)"
    return None

"""Reading Lambda payload 2.0 events and writing their responses, defensively.

Every field of the event is treated as untrusted and possibly missing: a malformed event must
end in a 4xx answer, never in an exception.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes | None  # None when the body could not be decoded
    body_size: int
    query: dict[str, str] = field(default_factory=dict)  # the first value of each name


def parse_event(event: Any) -> Request:
    event = event if isinstance(event, dict) else {}
    http = event.get("requestContext", {})
    http = http.get("http", {}) if isinstance(http, dict) else {}
    http = http if isinstance(http, dict) else {}
    method = http.get("method") or event.get("httpMethod") or "GET"
    path = event.get("rawPath") or http.get("path") or event.get("path") or "/"
    headers_in = event.get("headers") if isinstance(event.get("headers"), dict) else {}
    headers = {str(k).lower(): v for k, v in headers_in.items() if isinstance(v, str)}
    body, size = _body(event)
    raw_query = event.get("rawQueryString")
    query: dict[str, str] = {}
    if isinstance(raw_query, str):
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            query.setdefault(name, value)
    return Request(
        method=str(method).upper(),
        path=str(path),
        headers=headers,
        body=body,
        body_size=size,
        query=query,
    )


def _body(event: dict[str, Any]) -> tuple[bytes | None, int]:
    raw = event.get("body")
    if raw is None:
        return b"", 0
    if not isinstance(raw, str):
        return None, 0
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return None, len(raw)
        return data, len(data)
    data = raw.encode("utf-8", errors="surrogatepass")
    return data, len(data)


def json_response(
    status: int, payload: dict[str, Any], *, cache: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return {
        "statusCode": status,
        "headers": {
            "content-type": JSON_TYPE,
            "cache-control": cache,
            # The body is data, never markup or script, whatever a browser might guess.
            "x-content-type-options": "nosniff",
            **(headers or {}),
        },
        "body": body,
        "isBase64Encoded": False,
    }


def without_body(response: dict[str, Any]) -> dict[str, Any]:
    """The same response for HEAD: headers only."""
    return {**response, "body": ""}

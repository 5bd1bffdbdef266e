"""A viewer request as the edge sees it, and its round trip through a CloudFront Function.

The function event is built the way CloudFront builds it (lower-case header names; every query,
header and cookie entry an object ``{value: ...}``, with ``multiValue`` for repeats; ``querystring``
always present; the ``cookie`` header moved into ``cookies``), and a returned request is read back
the same way: the edge then uses its ``uri``, query string and headers for the cache key and the
origin. A returned response answers the viewer without touching the origin.

On the way back, a viewer-response function gets the same request and the response as CloudFront
would send it (``Set-Cookie`` headers moved into ``cookies`` with their ``attributes``); what it
returns replaces the status, headers and cookies, and the body only when it sets one.

Query names and values are never decoded or re-encoded here. CloudFront hands a function the query
string as the viewer sent it (``?x=a%20b`` arrives as ``{x: {value: "a%20b"}}``) and forwards what
the function returns as it stands, so a function that encodes a value itself (``original_path``,
``encodeURIComponent``-ed by qdn-track-rewrite) reaches the origin encoded once. The cache key
uses the same raw text. Decoding is the origin's business (see ``origins``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

from localaws.cloudfront.listeners import request_target

Pairs = list[tuple[str, str]]


@dataclass(frozen=True)
class ViewerRequest:
    method: str
    uri: str  # the path as sent (percent-encoding kept), or as the function rewrote it
    query: Pairs  # name/value pairs in order, exactly as on the wire (percent-encoding kept)
    headers: Pairs  # lower-case names, without cookie
    cookies: Pairs
    ip: str
    body: bytes = b""
    # The query string exactly as the viewer sent it, for request.rawQueryString(): "" after a
    # bare '?', None without one. ``query`` is what the function and the origin work with.
    sent_query: str | None = None

    @property
    def raw_query(self) -> str:
        return encode_query(self.query)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


def parse_query(raw: str) -> Pairs:
    """The viewer's query string as pairs, split on ``&`` and the first ``=``, nothing decoded."""
    return [(name, value) for name, _, value in (p.partition("=") for p in raw.split("&") if p)]


def encode_query(pairs: Pairs) -> str:
    """Pairs back to a query string, as they stand: CloudFront does not re-encode them."""
    return "&".join(f"{name}={value}" for name, value in pairs)


def normalize_path(path: str) -> str:
    """Resolve ``.`` and ``..`` segments (RFC 3986 section 5.2.4), as CloudFront does."""
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    joined = "/".join(out)
    return joined if joined.startswith("/") else "/" + joined


def from_wsgi(environ: dict[str, Any], headers: Pairs, body: bytes) -> ViewerRequest:
    path, mark, query = request_target(environ).partition("?")
    cookies: Pairs = []
    plain: Pairs = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(_parse_cookies(value))
        else:
            plain.append((name, value))
    return ViewerRequest(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        uri=normalize_path(path or "/"),
        query=parse_query(query),
        headers=plain,
        cookies=cookies,
        ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
        body=body,
        sent_query=query if mark else None,
    )


def _parse_cookies(header: str) -> Pairs:
    pairs = []
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if name and sep:
            pairs.append((name, value))
    return pairs


def _entries(pairs: Pairs) -> dict[str, dict[str, Any]]:
    """Name/value pairs as the event's entries: the first value, every value in ``multiValue``."""
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    out: dict[str, dict[str, Any]] = {}
    for name, values in grouped.items():
        entry: dict[str, Any] = {"value": values[0]}
        if len(values) > 1:
            entry["multiValue"] = [{"value": v} for v in values]
        out[name] = entry
    return out


def _pairs(entries: dict[str, dict[str, Any]] | None) -> Pairs:
    """Entries back to pairs. The runtime has already refused output whose entries are not
    ``{value: string}`` (with an optional ``multiValue`` list of the same): no re-checking."""
    return [
        (name, item["value"])
        for name, entry in (entries or {}).items()
        for item in (entry.get("multiValue") or [entry])
    ]


def function_event(
    req: ViewerRequest,
    *,
    distribution_id: str,
    domain_name: str,
    request_id: str,
    event_type: str = "viewer-request",
) -> dict[str, Any]:
    return {
        "version": "1.0",
        "context": {
            "distributionDomainName": domain_name,
            "distributionId": distribution_id,
            "eventType": event_type,
            "requestId": request_id,
        },
        "viewer": {"ip": req.ip},
        "request": {
            "method": req.method,
            "uri": req.uri,
            "querystring": _entries(req.query),
            "headers": _entries(req.headers),
            "cookies": _entries(req.cookies),
        },
    }


def apply_request(req: ViewerRequest, out: dict[str, Any]) -> ViewerRequest:
    """The request the function returned (validated by the runtime), as the edge continues.

    AWS takes the query string as entries or as text (``a=1&b=2``, an optional leading ``?``);
    text is split as the viewer's query string is.
    """
    query = out.get("querystring")
    return replace(
        req,
        uri=out["uri"],
        query=parse_query(query.removeprefix("?")) if isinstance(query, str) else _pairs(query),
        headers=[(k.lower(), v) for k, v in _pairs(out.get("headers")) if k.lower() != "cookie"],
        cookies=_pairs(out.get("cookies")),
    )


def response_event(
    req: ViewerRequest,
    status: int,
    headers: Pairs,
    *,
    distribution_id: str,
    domain_name: str,
    request_id: str,
) -> dict[str, Any]:
    """The viewer-response event: the request as it went on, and the response on its way back."""
    event = function_event(
        req,
        distribution_id=distribution_id,
        domain_name=domain_name,
        request_id=request_id,
        event_type="viewer-response",
    )
    plain = [(k.lower(), v) for k, v in headers if k.lower() != "set-cookie"]
    cookies: dict[str, dict[str, Any]] = {}
    for name, value in headers:
        if name.lower() != "set-cookie":
            continue
        pair, _, attributes = value.partition(";")
        cookie, _, cookie_value = pair.strip().partition("=")
        item = {"value": cookie_value, "attributes": attributes.strip()}
        if cookie in cookies:
            entry = cookies[cookie]
            entry.setdefault("multiValue", [dict(entry)]).append(item)
        else:
            cookies[cookie] = dict(item)
    try:
        description = HTTPStatus(status).phrase
    except ValueError:
        description = ""
    event["response"] = {
        "statusCode": status,
        "statusDescription": description,
        "headers": _entries(plain),
        "cookies": cookies,
    }
    return event


@dataclass(frozen=True)
class FunctionResponse:
    status: int
    headers: Pairs
    body: bytes


def function_response(out: dict[str, Any], body: bytes = b"") -> FunctionResponse:
    """A response a function returned (validated by the runtime), as the edge sends it.

    Its headers go out with each word of a name capitalised (``x-frame-options`` as
    ``X-Frame-Options``), as AWS documents, and its cookies as one ``Set-Cookie`` per value
    (``multiValue`` too, each with its own ``attributes``). Its body stands when it sets one;
    otherwise ``body``: nothing for a viewer-request function's answer, the cache's or origin's
    for a viewer-response function.
    """
    headers = _pairs(out.get("headers")) + _set_cookies(out.get("cookies"))
    named = [("-".join(w.capitalize() for w in k.split("-")), v) for k, v in headers]
    return FunctionResponse(out["statusCode"], named, _body(out["body"]) if "body" in out else body)


def _set_cookies(cookies: dict[str, Any] | None) -> Pairs:
    headers = []
    for name, entry in (cookies or {}).items():
        for item in entry.get("multiValue") or [entry]:
            attributes = item.get("attributes")
            cookie = f"{name}={item['value']}" + (f"; {attributes}" if attributes else "")
            headers.append(("set-cookie", cookie))
    return headers


def _body(body: str | dict[str, str]) -> bytes:
    """A returned body: text, or ``{data, encoding: 'text' | 'base64'}``."""
    if isinstance(body, str):
        return body.encode("utf-8")
    if body.get("encoding") == "base64":
        return base64.b64decode(body["data"])
    return body["data"].encode("utf-8")

"""What a handler returned, checked and shaped the way CloudFront reads it.

CloudFront does not pass a function's return value through as it stands: it reads the fields it
knows and drops the rest. TestFunction's ``FunctionOutput`` shows that reading, so a request comes
back as ``{method, uri, querystring, headers, cookies}`` (the parts always present, ``{}`` when
empty) and a response as ``{statusCode, statusDescription, headers, cookies, body}`` (each part
only when returned); keys the handler added, or left over from the event, are not echoed.

Shapes AWS accepts, and so does this module:

- ``querystring`` as an object of ``{value}`` entries (``multiValue`` for repeats) or as a string
  (``a=1&b=2``, an optional leading ``?``; AWS's own "normalize query string" example returns
  one), which the edge splits like a viewer's query string;
- ``headers`` and ``cookies`` as objects of ``{value}`` entries with optional ``multiValue``;
  response cookies may carry ``attributes``;
- a response ``body`` as a string or ``{data, encoding: 'text' | 'base64'}``.

Anything else is a validation error, reported the way AWS's metrics name it.
"""

from __future__ import annotations

from typing import Any

_BODY_ENCODINGS = ("text", "base64")


def normalize_output(value: Any) -> tuple[dict | None, str | None]:
    """Wrap a handler's return value as TestFunction's output, or say why CloudFront refuses it.

    A request (it has ``uri``) continues to the origin, a response (it has ``statusCode``) is
    answered at the edge; anything else is a validation error, as in AWS.
    """
    if not isinstance(value, dict):
        return None, _invalid(f"the handler returned {_kind(value)}, not a request or response")
    if "statusCode" in value:
        problems = _response_problems(value)
        key, shaped = "response", _response(value)
    elif "uri" in value:
        problems = _request_problems(value)
        key, shaped = "request", _request(value)
    else:
        return None, _invalid("the returned object has neither uri (request) nor statusCode")
    if problems:
        return None, _invalid("; ".join(problems))
    return {key: shaped}, None


def _request(request: dict) -> dict:
    shaped: dict[str, Any] = {}
    if "method" in request:
        shaped["method"] = request["method"]
    shaped["uri"] = request["uri"]
    for part in ("querystring", "headers", "cookies"):
        shaped[part] = request.get(part) if request.get(part) is not None else {}
    return shaped


def _response(response: dict) -> dict:
    shaped: dict[str, Any] = {"statusCode": response["statusCode"]}
    if "statusDescription" in response:
        shaped["statusDescription"] = response["statusDescription"]
    # A response keeps the parts it returned: the project's cases, checked against AWS's
    # TestFunction, expect no empty ``cookies`` on a response that set none.
    for part in ("headers", "cookies"):
        if response.get(part) is not None:
            shaped[part] = response[part]
    if response.get("body") is not None:
        shaped["body"] = response["body"]
    return shaped


def _invalid(why: str) -> str:
    return f"Validation error: {why}"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {bool: "a boolean", str: "a string", list: "an array"}.get(type(value), "a number")


def _request_problems(request: dict) -> list[str]:
    problems: list[str] = []
    uri = request.get("uri")
    if not isinstance(uri, str) or not uri.startswith("/"):
        problems.append(f"request.uri must be a string starting with '/', got {uri!r}")
    if "method" in request and not isinstance(request["method"], str):
        problems.append("request.method must be a string")
    query = request.get("querystring")
    if not isinstance(query, str) and query is not None:
        problems.extend(_entries_problems("request.querystring", query, "a string"))
    for part in ("headers", "cookies"):
        if request.get(part) is not None:
            problems.extend(_entries_problems(f"request.{part}", request[part]))
    return problems


def _response_problems(response: dict) -> list[str]:
    problems: list[str] = []
    status = response.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        problems.append(f"response.statusCode must be an integer 100-599, got {status!r}")
    if "statusDescription" in response and not isinstance(response["statusDescription"], str):
        problems.append("response.statusDescription must be a string")
    for part in ("headers", "cookies"):
        if response.get(part) is not None:
            problems.extend(
                _entries_problems(f"response.{part}", response[part], cookies=part == "cookies")
            )
    body = response.get("body")
    if body is not None and not isinstance(body, str) and not _is_body(body):
        problems.append(
            "response.body must be a string or {data: string, encoding: 'text' | 'base64'}"
        )
    return problems


def _is_body(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and isinstance(body.get("data"), str)
        and body.get("encoding", "text") in _BODY_ENCODINGS
    )


def _entries_problems(
    where: str, entries: Any, alternative: str = "", *, cookies: bool = False
) -> list[str]:
    if not isinstance(entries, dict):
        return [f"{where} must be an object" + (f" or {alternative}" if alternative else "")]
    problems = []
    for name, entry in entries.items():
        if not _is_value(entry, cookies):
            problems.append(f"{where}.{name} must be an object {{value: string}}, got {entry!r}")
            continue
        multi = entry.get("multiValue")
        if multi is not None and (
            not isinstance(multi, list) or not all(_is_value(item, cookies) for item in multi)
        ):
            problems.append(f"{where}.{name}.multiValue must be a list of {{value: string}}")
    return problems


def _is_value(entry: Any, cookies: bool = False) -> bool:
    if not (isinstance(entry, dict) and isinstance(entry.get("value"), str)):
        return False
    return not cookies or isinstance(entry.get("attributes", ""), str)

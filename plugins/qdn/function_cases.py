"""The CloudFront Function's test events and expected outputs, and the one way to judge a run.

The same cases in ``cf/cases/*.json`` run three ways: in the embedded engine by the test suite,
through the local CloudFront's TestFunction, and by the release DAG as its gate before
``PublishFunction``. All three judge with :func:`check_output`, which takes what TestFunction
returns (``FunctionOutput`` is a JSON string, ``FunctionErrorMessage`` a string), so "passes" means
the same thing everywhere.

A case file is one JSON object::

    {
      "description": "why this case exists",
      "event": {"version": "1.0", "context": {"eventType": "viewer-request"},
                "viewer": {"ip": "..."},
                "request": {"method": "GET", "uri": "/track/...", "querystring": {},
                            "headers": {}, "cookies": {}}},
      "expected_output": {"request": {...}}      (or {"response": {...}}), compared exactly
      -- or --
      "expected_error": "text the error message must contain"
    }

``{live}`` in an expected string stands for the build the live pointer names when the case runs
(the function reads it from its KeyValueStore), so the cases hold whatever build is live.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdn import config

CASES_DIRNAME = "cases"
# A documentation address (RFC 5737): the function never reads the viewer's IP, but the event has
# one as CloudFront's does.
VIEWER_IP = "198.51.100.7"
_KEYS = {"description", "event", "expected_output", "expected_error"}
LIVE_BUILD_PLACEHOLDER = "{live}"


class FunctionCaseError(ValueError):
    """A case file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class FunctionCase:
    name: str  # the file's stem, e.g. "track-token"
    path: Path
    description: str
    event: dict[str, Any]
    expected_output: dict[str, Any] | None
    expected_error: str | None

    @property
    def event_json(self) -> str:
        """The event as TestFunction's EventObject takes it."""
        return json.dumps(self.event)


def viewer_request_event(
    uri: str,
    querystring: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A viewer-request event as CloudFront hands it to the function, for tests and benchmarks.

    Entries are already in the function's shape (``{"value": ...}``); ``headers`` defaults to the
    Host header of the first distribution, ``querystring`` to none (CloudFront always sends it).
    """
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-request"},
        "viewer": {"ip": VIEWER_IP},
        "request": {
            "method": "GET",
            "uri": uri,
            "querystring": querystring or {},
            "headers": (
                {"host": {"value": config.DISTRIBUTION_ALIASES[0]}} if headers is None else headers
            ),
            "cookies": {},
        },
    }


def load_cases(cf_dir: Path) -> list[FunctionCase]:
    """Every case under ``cf_dir/cases``, sorted by name; refuses an empty or malformed set."""
    cases_dir = Path(cf_dir) / CASES_DIRNAME
    paths = sorted(cases_dir.glob("*.json"))
    if not paths:
        raise FunctionCaseError(f"no function test cases in {cases_dir} (expected *.json files)")
    return [_load(path) for path in paths]


def _load(path: Path) -> FunctionCase:
    def bad(why: str) -> FunctionCaseError:
        return FunctionCaseError(f"{path}: {why}")

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise bad(f"not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise bad("must be a JSON object")
    unknown = set(data) - _KEYS
    if unknown:
        raise bad(f"unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    event = data.get("event")
    request = event.get("request") if isinstance(event, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("uri"), str):
        raise bad("'event' must be a CloudFront Functions event with request.uri")
    has_output, has_error = "expected_output" in data, "expected_error" in data
    if has_output == has_error:
        raise bad("give exactly one of 'expected_output' and 'expected_error'")
    output = data.get("expected_output")
    if has_output and not (
        isinstance(output, dict) and len(output) == 1 and set(output) <= {"request", "response"}
    ):
        raise bad('\'expected_output\' must be {"request": {...}} or {"response": {...}}')
    error = data.get("expected_error")
    if has_error and not (isinstance(error, str) and error):
        raise bad("'expected_error' must be a non-empty string")
    return FunctionCase(
        name=path.stem,
        path=path,
        description=str(data.get("description", "")),
        event=event,
        expected_output=output,
        expected_error=error,
    )


def with_live_build(value: Any, live_build: str | None) -> Any:
    """``value`` with every ``{live}`` in its strings replaced by ``live_build``."""
    if isinstance(value, str):
        return value if live_build is None else value.replace(LIVE_BUILD_PLACEHOLDER, live_build)
    if isinstance(value, dict):
        return {k: with_live_build(v, live_build) for k, v in value.items()}
    if isinstance(value, list):
        return [with_live_build(v, live_build) for v in value]
    return value


def check_output(
    case: FunctionCase,
    function_output_json: str | None,
    error_message: str | None,
    *,
    live_build: str | None = None,
) -> list[str]:
    """What differs between a run and the case's expectation; empty when the case passes.

    ``function_output_json`` and ``error_message`` are TestFunction's FunctionOutput and
    FunctionErrorMessage; AWS sends an empty string for the one that does not apply.
    """
    error_message = error_message or None
    function_output_json = function_output_json or None
    if case.expected_error is not None:
        if error_message is None:
            return [
                f"{case.name}: expected an error containing {case.expected_error!r}, "
                f"but the function returned {_short(function_output_json)}"
            ]
        if case.expected_error not in error_message:
            return [
                f"{case.name}: expected an error containing {case.expected_error!r}, "
                f"got {error_message!r}"
            ]
        return []

    if error_message is not None:
        return [f"{case.name}: the function failed: {error_message}"]
    if function_output_json is None:
        return [f"{case.name}: the function returned no output"]
    try:
        actual = json.loads(function_output_json)
    except ValueError:
        return [f"{case.name}: the output is not JSON: {_short(function_output_json)}"]
    expected = with_live_build(case.expected_output, live_build)
    return [f"{case.name}: {line}" for line in _diff(expected, actual, "")]


def _diff(expected: Any, actual: Any, where: str) -> list[str]:
    label = where or "output"
    if isinstance(expected, dict) and isinstance(actual, dict):
        lines: list[str] = []
        for key in expected:
            path = f"{where}.{key}" if where else key
            if key not in actual:
                lines.append(f"{path}: missing, expected {_show(expected[key])}")
            else:
                lines.extend(_diff(expected[key], actual[key], path))
        for key in actual:
            if key not in expected:
                path = f"{where}.{key}" if where else key
                lines.append(f"{path}: unexpected {_show(actual[key])}")
        return lines
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        lines = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            lines.extend(_diff(want, got, f"{where}[{index}]"))
        return lines
    if expected != actual or type(expected) is not type(actual):
        return [f"{label}: expected {_show(expected)}, got {_show(actual)}"]
    return []


def _show(value: Any) -> str:
    return _short(json.dumps(value, sort_keys=True))


def _short(text: str | None, limit: int = 200) -> str:
    text = "nothing" if text is None else text
    return text if len(text) <= limit else text[: limit - 1] + "…"

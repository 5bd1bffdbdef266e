"""The embedded cloudfront-js-2.0 runtime: what a function may and may not do, and isolation."""

from __future__ import annotations

import json
import threading

import pytest

from localaws.cloudfront.runtime import (
    MAX_CODE_BYTES,
    FunctionRun,
    check_code,
    normalize_output,
    run_function,
)
from qdn.function_cases import viewer_request_event

# The event most tests run on; run_function serializes it, so sharing one dict is safe.
EVENT = viewer_request_event("/track/abc")


REWRITE = """
function handler(event) {
  var request = event.request;
  console.log('seen', request.uri, {n: 1});
  request.uri = '/index.html';
  request.querystring.x = {value: '1'};
  return request;
}
"""


def test_returns_the_request_wrapped_with_logs_and_utilization() -> None:
    run = run_function(REWRITE, EVENT)
    assert isinstance(run, FunctionRun)
    assert run.error is None
    assert run.output == {
        "request": {
            "method": "GET",
            "uri": "/index.html",
            "querystring": {"x": {"value": "1"}},
            "headers": {"host": {"value": "quickdumpnow.com"}},
            "cookies": {},
        }
    }
    assert run.logs == ['seen /track/abc {"n":1}']
    assert 1 <= run.compute_utilization <= 100


def test_a_response_is_wrapped_as_response() -> None:
    code = """function handler(e) {
      return {statusCode: 403, statusDescription: 'Forbidden', headers: {}};
    }"""
    run = run_function(code, EVENT)
    assert run.error is None
    assert run.output == {
        "response": {"statusCode": 403, "statusDescription": "Forbidden", "headers": {}}
    }


def test_async_handler_is_settled() -> None:
    code = """async function handler(e) {
      var v = await Promise.resolve('/async.html');
      e.request.uri = v;
      return e.request;
    }"""
    run = run_function(code, EVENT)
    assert run.error is None
    assert run.output["request"]["uri"] == "/async.html"


def test_async_rejection_and_never_settling_promise_are_errors() -> None:
    rejected = run_function("async function handler(e) { throw new Error('nope'); }", EVENT)
    assert rejected.output is None
    assert "Error: nope" in rejected.error
    never = run_function("function handler(e) { return new Promise(function () {}); }", EVENT)
    assert never.output is None
    assert "never settled" in never.error


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("function handler(e) { return eval('1'); }", "eval is not allowed"),
        ("function handler(e) { return Function('return 1')(); }", "Function constructor"),
        ("function handler(e) { return (function(){}).constructor('return 1')(); }", "Function"),
        (
            "function handler(e) { return (async function(){}).constructor('return 1')(); }",
            "Function constructor",
        ),
        ("function handler(e) { setTimeout(function(){}, 1); return e.request; }", "setTimeout"),
        ("function handler(e) { fetch('http://x'); return e.request; }", "fetch"),
        ("function handler(e) { require('fs'); return e.request; }", "Cannot find module"),
    ],
)
def test_no_eval_timers_network_or_modules(code: str, fragment: str) -> None:
    run = run_function(code, EVENT)
    assert run.output is None
    assert fragment in run.error


def test_infinite_loop_errors_instead_of_hanging() -> None:
    run = run_function("function handler(e) { while (true) {} }", EVENT)
    assert run.output is None
    assert "interrupted" in run.error
    assert run.compute_utilization == 100
    # The runtime is still usable afterwards.
    assert run_function(REWRITE, EVENT).error is None


def test_runaway_memory_and_recursion_error() -> None:
    memory = run_function(
        "function handler(e) { var a = []; while (true) a.push(new Array(10000).fill(1)); }",
        EVENT,
    )
    assert memory.output is None
    assert memory.error
    recursion = run_function("function handler(e) { return handler(e); }", EVENT)
    assert recursion.output is None
    assert "stack overflow" in recursion.error


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("function handler(e) {", "SyntaxError"),
        ("var x = 1;", "does not define a function named handler"),
        ("var handler = 3;", "does not define a function named handler"),
        # Valid as a function body, not as the script CloudFront runs.
        ("return 1; function handler(e) { return e.request; }", "SyntaxError"),
        ("}); function handler(e) { return e.request; } (function () {", "SyntaxError"),
        ("throw new Error('at load');", "at load"),
    ],
)
def test_code_that_cannot_load(code: str, fragment: str) -> None:
    run = run_function(code, EVENT)
    assert run.output is None
    assert fragment in run.error
    assert run.compute_utilization == 0
    assert fragment in check_code(code)


def test_code_over_10_kb_is_refused() -> None:
    code = "function handler(e) { return e.request; }\n" + "//" + "x" * MAX_CODE_BYTES
    run = run_function(code, EVENT)
    assert run.output is None
    assert "at most 10240" in run.error
    assert check_code(REWRITE) is None


def test_state_does_not_leak_between_runs() -> None:
    code = """
    var count = 0;
    let seen = [];
    function handler(e) {
      count++;
      seen.push(e.request.uri);
      implicitGlobal = (typeof implicitGlobal === 'undefined' ? 0 : implicitGlobal) + 1;
      globalThis.viaGlobalThis = (globalThis.viaGlobalThis || 0) + 1;
      try { String.prototype.polluted = 'yes'; } catch (err) {}
      try { JSON.parse = function () { return 'hijacked'; }; } catch (err) {}
      try { Array.prototype.push = null; } catch (err) {}
      console.log(count, seen.length, implicitGlobal, viaGlobalThis,
                  typeof ''.polluted, JSON.parse('1'));
      return e.request;
    }
    """
    first = run_function(code, viewer_request_event("/a"))
    second = run_function(code, viewer_request_event("/b"))
    assert first.error is None, first.error
    assert second.error is None, second.error
    assert first.logs == ["1 1 1 1 undefined 1"]
    assert second.logs == first.logs


def test_a_global_that_cannot_be_deleted_does_not_survive() -> None:
    code = """function handler(e) {
      var before = typeof sticky;
      if (before === 'undefined') {
        Object.defineProperty(globalThis, 'sticky', {value: 1, configurable: false});
      }
      console.log(before);
      return e.request;
    }"""
    assert run_function(code, EVENT).logs == ["undefined"]
    assert run_function(code, EVENT).logs == ["undefined"]


def test_thrown_errors_are_reported_with_their_message() -> None:
    run = run_function("function handler(e) { null.x; }", EVENT)
    assert run.output is None
    assert run.error.startswith("TypeError")
    thrown = run_function("function handler(e) { throw {code: 7}; }", EVENT)
    assert thrown.error == 'Uncaught {"code":7}'


@pytest.mark.parametrize(
    ("returned", "fragment"),
    [
        ("'a string'", "returned a string"),
        ("undefined", "returned nothing"),
        ("{foo: 1}", "neither uri"),
        ("{uri: 'no-slash'}", "request.uri"),
        # The seed's bug: a query value assigned as a bare string.
        ("{uri: '/index.html', querystring: {original_path: '/track/x'}}", "original_path"),
        ("{uri: '/', headers: {a: {value: 1}}}", "request.headers.a"),
        ("{uri: '/', querystring: {a: {value: 'x', multiValue: ['y']}}}", "multiValue"),
        ("{statusCode: '302'}", "statusCode"),
        ("{statusCode: 302, headers: {location: '/x'}}", "response.headers.location"),
    ],
)
def test_invalid_output_is_a_validation_error(returned: str, fragment: str) -> None:
    run = run_function(f"function handler(e) {{ return {returned}; }}", EVENT)
    assert run.output is None
    assert run.error.startswith("Validation error")
    assert fragment in run.error


def test_normalize_output_accepts_multi_values() -> None:
    request = {
        "uri": "/x",
        "querystring": {"a": {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]}},
    }
    assert normalize_output(request) == ({"request": request}, None)


def test_the_event_is_passed_whole() -> None:
    code = "function handler(e) { console.log(JSON.stringify(e)); return e.request; }"
    event = viewer_request_event("/x", {"q": {"value": "1"}})
    run = run_function(code, event)
    assert json.loads(run.logs[0]) == event


def test_safe_to_call_from_many_threads() -> None:
    results: list[FunctionRun] = []

    def call(i: int) -> None:
        results.append(run_function(REWRITE, viewer_request_event(f"/t/{i}")))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16
    assert all(r.error is None and r.output["request"]["uri"] == "/index.html" for r in results)

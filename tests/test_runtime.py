"""The embedded cloudfront-js-2.0 runtime: what a function may and may not do, and isolation."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest

from localaws.cloudfront.runtime import (
    MAX_CODE_BYTES,
    FunctionRun,
    KvsView,
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
    # The parts the request left out come back empty, as CloudFront reads them.
    assert normalize_output(request) == (
        {"request": {**request, "headers": {}, "cookies": {}}},
        None,
    )


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


# --- key value stores -----------------------------------------------------------------------------

KVS_READER = """import cf from 'cloudfront';
const kvs = cf.kvs();
async function handler(e) {
  var seen = [];
  seen.push(await kvs.get('text'));
  seen.push((await kvs.get('doc', {format: 'json'})).n + 1);
  seen.push(await kvs.get('text', {format: 'string'}));
  seen.push((await kvs.get('text', {format: 'bytes'})).length);
  seen.push(await kvs.exists('text'), await kvs.exists('nothing'));
  try {
    await kvs.get('nothing');
    seen.push('found');
  } catch (err) {
    seen.push(err instanceof Error, err.message);
  }
  console.log(JSON.stringify(seen));
  return e.request;
}
"""
STORE = {"text": "h\u00e9", "doc": '{"n": 41}'}


def test_kvs_reads_strings_json_bytes_and_existence() -> None:
    run = run_function(KVS_READER, EVENT, kvs=STORE)
    assert run.error is None, run.error
    assert json.loads(run.logs[0]) == [
        "h\u00e9",
        42,
        "h\u00e9",
        3,  # the UTF-8 bytes of the value
        True,
        False,
        True,
        'The key "nothing" does not exist in the key value store',
    ]


def test_kvs_meta_reports_the_store() -> None:
    code = """import cf from 'cloudfront';
    async function handler(e) {
      console.log(JSON.stringify(await cf.kvs().meta()));
      return e.request;
    }"""
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    changed = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    run = run_function(code, EVENT, kvs=KvsView(STORE, "id-1", created, changed))
    assert json.loads(run.logs[0]) == {
        "creationDateTime": created.isoformat(),
        "lastUpdatedDateTime": changed.isoformat(),
        "keyCount": 2,
    }


@pytest.mark.parametrize(
    "line",
    [
        "import cf from 'cloudfront';",
        'import cf from "cloudfront"',
        "  import store from 'cloudfront' ;",
    ],
)
def test_the_cloudfront_import_in_its_documented_forms(line: str) -> None:
    name = line.split()[1]
    code = (
        f"{line}\nasync function handler(e) {{\n"
        f"  e.request.uri = '/' + await {name}.kvs().get('text');\n"
        "  return e.request;\n}"
    )
    run = run_function(code, EVENT, kvs={"text": "from-store"})
    assert run.error is None, run.error
    assert run.output["request"]["uri"] == "/from-store"


@pytest.mark.parametrize(
    "line",
    [
        "import fs from 'fs';",
        "import cf from 'cloudfront-extra';",
        "import {kvs} from 'cloudfront-extra';",
    ],
)
def test_an_import_of_a_module_the_runtime_lacks_is_a_syntax_error(line: str) -> None:
    run = run_function(f"{line}\nfunction handler(e) {{ return e.request; }}", EVENT)
    assert run.output is None
    assert run.error.startswith("SyntaxError")


def test_the_import_keeps_line_numbers() -> None:
    code = "import cf from 'cloudfront';\nfunction handler(e) {\n\n  null.x;\n}"
    run = run_function(code, EVENT, kvs={})
    assert "<input>:4" in run.error


def test_cf_kvs_refuses_without_an_association_or_with_another_store() -> None:
    code = "import cf from 'cloudfront';\nfunction handler(e) { cf.kvs(%s); return e.request; }"
    alone = run_function(code % "", EVENT)
    assert "no key value store association" in alone.error
    assert run_function(code % "'id-1'", EVENT, kvs=KvsView({}, "id-1")).error is None
    other = run_function(code % "'id-2'", EVENT, kvs=KvsView({}, "id-1"))
    assert "id-2 is not associated with this function" in other.error
    # Loading the code does not need a store: the top level may call cf.kvs().
    assert check_code("import cf from 'cloudfront';\nconst k = cf.kvs();\n" + REWRITE) is None


def test_an_unreadable_store_rejects_every_read() -> None:
    code = """import cf from 'cloudfront';
    async function handler(e) {
      var outcomes = [];
      for (const read of [() => cf.kvs().get('text'), () => cf.kvs().exists('text'),
                          () => cf.kvs().meta()]) {
        try { await read(); outcomes.push('read'); } catch (err) { outcomes.push(err.message); }
      }
      console.log(JSON.stringify(outcomes));
      return e.request;
    }"""
    run = run_function(code, EVENT, kvs=KvsView(None, "id-1"))
    assert run.error is None, run.error
    assert (
        json.loads(run.logs[0])
        == ["The key value store associated with this function could not be read"] * 3
    )


def test_each_run_reads_its_own_store_and_cannot_change_it() -> None:
    code = """import cf from 'cloudfront';
    async function handler(e) {
      var kvs = cf.kvs();
      try { kvs.get = function () { return 'patched'; }; } catch (err) {}
      try { cf.kvs = null; } catch (err) {}
      e.request.uri = '/' + await kvs.get('text');
      return e.request;
    }"""
    first = run_function(code, EVENT, kvs={"text": "one"})
    second = run_function(code, EVENT, kvs={"text": "two"})
    assert (first.output["request"]["uri"], second.output["request"]["uri"]) == ("/one", "/two")
    assert "no key value store association" in run_function(code, EVENT).error


def test_a_function_reading_forever_is_stopped() -> None:
    code = """import cf from 'cloudfront';
    async function handler(e) { while (true) { await cf.kvs().get('text'); } }"""
    run = run_function(code, EVENT, kvs=STORE)
    assert run.output is None
    assert "too many pending jobs" in run.error

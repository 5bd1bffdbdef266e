"""The CloudFront Function, run in the embedded engine: every case in cf/cases, plus properties.

The code runs as publishing makes it (the fallback build compiled in) against a store whose
``live`` key names another build, so a case can tell the pointer's build from the fallback.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localaws.cloudfront.runtime import MAX_CODE_BYTES, KvsView, run_function
from qdn import config
from qdn.function_cases import (
    FunctionCase,
    FunctionCaseError,
    check_output,
    load_cases,
    viewer_request_event,
)
from qdn.function_release import canonical, fallback_of, render

REPO = Path(__file__).resolve().parent.parent
CF_DIR = REPO / "cf"
SOURCE = (CF_DIR / "qdn-track-rewrite.js").read_bytes()
LIVE = "build-0123456789ab"
FALLBACK = "build-fedcba987654"
CODE = render(SOURCE, FALLBACK).decode("utf-8")
STORE = {config.LIVE_POINTER_KEY: LIVE}
SEED = (REPO / "bench" / "seed_rewrite.js").read_text(encoding="utf-8")
CASES = load_cases(CF_DIR)


def run(code: str, event: dict, store: dict | KvsView | None = None):
    return run_function(code, event, kvs=STORE if store is None else store)


def _run(case: FunctionCase, code: str = CODE) -> list[str]:
    result = run(code, case.event)
    output = json.dumps(result.output) if result.output is not None else ""
    return check_output(case, output, result.error or "", live_build=LIVE)


def test_function_is_under_10_kb() -> None:
    assert len(CODE.encode("utf-8")) < MAX_CODE_BYTES


def test_every_path_is_served_from_the_pointer_s_build() -> None:
    for uri, expected in (
        ("/", f"/{LIVE}/index.html"),
        ("/assets/app.0123456789.js", f"/{LIVE}/assets/app.0123456789.js"),
        ("/track/q8Xv2NfLr0TtYb3KcW9eZs1HuM4dPa7J", f"/{LIVE}/index.html"),
        ("/help/", f"/{LIVE}/help/index.html"),
    ):
        assert run(CODE, viewer_request_event(uri)).output["request"]["uri"] == expected


@pytest.mark.parametrize(
    ("store", "why"),
    [
        (KvsView(None), "unreadable"),
        ({}, "unreadable"),  # the key is missing: get rejects, as on AWS
        ({config.LIVE_POINTER_KEY: "../data"}, "holds no build id"),
    ],
)
def test_a_broken_pointer_serves_the_compiled_in_fallback(store, why: str) -> None:
    result = run(CODE, viewer_request_event("/track/q8Xv2NfLr0TtYb3KcW9eZs1HuM4dPa7J"), store)
    assert result.error is None
    assert result.output["request"]["uri"] == f"/{FALLBACK}/index.html"
    assert any(why in line and FALLBACK in line for line in result.logs), result.logs


def test_redirects_and_refusals_need_no_pointer() -> None:
    for uri, status in (("/track", 301), ("/data/jobs.json", 404)):
        result = run(CODE, viewer_request_event(uri), KvsView(None))
        assert result.output["response"]["statusCode"] == status
        assert result.logs == []  # the store was never read


def test_the_source_needs_its_fallback_compiled_in() -> None:
    assert fallback_of(SOURCE) is None and fallback_of(CODE.encode()) == FALLBACK
    assert canonical(CODE.encode()) == SOURCE


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: FunctionCase) -> None:
    assert _run(case) == []


def test_the_seed_function_fails_the_cases() -> None:
    failures = {c.name: _run(c, SEED) for c in CASES}
    # Its string-valued original_path is refused by CloudFront's output validation...
    assert "original_path" in " ".join(failures["track-token"])
    # ...and it leaks private data to the origin.
    assert failures["private-data-jobs"]


def test_track_rewrite_keeps_the_viewer_path_recoverable() -> None:
    case = next(c for c in CASES if c.name == "track-encoded-path")
    value = run(CODE, case.event).output["request"]["querystring"]["original_path"]["value"]
    assert unquote(value) == case.event["request"]["uri"]


# --- the case format and its checker --------------------------------------------------------------


def _case(**changes: object) -> FunctionCase:
    base = {
        "name": "x",
        "path": Path("x.json"),
        "description": "",
        "event": {"request": {"uri": "/"}},
        "expected_output": {
            "request": {"uri": "/index.html", "querystring": {"a": {"value": "1"}}}
        },
        "expected_error": None,
    }
    base.update(changes)
    return FunctionCase(**base)


def test_check_output_lists_each_difference_by_path() -> None:
    got = {"request": {"uri": "/x", "querystring": {"b": {"value": "2"}}}}
    diffs = check_output(_case(), json.dumps(got), "")
    assert diffs == [
        'x: request.uri: expected "/index.html", got "/x"',
        'x: request.querystring.a: missing, expected {"value": "1"}',
        'x: request.querystring.b: unexpected {"value": "2"}',
    ]
    expected = {"request": {"uri": "/index.html", "querystring": {"a": {"value": "1"}}}}
    assert check_output(_case(), json.dumps(expected), None) == []


def test_check_output_errors_both_ways() -> None:
    assert check_output(_case(), None, "TypeError: boom") == [
        "x: the function failed: TypeError: boom"
    ]
    assert check_output(_case(), "", "") == ["x: the function returned no output"]
    assert check_output(_case(), "{nope", None)[0].startswith("x: the output is not JSON")
    expects_error = _case(expected_output=None, expected_error="TypeError")
    assert check_output(expects_error, None, "TypeError: boom") == []
    assert "expected an error" in check_output(expects_error, '{"request": {}}', "")[0]
    assert "got 'RangeError: x'" in check_output(expects_error, None, "RangeError: x")[0]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{", "not readable JSON"),
        ("[]", "must be a JSON object"),
        ('{"event": {"request": {"uri": "/"}}}', "exactly one of"),
        ('{"event": {}, "expected_error": "x"}', "request.uri"),
        ('{"event": {"request": {"uri": "/"}}, "expected_output": {"x": 1}}', "expected_output"),
        ('{"event": {"request": {"uri": "/"}}, "expected_error": "", "z": 1}', "unknown keys"),
    ],
)
def test_bad_case_files_are_refused(tmp_path: Path, content: str, fragment: str) -> None:
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "bad.json").write_text(content)
    with pytest.raises(FunctionCaseError, match=r"bad\.json") as caught:
        load_cases(tmp_path)
    assert fragment in str(caught.value)


def test_no_cases_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FunctionCaseError, match="no function test cases"):
        load_cases(tmp_path)


# --- properties -----------------------------------------------------------------------------------

_SEGMENT = st.text(
    alphabet=st.sampled_from(list("abcdjostrkJOSDATA.%2546;\\_-~é ")) | st.characters(),
    max_size=12,
)
_URI = st.one_of(
    st.lists(_SEGMENT, max_size=5).map(lambda parts: "/" + "/".join(parts)),
    st.sampled_from(["/track/", "/book/", "/dashboard/", "/track", "/data/", "/"]).flatmap(
        lambda prefix: _SEGMENT.map(lambda rest: prefix + rest)
    ),
)
_VALUE = st.fixed_dictionaries({"value": st.text(max_size=10)})
_QUERY = st.dictionaries(
    st.sampled_from(["original_path", "ORIGINAL_PATH", "a", "utm", "tag"]) | st.text(max_size=8),
    _VALUE
    | st.builds(
        lambda values: {"value": values[0]["value"], "multiValue": values},
        st.lists(_VALUE, min_size=1, max_size=3),
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(_URI, _QUERY)
def test_never_throws_and_always_returns_a_path_or_a_response(uri: str, query: dict) -> None:
    result = run(CODE, viewer_request_event(uri, query))
    assert result.error is None, result.error
    if "request" in result.output:
        request = result.output["request"]
        assert request["uri"].startswith(f"/{LIVE}/")
        if request["uri"] == f"/{LIVE}/index.html" and uri not in ("/index.html", "/"):
            # A rewrite: exactly one original_path, the viewer's own, and nothing else lost.
            assert request["querystring"]["original_path"] == {"value": _encode(uri)}
            others = {k: v for k, v in query.items() if unquote(k).lower() != "original_path"}
            assert {k: v for k, v in request["querystring"].items() if k != "original_path"} == (
                others
            )
        else:
            served = uri + "index.html" if uri.endswith("/") else uri
            assert request == viewer_request_event(f"/{LIVE}{served}", query)["request"]
    else:
        assert result.output["response"]["statusCode"] in (301, 404)


@settings(max_examples=200, deadline=None)
@given(st.lists(_SEGMENT, max_size=4), st.sampled_from(["jobs.json", "JOBS.JSON", "Jobs.json"]))
def test_jobs_json_anywhere_is_refused(parts: list[str], name: str) -> None:
    uri = "/" + "/".join([*parts, name])
    assert run(CODE, viewer_request_event(uri)).output == {
        "response": {
            "statusCode": 404,
            "statusDescription": "Not Found",
            "headers": {"cache-control": {"value": "no-store"}},
        }
    }


def _encode(uri: str) -> str:
    return quote(uri, safe="~()*!.'-_")  # JavaScript's encodeURIComponent

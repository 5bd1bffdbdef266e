"""CloudFront Functions on the local CloudFront, through boto3 only: stages, ETags, TestFunction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudfront_support import FUNCTION_CONFIG, REWRITE_JS, unchecked_client, unique, viewer_event


@pytest.fixture
def unchecked_cf(aws_stack: Any) -> Any:
    return unchecked_client(aws_stack.cloudfront_url)


def _code(cf: Any, name: str, stage: str) -> str:
    return cf.get_function(Name=name, Stage=stage)["FunctionCode"].read().decode()


def _new_function(cf: Any) -> tuple[str, str]:
    """A fresh function with the test rewrite in DEVELOPMENT: its name and ETag."""
    name = unique("fn")
    created = cf.create_function(
        Name=name, FunctionConfig=FUNCTION_CONFIG, FunctionCode=REWRITE_JS.encode()
    )
    return name, created["ETag"]


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def test_lifecycle_keeps_development_and_live_apart_with_their_own_etags(cf: Any) -> None:
    name = unique("fn")
    created = cf.create_function(
        Name=name, FunctionConfig=FUNCTION_CONFIG, FunctionCode=b"// v1\n" + REWRITE_JS.encode()
    )
    dev_etag = created["ETag"]
    summary = created["FunctionSummary"]
    assert summary["Status"] == "UNPUBLISHED"
    assert summary["FunctionMetadata"]["Stage"] == "DEVELOPMENT"
    assert (
        summary["FunctionMetadata"]["FunctionARN"]
        == f"arn:aws:cloudfront::123456789012:function/{name}"
    )

    described = cf.describe_function(Name=name)
    assert described["ETag"] == dev_etag
    got = cf.get_function(Name=name, Stage="DEVELOPMENT")
    assert got["ETag"] == dev_etag
    assert got["ContentType"] == "application/octet-stream"
    with pytest.raises(cf.exceptions.NoSuchFunctionExists):
        cf.describe_function(Name=name, Stage="LIVE")

    # A stale ETag is refused, and changes nothing.
    with pytest.raises(cf.exceptions.PreconditionFailed) as exc:
        cf.update_function(
            Name=name, IfMatch="E0000000000000", FunctionConfig=FUNCTION_CONFIG, FunctionCode=b"x"
        )
    assert _error(exc) == ("PreconditionFailed", 412)
    assert _code(cf, name, "DEVELOPMENT").startswith("// v1")

    updated = cf.update_function(
        Name=name,
        IfMatch=dev_etag,
        FunctionConfig=FUNCTION_CONFIG,
        FunctionCode=b"// v2\n" + REWRITE_JS.encode(),
    )
    assert updated["ETag"] != dev_etag
    # Publish takes the *current* DEVELOPMENT ETag; the one before the update is stale now.
    with pytest.raises(cf.exceptions.PreconditionFailed):
        cf.publish_function(Name=name, IfMatch=dev_etag)
    published = cf.publish_function(Name=name, IfMatch=updated["ETag"])["FunctionSummary"]
    assert published["FunctionMetadata"]["Stage"] == "LIVE"
    assert published["Status"] == "UNASSOCIATED"

    live = cf.describe_function(Name=name, Stage="LIVE")
    assert live["ETag"] != updated["ETag"]  # each stage has its own ETag
    assert cf.get_function(Name=name, Stage="LIVE")["ETag"] == live["ETag"]
    assert _code(cf, name, "LIVE").startswith("// v2")

    # A DEVELOPMENT-only change leaves LIVE alone until the next publish.
    cf.update_function(
        Name=name,
        IfMatch=updated["ETag"],
        FunctionConfig=FUNCTION_CONFIG,
        FunctionCode=b"// v3\n" + REWRITE_JS.encode(),
    )
    assert _code(cf, name, "DEVELOPMENT").startswith("// v3")
    assert _code(cf, name, "LIVE").startswith("// v2")
    assert cf.describe_function(Name=name, Stage="LIVE")["ETag"] == live["ETag"]

    listed = cf.list_functions()["FunctionList"]["Items"]
    assert name in [f["Name"] for f in listed]
    live_only = cf.list_functions(Stage="LIVE")["FunctionList"]["Items"]
    assert all(f["FunctionMetadata"]["Stage"] == "LIVE" for f in live_only)

    current = cf.describe_function(Name=name)["ETag"]
    cf.delete_function(Name=name, IfMatch=current)
    with pytest.raises(cf.exceptions.NoSuchFunctionExists) as exc:
        cf.describe_function(Name=name)
    assert _error(exc) == ("NoSuchFunctionExists", 404)


def test_missing_if_match_is_invalid_if_match_version(cf: Any, unchecked_cf: Any) -> None:
    name, _ = _new_function(cf)
    calls = [
        lambda: unchecked_cf.update_function(
            Name=name, FunctionConfig=FUNCTION_CONFIG, FunctionCode=b"x"
        ),
        lambda: unchecked_cf.publish_function(Name=name),
        lambda: unchecked_cf.test_function(Name=name, EventObject=viewer_event("/")),
        lambda: unchecked_cf.delete_function(Name=name),
    ]
    for call in calls:
        with pytest.raises(cf.exceptions.InvalidIfMatchVersion) as exc:
            call()
        assert _error(exc) == ("InvalidIfMatchVersion", 400)


def test_test_function_returns_output_logs_and_compute_utilization(cf: Any) -> None:
    name, etag = _new_function(cf)
    result = cf.test_function(Name=name, IfMatch=etag, EventObject=viewer_event("/track/abc"))[
        "TestResult"
    ]
    output = json.loads(result["FunctionOutput"])
    assert output["request"]["uri"] == "/index.html"
    assert output["request"]["querystring"]["original_path"] == {"value": "/track/abc"}
    assert result["FunctionExecutionLogs"] == ["rewrote to /index.html"]
    assert 0 <= int(result["ComputeUtilization"]) <= 100
    assert result["FunctionErrorMessage"] == ""  # AWS sends it empty, not absent
    assert result["FunctionSummary"]["Name"] == name


def test_test_function_reports_a_throw_as_an_error_message(cf: Any) -> None:
    name, etag = _new_function(cf)
    result = cf.test_function(Name=name, IfMatch=etag, EventObject=viewer_event("/boom"))[
        "TestResult"
    ]
    assert "rewrite failed on purpose" in result["FunctionErrorMessage"]
    assert "FunctionOutput" not in result or not result["FunctionOutput"]
    assert 0 <= int(result["ComputeUtilization"]) <= 100


def test_test_function_on_live_takes_the_live_etag(cf: Any) -> None:
    name, dev = _new_function(cf)
    cf.publish_function(Name=name, IfMatch=dev)
    live = cf.describe_function(Name=name, Stage="LIVE")["ETag"]
    with pytest.raises(cf.exceptions.PreconditionFailed):
        cf.test_function(Name=name, IfMatch=dev, Stage="LIVE", EventObject=viewer_event("/book/x"))
    result = cf.test_function(
        Name=name, IfMatch=live, Stage="LIVE", EventObject=viewer_event("/book/x")
    )
    assert json.loads(result["TestResult"]["FunctionOutput"])["request"]["uri"] == "/index.html"
    assert result["TestResult"]["FunctionSummary"]["FunctionMetadata"]["Stage"] == "LIVE"


def test_test_function_refuses_an_event_that_is_not_json(cf: Any) -> None:
    name, etag = _new_function(cf)
    with pytest.raises(cf.exceptions.InvalidArgument):
        cf.test_function(Name=name, IfMatch=etag, EventObject=b"{not json")


def test_code_over_10_kb_is_refused_on_create_and_update(cf: Any) -> None:
    at_limit = ("//" + "x" * (10 * 1024 - 3) + "\n").encode()
    assert len(at_limit) == 10 * 1024
    name = unique("fn")
    etag = cf.create_function(Name=name, FunctionConfig=FUNCTION_CONFIG, FunctionCode=at_limit)[
        "ETag"
    ]
    with pytest.raises(cf.exceptions.FunctionSizeLimitExceeded) as exc:
        cf.update_function(
            Name=name, IfMatch=etag, FunctionConfig=FUNCTION_CONFIG, FunctionCode=at_limit + b" "
        )
    assert _error(exc) == ("FunctionSizeLimitExceeded", 413)
    with pytest.raises(cf.exceptions.FunctionSizeLimitExceeded):
        cf.create_function(
            Name=unique("fn"), FunctionConfig=FUNCTION_CONFIG, FunctionCode=at_limit + b" "
        )


def test_a_second_function_with_the_same_name_is_refused(cf: Any) -> None:
    name, _ = _new_function(cf)
    with pytest.raises(cf.exceptions.FunctionAlreadyExists) as exc:
        cf.create_function(
            Name=name, FunctionConfig=FUNCTION_CONFIG, FunctionCode=REWRITE_JS.encode()
        )
    assert _error(exc) == ("FunctionAlreadyExists", 409)


def test_unknown_runtime_and_bad_names_are_invalid_arguments(cf: Any) -> None:
    with pytest.raises(cf.exceptions.InvalidArgument):
        cf.create_function(
            Name=unique("fn"),
            FunctionConfig={"Comment": "", "Runtime": "nodejs20.x"},
            FunctionCode=REWRITE_JS.encode(),
        )
    with pytest.raises(cf.exceptions.InvalidArgument):
        cf.create_function(Name="has space", FunctionConfig=FUNCTION_CONFIG, FunctionCode=b"x")

"""Malformed requests get an AWS error document with a 4xx, never a 500 or a traceback."""

from __future__ import annotations

from typing import Any

import pytest
from botocore import parsers
from cloudfront_support import Fetched, fetch


def _error_code(answer: Fetched) -> str:
    """The error code as botocore's own rest-xml parser reads it from the body."""
    parsed = parsers.create_parser("rest-xml").parse(
        {"status_code": answer.status, "headers": dict(answer.headers), "body": answer.body}, None
    )
    assert parsed["Error"]["Message"]
    return parsed["Error"]["Code"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/2020-05-31/function", b"<CreateFunctionRequest><Name>x", 400, "MalformedInput"),
        ("POST", "/2020-05-31/function", b"not xml at all", 400, "MalformedInput"),
        ("POST", "/2020-05-31/function", b"<CreateFunctionRequest/>", 400, "InvalidArgument"),
        (
            "POST",
            "/2020-05-31/function",
            b"<CreateFunctionRequest><Name>x</Name><FunctionConfig><Comment/>"
            b"<Runtime>cloudfront-js-2.0</Runtime></FunctionConfig>"
            b"<FunctionCode>!!not base64!!</FunctionCode></CreateFunctionRequest>",
            400,
            "MalformedInput",
        ),
        ("POST", "/2020-05-31/distribution", b"", 400, "MissingBody"),
        (
            "POST",
            "/2020-05-31/distribution/E0000000000000/invalidation",
            b"<InvalidationBatch><Paths><Quantity>one</Quantity></Paths>"
            b"<CallerReference>r</CallerReference></InvalidationBatch>",
            400,
            "MalformedInput",
        ),
        ("GET", "/2020-05-31/no-such-thing", b"", 400, "InvalidAction"),
        ("GET", "/", b"", 400, "InvalidAction"),
        ("GET", "/2020-05-31/function?MaxItems=lots", b"", 400, "InvalidArgument"),
        ("GET", "/2020-05-31/function/nope/describe?Stage=STAGING", b"", 400, "InvalidArgument"),
        ("GET", "/2020-05-31/cache-policy", b"", 400, "UnsupportedOperation"),
    ],
)
def test_malformed_requests_get_aws_error_documents(
    aws_stack: Any, method: str, path: str, body: bytes, status: int, code: str
) -> None:
    answer = fetch(aws_stack.cloudfront_url + path, method=method, data=body or None)
    assert answer.status == status
    assert b"Traceback" not in answer.body
    assert answer.headers["Content-Type"] == "application/xml"
    assert b"<ErrorResponse" in answer.body
    assert _error_code(answer) == code


def test_boto3_sees_an_unimplemented_operation_as_a_client_error(aws_stack: Any) -> None:
    cf = aws_stack.client("cloudfront")
    with pytest.raises(cf.exceptions.UnsupportedOperation):
        cf.list_cache_policies()

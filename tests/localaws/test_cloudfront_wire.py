"""The moto internals the emulator is built on, pinned by what botocore itself sends and parses.

``moto.core.parse.RestXMLParser`` must read exactly what botocore's client serializes, and
``moto.core.serialize``'s rest-xml serializer must write what botocore's client parser reads back
unchanged. A moto upgrade that changes either fails here, not in a DAG run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from botocore import parsers, serialize
from botocore.session import get_session
from cloudfront_support import distribution_config
from werkzeug.datastructures import Headers, MultiDict

from localaws.cloudfront import wire
from localaws.cloudfront.errors import CloudFrontError
from localaws.cloudfront.service import CloudFrontService

BOTOCORE_MODEL = get_session().get_service_model("cloudfront")


def _send(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Serialize as boto3 would, then route and parse as the emulator does."""
    request = serialize.create_serializer("rest-xml").serialize_to_request(
        params, BOTOCORE_MODEL.operation_model(operation)
    )
    path, _, literal_query = request["url_path"].partition("?")
    query = MultiDict(parse_qsl(literal_query, keep_blank_values=True))
    for key, value in request["query_string"].items():
        query.add(key, str(value))
    routed = wire.match_route(request["method"], path, query)
    assert routed is not None, f"{operation} was not routed"
    assert routed[0] == operation
    return wire.parse_input(
        operation,
        method=request["method"],
        raw_path=path,
        url_params=routed[1],
        query=query,
        headers=Headers(list(request["headers"].items())),
        body=request["body"],
    )


def _receive(operation: str, result: dict[str, Any]) -> dict[str, Any]:
    """Serialize as the emulator does, then parse as boto3 would."""
    out = wire.serialize_result(operation, result)
    return parsers.create_parser("rest-xml").parse(
        {"status_code": out.status, "headers": out.headers, "body": out.body},
        BOTOCORE_MODEL.operation_model(operation).output_shape,
    )


def test_every_operation_the_service_implements_is_routed_from_the_model() -> None:
    service = CloudFrontService(invalidation_delay=0)
    for operation in service.operations:
        http = BOTOCORE_MODEL.operation_model(operation).http
        path, _, literal = http["requestUri"].partition("?")
        path = path.replace("{Name}", "fn").replace("{DistributionId}", "E1").replace("{Id}", "X1")
        query = MultiDict(parse_qsl(literal, keep_blank_values=True))
        assert wire.match_route(http["method"], path, query) is not None
        assert wire.match_route(http["method"], path, query)[0] == operation


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        (
            "CreateFunction",
            {
                "Name": "f",
                "FunctionConfig": {"Comment": "c", "Runtime": "cloudfront-js-2.0"},
                "FunctionCode": b"function handler(e) { return e.request; }",
            },
        ),
        ("DescribeFunction", {"Name": "f", "Stage": "LIVE"}),
        ("TestFunction", {"Name": "f", "IfMatch": "E1", "EventObject": b'{"request": {}}'}),
        ("PublishFunction", {"Name": "f", "IfMatch": "E1"}),
        ("ListFunctions", {"MaxItems": "5", "Stage": "DEVELOPMENT"}),
        (
            "CreateInvalidation",
            {
                "DistributionId": "E1",
                "InvalidationBatch": {
                    "CallerReference": "r",
                    "Paths": {"Quantity": 2, "Items": ["/a", "/b*"]},
                },
            },
        ),
        ("CreateDistribution", {"DistributionConfig": distribution_config("b", with_api=True)}),
        (
            "UpdateDistribution",
            {
                "Id": "E1",
                "IfMatch": "E2",
                "DistributionConfig": distribution_config("b", function_arn="arn:x"),
            },
        ),
    ],
)
def test_requests_boto3_sends_parse_back_to_the_same_parameters(
    operation: str, params: dict[str, Any]
) -> None:
    assert _send(operation, params) == params


def test_responses_parse_in_botocore_as_they_were_written() -> None:
    when = datetime(2026, 11, 26, 15, 0, 0, tzinfo=UTC)
    summary = {
        "Name": "f",
        "Status": "UNPUBLISHED",
        "FunctionConfig": {
            "Comment": "c",
            "Runtime": "cloudfront-js-2.0",
            "KeyValueStoreAssociations": {"Quantity": 0},
        },
        "FunctionMetadata": {
            "FunctionARN": "arn:aws:cloudfront::123456789012:function/f",
            "Stage": "DEVELOPMENT",
            "CreatedTime": when,
            "LastModifiedTime": when,
        },
    }
    parsed = _receive("DescribeFunction", {"FunctionSummary": summary, "ETag": "E1234567890ABC"})
    assert parsed["ETag"] == "E1234567890ABC"
    assert parsed["FunctionSummary"] == summary

    code = b"function handler(e) { return e.request; }"
    parsed = _receive(
        "GetFunction",
        {"FunctionCode": code, "ETag": "E1", "ContentType": "application/octet-stream"},
    )
    # botocore's bare parser hands a blob payload back as text; the client wraps it in a stream.
    assert parsed["FunctionCode"] == code.decode()
    assert parsed["ContentType"] == "application/octet-stream"

    test_result = {
        "FunctionSummary": summary,
        "ComputeUtilization": "12",
        "FunctionExecutionLogs": ["one", "two"],
        "FunctionErrorMessage": "boom",
    }
    assert _receive("TestFunction", {"TestResult": test_result})["TestResult"] == test_result

    invalidation = {
        "Id": "I1",
        "Status": "InProgress",
        "CreateTime": when,
        "InvalidationBatch": {"CallerReference": "r", "Paths": {"Quantity": 1, "Items": ["/*"]}},
    }
    parsed = _receive(
        "CreateInvalidation", {"Location": "https://x/I1", "Invalidation": invalidation}
    )
    assert parsed["Invalidation"] == invalidation
    assert parsed["Location"] == "https://x/I1"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("PreconditionFailed", 412),
        ("InvalidIfMatchVersion", 400),
        ("NoSuchFunctionExists", 404),
        ("FunctionSizeLimitExceeded", 413),
        ("TestFunctionFailed", 500),
        ("InvalidationBatchAlreadyExists", 409),
        ("MalformedInput", 400),
    ],
)
def test_errors_carry_the_models_status_and_parse_as_aws_errors(code: str, status: int) -> None:
    out = wire.serialize_error("UpdateFunction", CloudFrontError(code, "why it failed"))
    assert out.status == status
    parsed = parsers.create_parser("rest-xml").parse(
        {"status_code": out.status, "headers": out.headers, "body": out.body},
        BOTOCORE_MODEL.operation_model("UpdateFunction").output_shape,
    )
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == "why it failed"
    assert parsed["ResponseMetadata"]["RequestId"] == out.headers["x-amz-request-id"]

"""Key value stores on the local CloudFront's control plane, through boto3 only: the lifecycle
with its ETags, the S3 import, and function associations per stage."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cloudfront_support import (
    FUNCTION_CONFIG,
    REWRITE_JS,
    kvs_function_config,
    new_store,
    unchecked_client,
    unique,
)

_ARN = re.compile(r"arn:aws:cloudfront::123456789012:key-value-store/[0-9a-f-]{36}\Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


@pytest.fixture
def unchecked_cf(aws_stack: Any) -> Any:
    return unchecked_client(aws_stack.cloudfront_url)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def test_lifecycle_with_if_match(cf: Any, unchecked_cf: Any) -> None:
    name = unique("kvs")
    created = cf.create_key_value_store(Name=name, Comment="first")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    store = created["KeyValueStore"]
    assert (store["Name"], store["Comment"], store["Status"]) == (name, "first", "READY")
    assert _UUID.match(store["Id"])
    assert _ARN.match(store["ARN"])
    assert store["ARN"].endswith("/" + store["Id"])
    assert created["Location"].endswith(f"/2020-05-31/key-value-store/{name}")
    first = created["ETag"]
    assert cf.describe_key_value_store(Name=name)["ETag"] == first

    with pytest.raises(cf.exceptions.EntityAlreadyExists) as exc:
        cf.create_key_value_store(Name=name)
    assert _error(exc) == ("EntityAlreadyExists", 409)

    with pytest.raises(cf.exceptions.PreconditionFailed) as exc:
        cf.update_key_value_store(Name=name, Comment="x", IfMatch="E0000000000000")
    assert _error(exc) == ("PreconditionFailed", 412)
    with pytest.raises(cf.exceptions.InvalidIfMatchVersion) as exc:
        unchecked_cf.update_key_value_store(Name=name, Comment="x")
    assert _error(exc) == ("InvalidIfMatchVersion", 400)
    assert cf.describe_key_value_store(Name=name)["KeyValueStore"]["Comment"] == "first"

    updated = cf.update_key_value_store(Name=name, Comment="second", IfMatch=first)
    assert updated["ETag"] != first
    assert updated["KeyValueStore"]["Comment"] == "second"
    assert updated["KeyValueStore"]["Id"] == store["Id"]
    described = cf.describe_key_value_store(Name=name)
    assert (described["ETag"], described["KeyValueStore"]["Comment"]) == (
        updated["ETag"],
        "second",
    )

    # The ETag before the update is stale for the delete too.
    with pytest.raises(cf.exceptions.PreconditionFailed):
        cf.delete_key_value_store(Name=name, IfMatch=first)
    with pytest.raises(cf.exceptions.InvalidIfMatchVersion):
        unchecked_cf.delete_key_value_store(Name=name)
    cf.delete_key_value_store(Name=name, IfMatch=updated["ETag"])
    with pytest.raises(cf.exceptions.EntityNotFound) as exc:
        cf.describe_key_value_store(Name=name)
    assert _error(exc) == ("EntityNotFound", 404)
    with pytest.raises(cf.exceptions.EntityNotFound):
        cf.update_key_value_store(Name=name, Comment="x", IfMatch=updated["ETag"])


def test_list_pages_by_name(cf: Any) -> None:
    prefix = unique("page")
    names = [f"{prefix}-{i}" for i in range(3)]
    for name in names:
        cf.create_key_value_store(Name=name)
    first = cf.list_key_value_stores(Marker=names[0], MaxItems="2")["KeyValueStoreList"]
    assert [s["Name"] for s in first["Items"]] == names[:2]
    assert (first["Quantity"], first["NextMarker"]) == (2, names[2])
    rest = cf.list_key_value_stores(Marker=first["NextMarker"], MaxItems="2")["KeyValueStoreList"]
    assert rest["Items"][0]["Name"] == names[2]
    assert all(s["Status"] == "READY" for s in first["Items"] + rest["Items"])
    failed = cf.list_key_value_stores(Marker=names[0], Status="PROVISIONING_FAILED")
    assert failed["KeyValueStoreList"]["Quantity"] == 0


def test_names_and_comments_are_checked(cf: Any) -> None:
    with pytest.raises(cf.exceptions.InvalidArgument):
        cf.create_key_value_store(Name="has space")
    with pytest.raises(cf.exceptions.InvalidArgument):
        cf.create_key_value_store(Name=unique("kvs"), Comment="x" * 129)


def _upload(aws_stack: Any, body: bytes) -> str:
    s3 = aws_stack.client("s3")
    bucket = unique("import")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kvs/data.json", Body=body)
    return f"arn:aws:s3:::{bucket}/kvs/data.json"


def test_import_from_s3_fills_the_store(aws_stack: Any, cf: Any, kvs: Any) -> None:
    doc = {"data": [{"key": "live", "value": "b-1"}, {"key": "routes", "value": '{"a": 1}'}]}
    source = _upload(aws_stack, json.dumps(doc).encode())
    created = cf.create_key_value_store(
        Name=unique("kvs"), ImportSource={"SourceType": "S3", "SourceARN": source}
    )
    arn = created["KeyValueStore"]["ARN"]
    described = kvs.describe_key_value_store(KvsARN=arn)
    assert (described["ItemCount"], described["Status"]) == (2, "READY")
    assert described["TotalSizeInBytes"] == len('liveb-1routes{"a": 1}')
    assert kvs.get_key(KvsARN=arn, Key="routes")["Value"] == '{"a": 1}'


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (b"not json", "InvalidArgument", "not UTF-8 JSON"),
        (b'{"items": []}', "InvalidArgument", "not UTF-8 JSON"),
        (
            b'{"data": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}',
            "InvalidArgument",
            "twice",
        ),
        (b'{"data": [{"key": "k", "value": "' + b"v" * 1025 + b'"}]}', "InvalidArgument", "1024"),
        (b" " * (5 * 1024 * 1024 + 1), "EntitySizeLimitExceeded", "5242880"),
    ],
)
def test_an_import_file_that_cannot_be_imported_is_refused(
    aws_stack: Any, cf: Any, body: bytes, code: str, fragment: str
) -> None:
    name = unique("kvs")
    source = _upload(aws_stack, body)
    with pytest.raises(ClientError) as exc:
        cf.create_key_value_store(Name=name, ImportSource={"SourceType": "S3", "SourceARN": source})
    assert exc.value.response["Error"]["Code"] == code
    assert fragment in exc.value.response["Error"]["Message"]
    with pytest.raises(cf.exceptions.EntityNotFound):
        cf.describe_key_value_store(Name=name)


def test_an_import_source_that_cannot_be_read_is_refused(aws_stack: Any, cf: Any) -> None:
    missing = _upload(aws_stack, b"{}").replace("kvs/data.json", "kvs/nothing.json")
    for source in (
        {"SourceType": "S3", "SourceARN": missing},
        {"SourceType": "S3", "SourceARN": "arn:aws:s3:::bucket-only"},
        {"SourceType": "FTP", "SourceARN": missing},
    ):
        with pytest.raises(cf.exceptions.InvalidArgument):
            cf.create_key_value_store(Name=unique("kvs"), ImportSource=source)


def _associations(summary: dict[str, Any]) -> list[str]:
    found = summary["FunctionConfig"]["KeyValueStoreAssociations"]
    return [item["KeyValueStoreARN"] for item in found.get("Items", [])]


def test_function_associations_are_kept_per_stage(cf: Any) -> None:
    store = new_store(cf)
    arn = store["KeyValueStore"]["ARN"]
    name = unique("fn")
    created = cf.create_function(
        Name=name, FunctionConfig=kvs_function_config(arn), FunctionCode=REWRITE_JS.encode()
    )
    assert _associations(created["FunctionSummary"]) == [arn]
    cf.publish_function(Name=name, IfMatch=created["ETag"])
    live = cf.describe_function(Name=name, Stage="LIVE")["FunctionSummary"]
    assert _associations(live) == [arn]
    listed = cf.list_functions(Stage="LIVE")["FunctionList"]["Items"]
    assert _associations(next(f for f in listed if f["Name"] == name)) == [arn]

    # DEVELOPMENT drops the association; LIVE keeps it until the next publish.
    dev = cf.update_function(
        Name=name,
        IfMatch=created["ETag"],
        FunctionConfig=kvs_function_config(None),
        FunctionCode=REWRITE_JS.encode(),
    )
    assert _associations(dev["FunctionSummary"]) == []
    assert _associations(cf.describe_function(Name=name, Stage="LIVE")["FunctionSummary"]) == [arn]
    # Still in use by LIVE: the store cannot go.
    with pytest.raises(cf.exceptions.CannotDeleteEntityWhileInUse) as exc:
        cf.delete_key_value_store(Name=store["KeyValueStore"]["Name"], IfMatch=store["ETag"])
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    cf.publish_function(Name=name, IfMatch=dev["ETag"])
    assert _associations(cf.describe_function(Name=name, Stage="LIVE")["FunctionSummary"]) == []
    cf.delete_key_value_store(Name=store["KeyValueStore"]["Name"], IfMatch=store["ETag"])


def test_associations_aws_refuses(cf: Any) -> None:
    first = new_store(cf)["KeyValueStore"]["ARN"]
    second = new_store(cf)["KeyValueStore"]["ARN"]
    gone = "arn:aws:cloudfront::123456789012:key-value-store/00000000-0000-4000-8000-000000000000"
    two = kvs_function_config(first)
    two["KeyValueStoreAssociations"] = {
        "Quantity": 2,
        "Items": [{"KeyValueStoreARN": first}, {"KeyValueStoreARN": second}],
    }
    for config, fragment in [
        (kvs_function_config(first, runtime="cloudfront-js-1.0"), "cloudfront-js-2.0"),
        (two, "at most 1"),
        (kvs_function_config(gone), "does not exist"),
    ]:
        with pytest.raises(cf.exceptions.InvalidArgument) as exc:
            cf.create_function(Name=unique("fn"), FunctionConfig=config, FunctionCode=b"x")
        assert fragment in exc.value.response["Error"]["Message"]
    # The same rules on UpdateFunction.
    name = unique("fn")
    etag = cf.create_function(
        Name=name, FunctionConfig=FUNCTION_CONFIG, FunctionCode=REWRITE_JS.encode()
    )["ETag"]
    with pytest.raises(cf.exceptions.InvalidArgument):
        cf.update_function(
            Name=name,
            IfMatch=etag,
            FunctionConfig=kvs_function_config(gone),
            FunctionCode=REWRITE_JS.encode(),
        )
    assert _associations(cf.describe_function(Name=name)["FunctionSummary"]) == []

"""The key value store data plane (``cloudfront-keyvaluestore``) on the local CloudFront, through
unmodified boto3: keys, their ETag, paging and AWS's limits.

boto3 signs this service with SigV4A and puts the account id in front of the endpoint's host, so
the client names a made-up endpoint and reaches the local CloudFront as its HTTP proxy (see
``localaws.stack.client``); the control plane answers on the same port.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from cloudfront_support import fetch, kvs_client, new_store, private_cloudfront

from localaws.cloudfront import kvswire
from localaws.cloudfront.service import CloudFrontService


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def store(cf: Any) -> str:
    """A fresh, empty store's ARN."""
    return new_store(cf)["KeyValueStore"]["ARN"]


def test_every_data_operation_is_routed_from_its_model() -> None:
    service = CloudFrontService(invalidation_delay=0)
    arn = "arn%3Aaws%3Acloudfront%3A%3A123456789012%3Akey-value-store%2Fx"
    for operation in service.data_operations:
        http = kvswire.SERVICE_MODEL.operation_model(operation).http
        path = http["requestUri"].replace("{KvsARN}", arn).replace("{Key}", "k")
        assert kvswire.match_route(http["method"], path, {}) == (
            operation,
            {"KvsARN": "arn:aws:cloudfront::123456789012:key-value-store/x"}
            | ({"Key": "k"} if "{Key}" in http["requestUri"] else {}),
        )


def test_put_get_delete_with_the_data_etag(kvs: Any, store: str) -> None:
    empty = kvs.describe_key_value_store(KvsARN=store)
    assert (empty["ItemCount"], empty["TotalSizeInBytes"], empty["KvsARN"]) == (0, 0, store)
    assert empty["Status"] == "READY"
    assert empty["ETag"].startswith("KV")

    put = kvs.put_key(KvsARN=store, Key="live", Value="build-1", IfMatch=empty["ETag"])
    assert put["ETag"] != empty["ETag"]
    assert (put["ItemCount"], put["TotalSizeInBytes"]) == (1, len("livebuild-1"))
    got = kvs.get_key(KvsARN=store, Key="live")
    assert (got["Key"], got["Value"], got["ItemCount"]) == ("live", "build-1", 1)
    described = kvs.describe_key_value_store(KvsARN=store)
    assert described["ETag"] == put["ETag"]
    assert described["LastModified"] >= empty["LastModified"]

    # A writer holding the old ETag is refused, and nothing changes.
    with pytest.raises(kvs.exceptions.ConflictException) as exc:
        kvs.put_key(KvsARN=store, Key="live", Value="build-0", IfMatch=empty["ETag"])
    assert _error(exc) == ("ConflictException", 409)
    assert kvs.get_key(KvsARN=store, Key="live")["Value"] == "build-1"
    with pytest.raises(kvs.exceptions.ConflictException):
        kvs.delete_key(KvsARN=store, Key="live", IfMatch=empty["ETag"])

    replaced = kvs.put_key(KvsARN=store, Key="live", Value="build-2", IfMatch=put["ETag"])
    assert kvs.get_key(KvsARN=store, Key="live")["Value"] == "build-2"
    deleted = kvs.delete_key(KvsARN=store, Key="live", IfMatch=replaced["ETag"])
    assert (deleted["ItemCount"], deleted["TotalSizeInBytes"]) == (0, 0)
    assert deleted["ETag"] not in (empty["ETag"], put["ETag"], replaced["ETag"])
    with pytest.raises(kvs.exceptions.ResourceNotFoundException) as exc:
        kvs.get_key(KvsARN=store, Key="live")
    assert _error(exc) == ("ResourceNotFoundException", 404)
    with pytest.raises(kvs.exceptions.ResourceNotFoundException):
        kvs.delete_key(KvsARN=store, Key="live", IfMatch=deleted["ETag"])


def test_an_unknown_store_is_resource_not_found(kvs: Any) -> None:
    gone = "arn:aws:cloudfront::123456789012:key-value-store/00000000-0000-4000-8000-000000000000"
    with pytest.raises(kvs.exceptions.ResourceNotFoundException):
        kvs.describe_key_value_store(KvsARN=gone)
    with pytest.raises(kvs.exceptions.ResourceNotFoundException):
        kvs.put_key(KvsARN=gone, Key="k", Value="v", IfMatch="KV0")


def test_a_deleted_store_is_gone_from_the_data_plane(cf: Any, kvs: Any) -> None:
    created = new_store(cf, {"k": "v"})
    arn = created["KeyValueStore"]["ARN"]
    assert kvs.get_key(KvsARN=arn, Key="k")["Value"] == "v"
    cf.delete_key_value_store(Name=created["KeyValueStore"]["Name"], IfMatch=created["ETag"])
    with pytest.raises(kvs.exceptions.ResourceNotFoundException):
        kvs.get_key(KvsARN=arn, Key="k")


def test_update_keys_puts_and_deletes_all_or_nothing(kvs: Any, store: str) -> None:
    etag = kvs.describe_key_value_store(KvsARN=store)["ETag"]
    first = kvs.update_keys(
        KvsARN=store, IfMatch=etag, Puts=[{"Key": f"k{i}", "Value": str(i)} for i in range(5)]
    )
    assert first["ItemCount"] == 5
    second = kvs.update_keys(
        KvsARN=store,
        IfMatch=first["ETag"],
        Puts=[{"Key": "k0", "Value": "zero"}, {"Key": "new", "Value": "n"}],
        # k9 is not there: the call's aim (gone) already holds.
        Deletes=[{"Key": "k1"}, {"Key": "k9"}],
    )
    assert second["ItemCount"] == 5
    keys = {i["Key"]: i["Value"] for i in kvs.list_keys(KvsARN=store)["Items"]}
    assert keys == {"k0": "zero", "k2": "2", "k3": "3", "k4": "4", "new": "n"}

    # One bad value refuses the whole call.
    with pytest.raises(kvs.exceptions.ValidationException):
        kvs.update_keys(
            KvsARN=store,
            IfMatch=second["ETag"],
            Puts=[{"Key": "k2", "Value": "changed"}, {"Key": "big", "Value": "v" * 1025}],
        )
    with pytest.raises(kvs.exceptions.ValidationException):
        kvs.update_keys(
            KvsARN=store,
            IfMatch=second["ETag"],
            Puts=[{"Key": "k2", "Value": "changed"}],
            Deletes=[{"Key": "k2"}],
        )
    with pytest.raises(kvs.exceptions.ConflictException):
        kvs.update_keys(KvsARN=store, IfMatch=first["ETag"], Deletes=[{"Key": "k2"}])
    assert kvs.get_key(KvsARN=store, Key="k2")["Value"] == "2"
    assert kvs.describe_key_value_store(KvsARN=store)["ETag"] == second["ETag"]


def test_list_keys_pages_in_key_order(kvs: Any, store: str) -> None:
    names = sorted(f"key-{i:02d}" for i in range(23))
    etag = kvs.describe_key_value_store(KvsARN=store)["ETag"]
    kvs.update_keys(KvsARN=store, IfMatch=etag, Puts=[{"Key": k, "Value": k} for k in names])
    pages = []
    token = None
    while True:
        page = kvs.list_keys(KvsARN=store, MaxResults=10, **({"NextToken": token} if token else {}))
        pages.append([item["Key"] for item in page["Items"]])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [10, 10, 3]
    assert [key for page in pages for key in page] == names
    # The default page is 10; botocore's own paginator walks the rest.
    assert len(kvs.list_keys(KvsARN=store)["Items"]) == 10
    walked = [
        i["Key"] for p in kvs.get_paginator("list_keys").paginate(KvsARN=store) for i in p["Items"]
    ]
    assert walked == names

    unchecked = kvs_client(kvs.meta.config.proxies["http"], checked=False)
    for bad in ({"MaxResults": 51}, {"MaxResults": 0}, {"NextToken": "%%%"}):
        with pytest.raises(unchecked.exceptions.ValidationException) as exc:
            unchecked.list_keys(KvsARN=store, **bad)
        assert _error(exc) == ("ValidationException", 400)


@pytest.mark.parametrize(
    ("key", "value"),
    [("k" * 513, "v"), ("k", "v" * 1025), ("é" * 257, "v"), ("k", "é" * 513)],
)
def test_keys_over_512_bytes_and_values_over_1_kb_are_refused(
    kvs: Any, store: str, key: str, value: str
) -> None:
    etag = kvs.describe_key_value_store(KvsARN=store)["ETag"]
    with pytest.raises(kvs.exceptions.ValidationException) as exc:
        kvs.put_key(KvsARN=store, Key=key, Value=value, IfMatch=etag)
    assert _error(exc) == ("ValidationException", 400)
    assert kvs.describe_key_value_store(KvsARN=store)["ItemCount"] == 0


def test_limits_at_the_edge_of_what_aws_allows(kvs: Any, store: str) -> None:
    etag = kvs.describe_key_value_store(KvsARN=store)["ETag"]
    at_limit = kvs.put_key(KvsARN=store, Key="k" * 512, Value="v" * 1024, IfMatch=etag)
    assert at_limit["TotalSizeInBytes"] == 512 + 1024
    fifty = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    done = kvs.update_keys(KvsARN=store, IfMatch=at_limit["ETag"], Puts=fifty)
    assert done["ItemCount"] == 51
    with pytest.raises(kvs.exceptions.ValidationException):
        kvs.update_keys(
            KvsARN=store, IfMatch=done["ETag"], Puts=fifty, Deletes=[{"Key": "k" * 512}]
        )


# 5 MB in entries of exactly 1 KB: a 24-byte key and a 1000-byte value.
_STORE_LIMIT = 5 * 1024 * 1024
_ENTRY = 1024


def _entry_key(n: int) -> str:
    return f"{n:05d}".ljust(_ENTRY - 1000, "k")


def test_a_store_over_5_mb_is_a_service_quota(aws_stack: Any, tmp_path: Any) -> None:
    # A CloudFront of its own, without a state file: 5 MB of keys would slow every later
    # write of the shared stack, which saves its whole account after each one.
    with private_cloudfront(aws_stack.moto_url, tmp_path) as cloudfront:
        kvs = cloudfront.kvs_client()
        arn = new_store(cloudfront.client())["KeyValueStore"]["ARN"]
        etag = kvs.describe_key_value_store(KvsARN=arn)["ETag"]
        # All but one KB of the limit, 50 entries (the most one UpdateKeys takes) at a time.
        entries = list(range(_STORE_LIMIT // _ENTRY - 1))
        for start in range(0, len(entries), 50):
            puts = [{"Key": _entry_key(n), "Value": "v" * 1000} for n in entries[start:][:50]]
            answer = kvs.update_keys(KvsARN=arn, IfMatch=etag, Puts=puts)
            etag = answer["ETag"]
        assert answer["TotalSizeInBytes"] == _STORE_LIMIT - _ENTRY
        with pytest.raises(kvs.exceptions.ServiceQuotaExceededException) as exc:
            kvs.put_key(KvsARN=arn, Key="over", Value="v" * 1024, IfMatch=etag)
        assert _error(exc) == ("ServiceQuotaExceededException", 402)
        # Filling it to the byte is allowed.
        last = kvs.put_key(KvsARN=arn, Key="x", Value="v" * (_ENTRY - 1), IfMatch=etag)
        assert last["TotalSizeInBytes"] == _STORE_LIMIT


def test_requests_arrive_in_absolute_form_through_the_proxy(aws_stack: Any) -> None:
    kvs = aws_stack.client("cloudfront-keyvaluestore")
    assert kvs.meta.endpoint_url == "http://kvs.localaws"
    assert kvs.meta.config.proxies == {"http": aws_stack.cloudfront_url}
    # The control plane on the same port is not disturbed.
    assert aws_stack.client("cloudfront").list_key_value_stores()["KeyValueStoreList"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/key-value-stores/x/nothing/here", b"", 404, "UnknownOperationException"),
        ("PUT", "/key-value-stores/{arn}/keys/k", b"{not json", 400, "ValidationException"),
        ("PUT", "/key-value-stores/{arn}/keys/k", b"{}", 400, "ValidationException"),
    ],
)
def test_malformed_data_plane_requests_get_json_errors(
    aws_stack: Any, store: str, method: str, path: str, body: bytes, status: int, code: str
) -> None:
    answer = fetch(
        aws_stack.cloudfront_url + path.format(arn=quote(store, safe="")),
        method=method,
        headers={"If-Match": "KV0", "Content-Type": "application/json"},
        data=body or None,
    )
    assert (answer.status, answer.headers["X-Amzn-Errortype"]) == (status, code)
    assert answer.json()["Message"]

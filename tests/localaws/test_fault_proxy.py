"""The fault proxy over real HTTP: boto3 through it against the session's moto server.

Two promises are checked. Without a rule the proxy is invisible: what a client sends reaches
moto byte for byte and moto's answer comes back as moto sent it, conditional-request statuses
included. With a rule, the client sees exactly the fault it names, no more often than ``times``,
not before ``after``, and only on the operation, bucket and keys the rule names.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from localaws import stack
from localaws.fault_proxy import FaultProxy, RuleError, classify

# A body with every byte value, several times over: any text decoding on the way would show.
BINARY = bytes(range(256)) * 64
# Larger than a single socket read or write many times over, smaller than boto3's 8 MB
# multipart threshold, so it is one PutObject.
FIVE_MB = 5 * 1024 * 1024
# moto does not check signatures; a SigV4 header with an S3 credential scope is all it needs to
# route a hand-written request to S3.
S3_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=00"
)
# Headers moto sets afresh on every response: the clock and a random request id.
VOLATILE_HEADERS = {"date", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2"}
CONNECTION_ERRORS = (ConnectionClosedError, EndpointConnectionError)


@pytest.fixture
def bucket(fault_proxy: FaultProxy) -> str:
    """A bucket of this test's own, made straight on moto so the proxy's counts start at 0."""
    name = f"fp-{uuid.uuid4().hex[:12]}"
    fault_proxy.upstream_client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3(fault_proxy: FaultProxy) -> Any:
    """S3 through the proxy, one attempt per call: a fault reaches the caller as it is."""
    return fault_proxy.client("s3", max_attempts=1)


@pytest.fixture
def moto_s3(fault_proxy: FaultProxy) -> Any:
    """S3 straight on moto: what a request really left behind."""
    return fault_proxy.upstream_client("s3")


def _error(call: Callable[[], Any]) -> ClientError:
    with pytest.raises(ClientError) as info:
        call()
    return info.value


def _exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        return False
    return True


def _head_fields(head: dict[str, Any]) -> dict[str, Any]:
    fields = ("ContentLength", "ETag", "LastModified", "ContentType", "Metadata")
    return {name: head.get(name) for name in fields}


# --- forwarding is transparent ------------------------------------------------------------------


def test_round_trips_through_the_proxy_equal_moto(
    fault_proxy: FaultProxy, s3: Any, moto_s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="bin/all-bytes", Body=BINARY, Metadata={"origin": "proxy"})
    assert s3.get_object(Bucket=bucket, Key="bin/all-bytes")["Body"].read() == BINARY
    assert moto_s3.get_object(Bucket=bucket, Key="bin/all-bytes")["Body"].read() == BINARY
    assert _head_fields(s3.head_object(Bucket=bucket, Key="bin/all-bytes")) == _head_fields(
        moto_s3.head_object(Bucket=bucket, Key="bin/all-bytes")
    )

    big = os.urandom(FIVE_MB)
    s3.put_object(Bucket=bucket, Key="bin/big", Body=big)
    digest = hashlib.sha256(s3.get_object(Bucket=bucket, Key="bin/big")["Body"].read())
    assert digest.hexdigest() == hashlib.sha256(big).hexdigest()

    s3.copy_object(Bucket=bucket, Key="copy/all-bytes", CopySource=f"{bucket}/bin/all-bytes")
    assert moto_s3.get_object(Bucket=bucket, Key="copy/all-bytes")["Body"].read() == BINARY

    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert listed == moto_s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in listed] == ["bin/all-bytes", "bin/big", "copy/all-bytes"]

    s3.delete_object(Bucket=bucket, Key="copy/all-bytes")
    assert not _exists(moto_s3, bucket, "copy/all-bytes")

    assert fault_proxy.status()["requests"] == {
        "PutObject": 2,
        "GetObject": 2,
        "HeadObject": 1,
        "CopyObject": 1,
        "ListObjectsV2": 1,
        "DeleteObject": 1,
    }


def _raw(conn: http.client.HTTPConnection, method: str, path: str) -> tuple[int, dict, bytes]:
    conn.request(method, path, headers={"Authorization": S3_AUTH})
    response = conn.getresponse()
    body = response.read()
    headers = {
        name.lower(): value
        for name, value in response.getheaders()
        if name.lower() not in VOLATILE_HEADERS | {"connection"}
    }
    return response.status, headers, body


def test_wire_answers_are_moto_s_own_on_one_kept_alive_connection(
    fault_proxy: FaultProxy, moto_s3: Any, bucket: str
) -> None:
    moto_s3.put_object(Bucket=bucket, Key="wire/a b+c", Body=BINARY, ContentType="text/x-odd")
    requests = [
        ("GET", f"/{bucket}/wire/a%20b%2Bc"),
        ("HEAD", f"/{bucket}/wire/a%20b%2Bc"),
        ("GET", f"/{bucket}?list-type=2&prefix=wire%2F"),
        ("GET", f"/{bucket}/wire/missing"),
        ("HEAD", f"/{bucket}/wire/missing"),
    ]
    proxy_url = urlsplit(fault_proxy.url)
    moto_url = urlsplit(fault_proxy.upstream)
    via_proxy = http.client.HTTPConnection(proxy_url.hostname, proxy_url.port, timeout=10)
    kept: socket.socket | None = None
    for method, path in requests:
        direct = http.client.HTTPConnection(moto_url.hostname, moto_url.port, timeout=10)
        expected = _raw(direct, method, path)
        direct.close()
        got = _raw(via_proxy, method, path)
        if method == "GET" and path.endswith("missing"):
            # moto's NoSuchKey body carries a fresh request id; the rest must be equal.
            assert b"<Code>NoSuchKey</Code>" in got[2]
            assert got[:2] == expected[:2]
        else:
            assert got == expected, (method, path)
        # http.client reconnects silently when a server closes; one socket proves keep-alive.
        kept = kept or via_proxy.sock
        assert via_proxy.sock is kept, (method, path)
    via_proxy.close()
    assert fault_proxy.status()["requests"] == {"GetObject": 2, "HeadObject": 2, "ListObjectsV2": 1}


def test_conditional_statuses_pass_through_unchanged(s3: Any, moto_s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="cond", Body=b"v1")["ETag"]
    cases: list[tuple[str, dict[str, Any]]] = [
        ("get_object", {"IfNoneMatch": etag}),
        ("get_object", {"IfMatch": '"not-the-etag"'}),
        ("head_object", {"IfNoneMatch": etag}),
        ("put_object", {"IfNoneMatch": "*", "Body": b"v2"}),
        ("put_object", {"IfMatch": '"not-the-etag"', "Body": b"v2"}),
    ]
    for operation, extra in cases:
        got = _error(
            lambda op=operation, kw=extra: getattr(s3, op)(Bucket=bucket, Key="cond", **kw)
        )
        want = _error(
            lambda op=operation, kw=extra: getattr(moto_s3, op)(Bucket=bucket, Key="cond", **kw)
        )
        status = got.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status == want.response["ResponseMetadata"]["HTTPStatusCode"], (operation, extra)
        assert got.response["Error"]["Code"] == want.response["Error"]["Code"], (operation, extra)
        assert status in (304, 412), (operation, extra)
    assert moto_s3.get_object(Bucket=bucket, Key="cond")["Body"].read() == b"v1"


def test_aws_chunked_upload_from_boto3_reaches_moto_intact(
    fault_proxy: FaultProxy, s3: Any, moto_s3: Any, bucket: str
) -> None:
    """botocore sends a streaming upload as ``Transfer-Encoding: chunked`` with an aws-chunked
    body and a checksum trailer, but only over TLS; a hook makes it do so here too."""
    sent: dict[str, str] = {}

    def as_trailer(params: dict[str, Any], **_: Any) -> None:
        params["context"]["checksum"]["request_algorithm"]["in"] = "trailer"

    def record(request: Any, **_: Any) -> None:
        sent.update({name.lower(): value.decode() for name, value in request.headers.items()})

    s3.meta.events.register("before-call.s3.PutObject", as_trailer)
    s3.meta.events.register("before-send.s3.PutObject", record)
    body = os.urandom(300_000)  # several aws-chunked chunks (botocore's are 64 KiB)
    s3.put_object(Bucket=bucket, Key="chunked/aws", Body=io.BytesIO(body))

    assert sent["transfer-encoding"] == "chunked"
    assert sent["content-encoding"] == "aws-chunked"
    assert sent["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert moto_s3.get_object(Bucket=bucket, Key="chunked/aws")["Body"].read() == body
    assert fault_proxy.status()["requests"] == {"PutObject": 1}


def test_plain_chunked_upload_reaches_moto_intact(
    fault_proxy: FaultProxy, moto_s3: Any, bucket: str
) -> None:
    body = os.urandom(100_000)
    url = urlsplit(fault_proxy.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    pieces = iter([body[:1], body[1:4096], body[4096:]])
    conn.request("PUT", f"/{bucket}/chunked/plain", body=pieces, headers={"Authorization": S3_AUTH})
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 200
    assert moto_s3.get_object(Bucket=bucket, Key="chunked/plain")["Body"].read() == body


# --- each fault is what the client sees ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "code", "message"),
    [
        ("500", 500, "InternalError", "We encountered an internal error. Please try again."),
        ("503", 503, "SlowDown", "Please reduce your request rate."),
    ],
)
def test_error_faults_reach_boto3_as_s3_errors(
    fault_proxy: FaultProxy,
    s3: Any,
    moto_s3: Any,
    bucket: str,
    fault: str,
    status: int,
    code: str,
    message: str,
) -> None:
    fault_proxy.add("PutObject", fault)
    err = _error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"v"))
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert err.response["Error"]["Code"] == code
    assert err.response["Error"]["Message"] == message
    assert not _exists(moto_s3, bucket, "k"), "an injected error never reaches moto"

    fault_proxy.add("HeadObject", fault)
    head = _error(lambda: s3.head_object(Bucket=bucket, Key="k"))
    assert head.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert [rule["fired"] for rule in fault_proxy.status()["rules"]] == [1, 1]


def test_drop_closes_before_moto_sees_the_request(
    fault_proxy: FaultProxy, s3: Any, moto_s3: Any, bucket: str
) -> None:
    fault_proxy.add("PutObject", "drop")
    with pytest.raises(CONNECTION_ERRORS):
        s3.put_object(Bucket=bucket, Key="dropped", Body=b"v")
    assert not _exists(moto_s3, bucket, "dropped")
    # The same client carries on: the proxy closed one connection, not itself.
    s3.put_object(Bucket=bucket, Key="dropped", Body=b"v2")
    assert moto_s3.get_object(Bucket=bucket, Key="dropped")["Body"].read() == b"v2"


def test_drop_after_lands_the_write_but_loses_the_answer(
    fault_proxy: FaultProxy, s3: Any, moto_s3: Any, bucket: str
) -> None:
    fault_proxy.add("PutObject", "drop_after")
    with pytest.raises(CONNECTION_ERRORS):
        s3.put_object(Bucket=bucket, Key="landed", Body=BINARY)
    assert moto_s3.get_object(Bucket=bucket, Key="landed")["Body"].read() == BINARY
    assert fault_proxy.status()["rules"][0]["fired"] == 1


def test_latency_delays_then_forwards(
    fault_proxy: FaultProxy, s3: Any, moto_s3: Any, bucket: str
) -> None:
    delay_ms = 400  # well above a loopback round trip to moto (a few milliseconds)
    fault_proxy.add("PutObject", "latency", ms=delay_ms)
    started = time.monotonic()
    s3.put_object(Bucket=bucket, Key="slow", Body=b"v")
    assert time.monotonic() - started >= delay_ms / 1000
    assert moto_s3.get_object(Bucket=bucket, Key="slow")["Body"].read() == b"v"


# --- times, after, retries, scope ---------------------------------------------------------------


def _put_outcomes(s3: Any, bucket: str, count: int) -> list[str]:
    outcomes = []
    for n in range(count):
        try:
            s3.put_object(Bucket=bucket, Key=f"n/{n}", Body=b"v")
            outcomes.append("ok")
        except ClientError as err:
            outcomes.append(err.response["Error"]["Code"])
    return outcomes


def test_after_lets_requests_through_then_times_limits_firings(
    fault_proxy: FaultProxy, s3: Any, bucket: str
) -> None:
    fault_proxy.add("PutObject", "500", after=2, times=2)
    assert _put_outcomes(s3, bucket, 5) == ["ok", "ok", "InternalError", "InternalError", "ok"]
    (rule,) = fault_proxy.status()["rules"]
    assert (rule["matched"], rule["fired"]) == (5, 2)


def test_times_zero_fires_until_cleared(fault_proxy: FaultProxy, s3: Any, bucket: str) -> None:
    rule = fault_proxy.add("PutObject", "503", times=0)
    assert rule["times"] is None
    assert _put_outcomes(s3, bucket, 3) == ["SlowDown"] * 3
    fault_proxy.clear()
    assert _put_outcomes(s3, bucket, 1) == ["ok"]
    assert fault_proxy.status() == {"rules": [], "requests": {"PutObject": 1}, "total": 1}


def test_rules_apply_in_order_and_the_first_with_firings_left_wins(
    fault_proxy: FaultProxy, s3: Any, bucket: str
) -> None:
    fault_proxy.add("PutObject", "500")
    fault_proxy.add("*", "503", times=2)
    assert _put_outcomes(s3, bucket, 4) == ["InternalError", "SlowDown", "SlowDown", "ok"]


@pytest.mark.parametrize("fault", ["500", "503"])
def test_standard_retries_absorb_a_single_error(
    fault_proxy: FaultProxy, moto_s3: Any, bucket: str, fault: str
) -> None:
    retrying = fault_proxy.client("s3", max_attempts=3)
    fault_proxy.add("PutObject", fault)
    answer = retrying.put_object(Bucket=bucket, Key="retried", Body=b"v")
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert fault_proxy.requests("PutObject") == 2
    assert moto_s3.get_object(Bucket=bucket, Key="retried")["Body"].read() == b"v"


def test_scoped_rules_leave_other_operations_keys_and_buckets_alone(
    fault_proxy: FaultProxy, s3: Any, moto_s3: Any, bucket: str
) -> None:
    moto_s3.put_object(Bucket=bucket, Key="jobs/existing", Body=b"v")
    fault_proxy.add("PutObject", "500", key_prefix="jobs/", times=0)
    fault_proxy.add("*", "drop", bucket="some-other-bucket", times=0)

    s3.put_object(Bucket=bucket, Key="site/index.html", Body=b"v")
    assert s3.get_object(Bucket=bucket, Key="jobs/existing")["Body"].read() == b"v"
    s3.copy_object(Bucket=bucket, Key="jobs/copied", CopySource=f"{bucket}/jobs/existing")
    err = _error(lambda: s3.put_object(Bucket=bucket, Key="jobs/new", Body=b"v"))
    assert err.response["Error"]["Code"] == "InternalError"
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "jobs/copied"}]})
    s3.list_object_versions(Bucket=bucket)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-old",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "jobs/"},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                }
            ]
        },
    )

    status = fault_proxy.status()
    assert [(rule["matched"], rule["fired"]) for rule in status["rules"]] == [(1, 1), (0, 0)]
    assert status["requests"] == {
        "PutObject": 2,
        "GetObject": 1,
        "CopyObject": 1,
        "DeleteObjects": 1,
        "ListObjectVersions": 1,
        "PutBucketLifecycleConfiguration": 1,
    }
    assert status["total"] == 7
    assert not _exists(moto_s3, bucket, "jobs/new")


def test_other_services_get_their_own_error_formats(fault_proxy: FaultProxy) -> None:
    """moto serves Logs (JSON), SNS (query) and CloudWatch (RPC v2 CBOR) on the same port; a
    rule names their operations too, and the client parses the injected error."""
    logs = fault_proxy.client("logs")
    sns = fault_proxy.client("sns")
    cloudwatch = fault_proxy.client("cloudwatch")
    metric = {"Namespace": "QDN/FaultProxy", "MetricData": [{"MetricName": "m", "Value": 1.0}]}
    fault_proxy.add("DescribeLogGroups", "500")
    fault_proxy.add("ListTopics", "503")
    fault_proxy.add("*", "500", service="monitoring")

    assert _error(logs.describe_log_groups).response["Error"]["Code"] == "InternalFailure"
    assert _error(sns.list_topics).response["Error"]["Code"] == "ServiceUnavailable"
    failed = _error(lambda: cloudwatch.put_metric_data(**metric))
    assert failed.response["Error"]["Code"] == "InternalFailure"
    logs.describe_log_groups()
    sns.list_topics()
    cloudwatch.put_metric_data(**metric)
    assert fault_proxy.status()["requests"] == {
        "DescribeLogGroups": 2,
        "ListTopics": 2,
        "PutMetricData": 2,
    }


def test_firings_are_counted_exactly_under_concurrency(
    fault_proxy: FaultProxy, s3: Any, bucket: str
) -> None:
    callers, firings = 16, 5  # more callers than firings, all at once
    fault_proxy.add("PutObject", "503", times=firings)
    outcomes: list[str] = []
    start = threading.Barrier(callers)

    def put(n: int) -> None:
        start.wait()
        try:
            s3.put_object(Bucket=bucket, Key=f"c/{n}", Body=b"v")
            outcomes.append("ok")
        except ClientError as err:
            outcomes.append(err.response["Error"]["Code"])

    threads = [threading.Thread(target=put, args=(n,)) for n in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted(["SlowDown"] * firings + ["ok"] * (callers - firings))
    assert fault_proxy.status()["rules"][0]["fired"] == firings
    assert fault_proxy.requests("PutObject") == callers


# --- the control API and the process ------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        {"operation": "PutObject", "fault": "teapot"},
        {"operation": "PutObject", "fault": "latency"},
        {"operation": "PutObject", "fault": "500", "ms": 10},
        {"operation": "PutObject", "fault": "500", "times": -1},
        {"operation": "PutObject", "fault": "500", "after": True},
        {"operation": "PutObject", "fault": "500", "prefix": "jobs/"},
        {"fault": "500"},
    ],
)
def test_control_api_refuses_rules_it_cannot_apply(
    fault_proxy: FaultProxy, rule: dict[str, Any]
) -> None:
    with pytest.raises(RuleError):
        fault_proxy.add_rule(rule)
    assert fault_proxy.status()["rules"] == []


# botocore's older names for operations that share their wire form with the current ones; the
# proxy names the request by the current operation.
OLDER_NAMES = {
    "GetBucketLifecycle": "GetBucketLifecycleConfiguration",
    "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
    "GetBucketNotification": "GetBucketNotificationConfiguration",
    "PutBucketNotification": "PutBucketNotificationConfiguration",
    "ListDirectoryBuckets": "ListBuckets",
}


def test_every_s3_operation_in_botocore_s_model_is_named() -> None:
    """Build each S3 operation's request from botocore's model (method, URI, required query
    parameters and headers) and check the proxy names it as botocore does."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("s3")
    for name in model.operation_names:
        operation = model.operation_model(name)
        path, _, query = operation.http["requestUri"].partition("?")
        path = path.replace("{Bucket}", "bkt").replace("{Key+}", "dir/key")
        params = [query] if query else []
        headers = {"Authorization": S3_AUTH}
        shape = operation.input_shape
        for member in shape.required_members if shape else []:
            wire = shape.members[member].serialization
            if wire.get("location") == "querystring":
                params.append(f"{wire['name']}=1")
            elif wire.get("location") == "header":
                headers[wire["name"]] = "bkt/source"
        target = path + ("?" + "&".join(params) if params else "")
        named = classify(operation.http["method"], target, headers)
        assert (named.service, named.operation) == ("s3", OLDER_NAMES.get(name, name)), target


def test_stopping_the_proxy_leaves_no_process(moto_url: str) -> None:
    proxy = FaultProxy.start(moto_url)
    port = urlsplit(proxy.url).port
    assert proxy.status()["total"] == 0
    proxy.stop()
    assert not proxy.alive()
    assert not stack.group_alive(proxy.pid)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    proxy.stop()  # a second stop is harmless

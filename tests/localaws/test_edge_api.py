"""The edge's API origin (a Lambda function URL called in-process), its access log and alias ports.

These run against a CloudFront process of their own, started with the same flags the stack
launcher uses but with ``tests/localaws/edge_api_handler.py`` as the API handler; S3 is the shared
stack's moto.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudfront_support import (
    API_DOMAIN,
    PrivateCloudFront,
    distribution_config,
    edge_url,
    fetch,
    invalidation_batch,
    kvs_function_config,
    private_cloudfront,
    published_function,
    unique,
    wait_completed,
)

from localaws.bootstrap import FUNCTION_SOURCE
from qdn.distribution_spec import ALL_VIEWER_EXCEPT_HOST

ALIAS = "edge-test.example"


@pytest.fixture(scope="module")
def cloudfront(
    aws_stack: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateCloudFront]:
    with private_cloudfront(
        aws_stack.moto_url, tmp_path_factory.mktemp("cf"), aliases=(ALIAS,)
    ) as cf:
        yield cf


@pytest.fixture(scope="module")
def site(cloudfront: PrivateCloudFront, aws_stack: Any) -> dict[str, Any]:
    s3 = aws_stack.client("s3")
    bucket = unique("api-edge")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="site/index.html", Body=b"<html>shell</html>", ContentType="text/html"
    )
    cf = cloudfront.client()
    _, arn = published_function(cf)
    config = distribution_config(bucket, function_arn=arn, with_api=True, aliases=(ALIAS,))
    dist_id = cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    return {"cf": cf, "dist_id": dist_id, "url": edge_url(cloudfront.url, dist_id)}


def test_the_edge_listens_on_the_port_configured_for_its_alias(
    cloudfront: PrivateCloudFront, site: dict[str, Any]
) -> None:
    assert site["url"] == f"http://127.0.0.1:{cloudfront.alias_ports[ALIAS]}"
    edges = json.loads(fetch(cloudfront.url + "/_localaws/edges").body)
    assert {"id": site["dist_id"], "aliases": [ALIAS], "url": site["url"]} in edges
    assert json.loads(fetch(cloudfront.url + "/_localaws/health").body) == {"ok": True}


def test_the_handler_gets_a_function_url_payload_2_event(site: dict[str, Any]) -> None:
    answer = fetch(
        site["url"] + "/api/echo?x=1&x=2&q=a%20b",
        headers={"Authorization": "Bearer secret-token", "Cookie": "a=1; b=2", "X-Custom": "yes"},
    )
    assert answer.status == 200
    assert answer.x_cache == "Miss from cloudfront"
    assert answer.headers["Set-Cookie"] == "seen=1; Path=/"
    event = answer.json()["event"]
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/api/echo"
    assert event["rawQueryString"] == "x=1&x=2&q=a%20b"
    assert event["queryStringParameters"] == {"x": "1,2", "q": "a b"}
    assert event["headers"]["authorization"] == "Bearer secret-token"  # all viewer headers reach it
    assert event["headers"]["x-custom"] == "yes"
    assert event["headers"]["host"] == site["url"].removeprefix("http://")
    assert all(name == name.lower() for name in event["headers"])
    assert event["cookies"] == ["a=1", "b=2"]
    http = event["requestContext"]["http"]
    assert (http["method"], http["path"], http["sourceIp"]) == ("GET", "/api/echo", "127.0.0.1")
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = answer.json()["context"]
    assert 0 < context["remaining_ms"] <= 30_000
    # Cache-Control: no-store from the handler: never cached.
    assert fetch(site["url"] + "/api/echo?x=1&x=2&q=a%20b").x_cache == "Miss from cloudfront"


def test_all_viewer_except_host_sends_the_origins_own_host(
    cloudfront: PrivateCloudFront, aws_stack: Any
) -> None:
    cf = cloudfront.client()
    config = distribution_config("no-bucket", with_api=True)
    config["CacheBehaviors"]["Items"][0]["OriginRequestPolicyId"] = ALL_VIEWER_EXCEPT_HOST
    dist_id = cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    answer = fetch(edge_url(cloudfront.url, dist_id) + "/api/echo", headers={"Authorization": "x"})
    headers = answer.json()["event"]["headers"]
    assert headers["host"] == API_DOMAIN
    assert headers["authorization"] == "x"


def test_query_values_reach_the_origin_as_the_viewer_and_the_function_wrote_them(
    cloudfront: PrivateCloudFront, aws_stack: Any
) -> None:
    """The project's own function, reading its live build from its key value store, on a
    behaviour whose origin is the echoing API handler."""
    build = "build-0123456789ab"
    s3 = aws_stack.client("s3")
    bucket = unique("live-pointer")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="kvs.json", Body=json.dumps({"data": [{"key": "live", "value": build}]})
    )
    cf = cloudfront.client()
    # Imported keys are at the edges from the start: no propagation delay to wait out.
    store = cf.create_key_value_store(
        Name=unique("live"),
        ImportSource={"SourceType": "S3", "SourceARN": f"arn:aws:s3:::{bucket}/kvs.json"},
    )["KeyValueStore"]
    name = unique("fn")
    created = cf.create_function(
        Name=name,
        FunctionConfig=kvs_function_config(store["ARN"]),
        FunctionCode=FUNCTION_SOURCE.read_bytes(),
    )
    cf.publish_function(Name=name, IfMatch=created["ETag"])
    arn = created["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]
    config = distribution_config("no-bucket", function_arn=arn, with_api=True)
    config["DefaultCacheBehavior"]["TargetOriginId"] = "api"
    dist_id = cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]

    answer = fetch(edge_url(cloudfront.url, dist_id) + "/track/abc?x=a%20b&y=a+b")
    event = answer.json()["event"]
    assert event["rawPath"] == f"/{build}/index.html"
    # x and y untouched; original_path is the function's encodeURIComponent(uri), encoded once.
    assert event["rawQueryString"] == "x=a%20b&y=a+b&original_path=%2Ftrack%2Fabc"
    assert event["queryStringParameters"] == {
        "x": "a b",
        "y": "a b",
        "original_path": "/track/abc",
    }


def test_a_post_body_reaches_the_handler(site: dict[str, Any]) -> None:
    body = json.dumps({"name": "Ada"}).encode()
    answer = fetch(
        site["url"] + "/api/bookings",
        method="POST",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    event = answer.json()["event"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert json.loads(event["body"]) == {"name": "Ada"}
    assert event["isBase64Encoded"] is False


def test_a_handler_that_raises_is_a_502(site: dict[str, Any]) -> None:
    answer = fetch(site["url"] + "/api/boom")
    assert (answer.status, answer.x_cache) == (502, "Error from cloudfront")
    assert b"Traceback" not in answer.body


def test_a_plain_return_value_becomes_a_json_200(site: dict[str, Any]) -> None:
    answer = fetch(site["url"] + "/api/plain")
    assert (answer.status, answer.json()) == (200, {"hello": "world"})


def test_an_api_404_is_cached_until_invalidated_even_with_caching_disabled(
    cloudfront: PrivateCloudFront, site: dict[str, Any]
) -> None:
    job = unique("job")
    path = f"/api/job/{job}"
    assert fetch(site["url"] + path).status == 404
    # The job appears; the cached 404 is still served: the seed's "Job not found".
    (cloudfront.access_log.parent / "jobs" / job).touch()
    stale = fetch(site["url"] + path)
    assert (stale.status, stale.x_cache) == (404, "Error from cloudfront")
    assert "Age" in stale.headers
    cf, dist_id = site["cf"], site["dist_id"]
    inv = cf.create_invalidation(DistributionId=dist_id, InvalidationBatch=invalidation_batch(path))
    wait_completed(cf, dist_id, inv["Invalidation"]["Id"])
    assert fetch(site["url"] + path).json() == {"job": job, "found": True}


def test_each_request_writes_one_access_log_line_without_full_tokens(
    cloudfront: PrivateCloudFront, site: dict[str, Any]
) -> None:
    token = "dvJkQ2x9" + "A" * 24  # shaped like a tracking token (>= 128 bits, URL-safe)
    before = _lines(cloudfront.access_log)
    fetch(site["url"] + f"/track/{token}?original_path=/track/{token}")
    fetch(site["url"] + "/boom")
    deadline = time.monotonic() + 5
    while len(_lines(cloudfront.access_log)) < len(before) + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    new = _lines(cloudfront.access_log)[len(before) :]
    assert len(new) == 2
    stamp, dist_id, method, path, status, cache, fn = new[0].split(" ")
    assert stamp.endswith("Z") and dist_id == site["dist_id"]
    assert (method, status, fn) == ("GET", "200", "fn=ok")
    assert cache in ("Hit", "Miss")
    assert token not in new[0] and path.startswith("/track/dvJk")
    assert new[1].split(" ")[3:] == ["/boom", "503", "FunctionExecutionError", "fn=error"]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []

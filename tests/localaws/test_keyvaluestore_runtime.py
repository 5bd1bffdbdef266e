"""Functions reading their key value store on the local CloudFront: in TestFunction at once, and
at the edge once a write has propagated; a store the edge cannot read sends the function down
its fallback path."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cloudfront_support import (
    KVS_READER_JS,
    distribution_config,
    edge_url,
    fetch,
    kvs_function_config,
    new_store,
    private_cloudfront,
    set_edge_readable,
    unique,
    viewer_event,
)

from qdn.distribution_spec import CACHING_DISABLED

# The documented form with double quotes, naming the store by its id.
BY_ID_JS = """\
import cf from "cloudfront";

async function handler(event) {
  const kvs = cf.kvs('%s');
  return {statusCode: 200, body: await kvs.get('live')};
}
"""

# Long enough to see the old value after a write, short enough to wait out.
PROPAGATION = 1.0
# Past the delay before expecting the new value: the write's clock and ours differ by the
# request's round trip.
MARGIN = 0.2


def _function(cf: Any, code: str, store_arn: str | None) -> tuple[str, str]:
    """A function associated with the store: its name and DEVELOPMENT ETag."""
    name = unique("fn")
    created = cf.create_function(
        Name=name, FunctionConfig=kvs_function_config(store_arn), FunctionCode=code.encode()
    )
    return name, created["ETag"]


def _test(cf: Any, name: str, etag: str, uri: str) -> dict[str, Any]:
    result = cf.test_function(Name=name, IfMatch=etag, EventObject=viewer_event(uri))["TestResult"]
    assert result["FunctionErrorMessage"] == "", result["FunctionErrorMessage"]
    return json.loads(result["FunctionOutput"])["response"]


def test_test_function_reads_the_store_as_it_is_now(cf: Any, kvs: Any) -> None:
    store = new_store(cf, {"live": "build-1", "settings": '{"colour": "green"}'})
    arn = store["KeyValueStore"]["ARN"]
    name, etag = _function(cf, KVS_READER_JS, arn)

    live = _test(cf, name, etag, "/live")
    assert live["body"] == "value=build-1"
    assert live["headers"]["x-exists"] == {"value": "true"}
    assert live["headers"]["x-key-count"] == {"value": "2"}
    assert _test(cf, name, etag, "/settings")["body"] == "colour=green"
    missing = _test(cf, name, etag, "/nothing")
    assert missing["body"].startswith("fallback (")
    assert "nothing" in missing["body"]
    assert missing["headers"]["x-exists"] == {"value": "false"}

    # A write is seen by the next TestFunction, without waiting for propagation.
    data_etag = kvs.describe_key_value_store(KvsARN=arn)["ETag"]
    kvs.put_key(KvsARN=arn, Key="live", Value="build-2", IfMatch=data_etag)
    assert _test(cf, name, etag, "/live")["body"] == "value=build-2"


def test_cf_kvs_by_id_and_without_an_association(cf: Any) -> None:
    store = new_store(cf, {"live": "build-7"})["KeyValueStore"]
    name, etag = _function(cf, BY_ID_JS % store["Id"], store["ARN"])
    assert _test(cf, name, etag, "/")["body"] == "build-7"

    other, other_etag = _function(
        cf, BY_ID_JS % "00000000-0000-4000-8000-000000000000", store["ARN"]
    )
    result = cf.test_function(Name=other, IfMatch=other_etag, EventObject=viewer_event("/"))
    assert "is not associated with this function" in result["TestResult"]["FunctionErrorMessage"]

    lone, lone_etag = _function(cf, KVS_READER_JS, None)
    result = cf.test_function(Name=lone, IfMatch=lone_etag, EventObject=viewer_event("/live"))
    assert "no key value store association" in result["TestResult"]["FunctionErrorMessage"]


def test_an_import_of_a_module_the_runtime_lacks_is_a_syntax_error(cf: Any) -> None:
    code = "import fs from 'fs';\nfunction handler(e) { return e.request; }\n"
    name, etag = _function(cf, code, None)
    result = cf.test_function(Name=name, IfMatch=etag, EventObject=viewer_event("/"))
    assert result["TestResult"]["FunctionErrorMessage"].startswith("SyntaxError")


@pytest.fixture
def edge_site(aws_stack: Any, tmp_path: Path) -> Any:
    """A CloudFront of its own with a 1 s propagation delay, and a distribution whose viewer
    request function answers from its store."""
    bucket = unique("kvsedge")
    aws_stack.client("s3").create_bucket(Bucket=bucket)
    with private_cloudfront(aws_stack.moto_url, tmp_path, kvs_delay=PROPAGATION) as cloudfront:
        cf = cloudfront.client()
        store = new_store(cf, {"live": "build-1"})
        written = time.monotonic()  # the key is a write like any other: the edges wait for it
        name, etag = _function(cf, KVS_READER_JS, store["KeyValueStore"]["ARN"])
        cf.publish_function(Name=name, IfMatch=etag)
        arn = cf.describe_function(Name=name)["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]
        dist = cf.create_distribution(
            DistributionConfig=distribution_config(bucket, function_arn=arn)
        )
        url = edge_url(cloudfront.url, dist["Distribution"]["Id"])
        time.sleep(max(0.0, written + PROPAGATION + MARGIN - time.monotonic()))
        yield {
            "cloudfront": cloudfront,
            "cf": cf,
            "kvs": cloudfront.kvs_client(),
            "store": store["KeyValueStore"],
            "function": name,
            "url": url,
        }


def test_the_edge_reads_a_write_after_the_propagation_delay(edge_site: Any) -> None:
    url, kvs, arn = edge_site["url"], edge_site["kvs"], edge_site["store"]["ARN"]
    first = fetch(url + "/live")
    assert (first.status, first.body) == (200, b"value=build-1")
    assert first.x_cache == "FunctionGeneratedResponse from cloudfront"

    etag = kvs.describe_key_value_store(KvsARN=arn)["ETag"]
    kvs.put_key(KvsARN=arn, Key="live", Value="build-2", IfMatch=etag)
    written = time.monotonic()
    assert fetch(url + "/live").body == b"value=build-1"  # the edge not yet
    assert kvs.get_key(KvsARN=arn, Key="live")["Value"] == "build-2"  # the API at once
    # TestFunction on LIVE reads the write at once too.
    cf = edge_site["cf"]
    live_etag = cf.describe_function(Name=edge_site["function"], Stage="LIVE")["ETag"]
    result = cf.test_function(
        Name=edge_site["function"],
        IfMatch=live_etag,
        Stage="LIVE",
        EventObject=viewer_event("/live"),
    )
    assert json.loads(result["TestResult"]["FunctionOutput"])["response"]["body"] == "value=build-2"

    time.sleep(max(0.0, written + PROPAGATION + MARGIN - time.monotonic()))
    assert fetch(url + "/live").body == b"value=build-2"

    # A delete propagates the same way: the edge still has the key, then falls back.
    etag = kvs.describe_key_value_store(KvsARN=arn)["ETag"]
    kvs.delete_key(KvsARN=arn, Key="live", IfMatch=etag)
    deleted = time.monotonic()
    assert fetch(url + "/live").body == b"value=build-2"
    time.sleep(max(0.0, deleted + PROPAGATION + MARGIN - time.monotonic()))
    gone = fetch(url + "/live")
    assert gone.body.startswith(b"fallback (")
    assert gone.headers["x-exists"] == "false"


def test_a_store_the_edge_cannot_read_sends_the_function_to_its_fallback(edge_site: Any) -> None:
    url, name = edge_site["url"], edge_site["store"]["Name"]
    cloudfront_url = edge_site["cloudfront"].url
    assert fetch(url + "/live").body == b"value=build-1"

    broken = set_edge_readable(cloudfront_url, name, False)
    assert (broken.status, broken.json()) == (200, {"name": name, "readable": False})
    # get rejects (the function catches it); meta rejects too, uncaught: a function error (503).
    answer = fetch(url + "/live")
    assert answer.status == 503
    assert answer.x_cache == "FunctionExecutionError from cloudfront"
    # The data plane still reads the store: only the edge's copy is broken.
    assert (
        edge_site["kvs"].get_key(KvsARN=edge_site["store"]["ARN"], Key="live")["Value"] == "build-1"
    )

    assert set_edge_readable(cloudfront_url, name, True).status == 200
    assert fetch(url + "/live").body == b"value=build-1"

    assert set_edge_readable(cloudfront_url, "no-such-store", False).status == 404


def test_an_unreadable_store_reaches_a_fallback_that_catches_it(
    aws_stack: Any, tmp_path: Path
) -> None:
    code = """import cf from 'cloudfront';
async function handler(event) {
  var build;
  try {
    build = await cf.kvs().get('live');
  } catch (e) {
    build = 'compiled-in';
  }
  event.request.uri = '/' + build + event.request.uri;
  return event.request;
}
"""
    bucket = unique("kvsfallback")
    s3 = aws_stack.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="site/build-1/index.html", Body=b"from the store")
    s3.put_object(Bucket=bucket, Key="site/compiled-in/index.html", Body=b"fallback build")
    with private_cloudfront(aws_stack.moto_url, tmp_path, kvs_delay=0.0) as cloudfront:
        cf = cloudfront.client()
        store = new_store(cf, {"live": "build-1"})["KeyValueStore"]
        name, etag = _function(cf, code, store["ARN"])
        cf.publish_function(Name=name, IfMatch=etag)
        arn = cf.describe_function(Name=name)["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]
        config = distribution_config(
            bucket, function_arn=arn, default_behaviour={"CachePolicyId": CACHING_DISABLED}
        )
        url = edge_url(
            cloudfront.url, cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
        )
        assert fetch(url + "/index.html").body == b"from the store"
        set_edge_readable(cloudfront.url, store["Name"], False)
        assert fetch(url + "/index.html").body == b"fallback build"

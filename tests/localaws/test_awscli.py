"""The AWS CLI, unmodified, against the local stack: the seed's own commands with --endpoint-url,
and the key value store data plane through the local CloudFront as the CLI's HTTP proxy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cloudfront_support import (
    distribution_config,
    edge_url,
    fetch,
    new_store,
    published_function,
    remove_distribution,
    unique,
    viewer_event,
    wait_completed,
)

from localaws import stack

AWS = Path(sys.executable).parent / "aws"


def _aws(aws_stack: Any, endpoint: str, *args: str) -> Any:
    env = {**os.environ, **aws_stack.env}
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDFRONT"):
        env.pop(name, None)  # the endpoint comes from --endpoint-url, as in the seed's commands
    done = subprocess.run(
        [str(AWS), "--endpoint-url", endpoint, "--output", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # s3 commands print progress; cloudfront commands print the response document.
    return json.loads(done.stdout) if done.stdout.startswith("{") else done.stdout


@pytest.fixture
def site(aws_stack: Any) -> Any:
    cf = aws_stack.client("cloudfront")
    bucket = unique("cli")
    aws_stack.client("s3").create_bucket(Bucket=bucket)
    name, arn = published_function(cf)
    dist_id = cf.create_distribution(
        DistributionConfig=distribution_config(bucket, function_arn=arn)
    )["Distribution"]["Id"]
    yield {"cf": cf, "bucket": bucket, "function": name, "dist_id": dist_id}
    remove_distribution(cf, dist_id)


def test_s3_cp_then_invalidate_and_wait_then_the_edge_serves_it(
    aws_stack: Any, site: Any, tmp_path: Path
) -> None:
    page = tmp_path / "index.html"

    def upload(html: str) -> None:
        page.write_text(html)
        target = f"s3://{site['bucket']}/site/index.html"
        _aws(
            aws_stack,
            aws_stack.moto_url,
            "s3",
            "cp",
            str(page),
            target,
            "--content-type",
            "text/html",
        )

    upload("<html>from the cli</html>")
    url = edge_url(aws_stack.cloudfront_url, site["dist_id"])
    assert fetch(url + "/track/abc").body == b"<html>from the cli</html>"

    upload("<html>second</html>")
    created = _aws(
        aws_stack,
        aws_stack.cloudfront_url,
        "cloudfront",
        "create-invalidation",
        "--distribution-id",
        site["dist_id"],
        "--paths",
        "/*",
    )
    inv = created["Invalidation"]
    assert inv["Status"] == "InProgress"
    assert inv["InvalidationBatch"]["Paths"]["Items"] == ["/*"]
    # The CLI's waiter polls every 20 s; let the 1 s invalidation finish so it succeeds at once.
    wait_completed(site["cf"], site["dist_id"], inv["Id"])
    _aws(
        aws_stack,
        aws_stack.cloudfront_url,
        "cloudfront",
        "wait",
        "invalidation-completed",
        "--distribution-id",
        site["dist_id"],
        "--id",
        inv["Id"],
    )
    assert fetch(url + "/track/abc").body == b"<html>second</html>"


def test_test_function_from_the_cli(aws_stack: Any, site: Any, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_bytes(viewer_event("/book/x"))
    etag = _aws(
        aws_stack,
        aws_stack.cloudfront_url,
        "cloudfront",
        "describe-function",
        "--name",
        site["function"],
    )["ETag"]
    result = _aws(
        aws_stack,
        aws_stack.cloudfront_url,
        "cloudfront",
        "test-function",
        "--name",
        site["function"],
        "--if-match",
        etag,
        "--event-object",
        f"fileb://{event}",
    )["TestResult"]
    assert json.loads(result["FunctionOutput"])["request"]["uri"] == "/index.html"
    assert 0 <= int(result["ComputeUtilization"]) <= 100


def test_key_value_store_data_plane_from_the_cli(aws_stack: Any) -> None:
    """As ``python -m localaws env`` tells a shell: the stack's environment (its endpoint for the
    data plane included) plus HTTP_PROXY and NO_PROXY for the one command."""
    arn = new_store(aws_stack.client("cloudfront"), {"live": "build-1"})["KeyValueStore"]["ARN"]
    env = {**os.environ, **aws_stack.env, **stack.kvs_proxy_env(aws_stack.config)}

    def aws(*args: str) -> Any:
        done = subprocess.run(
            [str(AWS), "--output", "json", "cloudfront-keyvaluestore", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    etag = aws("describe-key-value-store", "--kvs-arn", arn)["ETag"]
    put = aws(
        "put-key", "--kvs-arn", arn, "--key", "live", "--value", "build-2", "--if-match", etag
    )
    assert put["ItemCount"] == 1
    assert aws("get-key", "--kvs-arn", arn, "--key", "live")["Value"] == "build-2"
    assert (
        aws_stack.client("cloudfront-keyvaluestore").get_key(KvsARN=arn, Key="live")["Value"]
        == "build-2"
    )

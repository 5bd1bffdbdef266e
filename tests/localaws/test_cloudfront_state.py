"""``--state-file``: a restarted local CloudFront is the same account, on the same edge ports.

Driven through the real entry point: ``python -m localaws.cloudfront`` started, changed with
boto3, stopped with SIGTERM and started again on the same file.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from cloudfront_support import (
    cloudfront_command,
    distribution_config,
    edge_url,
    fetch,
    invalidation_batch,
    private_cloudfront,
    published_function,
    unique,
)

from localaws import stack

ALIAS = "state-test.example"
# Long enough to see InProgress right after CreateInvalidation, short enough to wait out.
DELAY = 1.0


def test_a_restart_keeps_ids_etags_invalidations_and_edge_ports(
    aws_stack: Any, tmp_path: Path
) -> None:
    s3 = aws_stack.client("s3")
    bucket = unique("state")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="site/index.html", Body=b"<html>kept</html>")
    state_file = tmp_path / "cloudfront-state.json"

    with private_cloudfront(
        aws_stack.moto_url, tmp_path, aliases=(ALIAS,), delay=DELAY, state_file=state_file
    ) as first:
        cf = first.client()
        name, arn = published_function(cf)
        # Written after each change: the function is in the file before anything else happens.
        assert [f["name"] for f in json.loads(state_file.read_text())["functions"]] == [name]
        dev = cf.describe_function(Name=name)["ETag"]
        live = cf.describe_function(Name=name, Stage="LIVE")["ETag"]
        plain = cf.create_distribution(
            DistributionConfig=distribution_config(bucket, function_arn=arn)
        )
        aliased = cf.create_distribution(
            DistributionConfig=distribution_config(bucket, aliases=(ALIAS,))
        )
        plain_id = plain["Distribution"]["Id"]
        plain_config = cf.get_distribution_config(Id=plain_id)["DistributionConfig"]
        plain_url = edge_url(first.url, plain_id)
        inv = cf.create_invalidation(
            DistributionId=plain_id, InvalidationBatch=invalidation_batch("/index.html")
        )["Invalidation"]
        created_at = time.monotonic()
        assert inv["Status"] == "InProgress"
        assert fetch(plain_url + "/track/x").body == b"<html>kept</html>"
        assert fetch(plain_url + "/track/x").x_cache == "Hit from cloudfront"
    assert first.exit_code == 0
    assert "state saved to" in first.process_log.read_text()
    saved = json.loads(state_file.read_text())
    assert saved["schema_version"] == 2

    time.sleep(max(0.0, created_at + DELAY - time.monotonic()))
    # Another port range for new edges, and another port for the alias: the plain distribution
    # keeps the port it had, the alias's configured port wins over the remembered one.
    with private_cloudfront(
        aws_stack.moto_url,
        tmp_path,
        aliases=(ALIAS,),
        delay=DELAY,
        edge_port_base=first.edge_port_base + 5,
        state_file=state_file,
    ) as second:
        cf = second.client()
        assert cf.describe_function(Name=name)["ETag"] == dev
        described = cf.describe_function(Name=name, Stage="LIVE")
        assert described["ETag"] == live
        assert described["FunctionSummary"]["FunctionMetadata"]["FunctionARN"] == arn
        again = cf.get_distribution(Id=plain_id)
        assert again["ETag"] == plain["ETag"]
        assert (again["Distribution"]["ARN"], again["Distribution"]["DomainName"]) == (
            plain["Distribution"]["ARN"],
            plain["Distribution"]["DomainName"],
        )
        assert again["Distribution"]["Status"] == "Deployed"
        assert again["Distribution"]["DistributionConfig"] == plain_config
        # InProgress when the first process stopped; its delay has passed since.
        kept = cf.get_invalidation(DistributionId=plain_id, Id=inv["Id"])["Invalidation"]
        assert (kept["Status"], kept["CreateTime"]) == ("Completed", inv["CreateTime"])
        assert kept["InvalidationBatch"] == inv["InvalidationBatch"]

        # Same port, same function at the edge, and a cold cache.
        assert edge_url(second.url, plain_id) == plain_url
        cold = fetch(plain_url + "/track/x")
        assert (cold.body, cold.x_cache) == (b"<html>kept</html>", "Miss from cloudfront")
        aliased_url = edge_url(second.url, aliased["Distribution"]["Id"])
        assert aliased_url == f"http://{stack.HOST}:{second.alias_ports[ALIAS]}"

        # The ETags still lock: an update with the old DEVELOPMENT ETag goes through.
        cf.update_function(
            Name=name,
            IfMatch=dev,
            FunctionConfig={"Comment": "after restart", "Runtime": "cloudfront-js-2.0"},
            FunctionCode=b"function handler(e) { return e.request; }",
        )
    assert second.exit_code == 0


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "not JSON"),
        ('{"schema_version": 99, "functions": []}', "schema_version is 99"),
        ('{"schema_version": 1, "functions": [{"name": "x"}]}', "missing or malformed"),
    ],
)
def test_a_state_file_that_cannot_be_loaded_stops_the_start(
    aws_stack: Any, tmp_path: Path, content: str, why: str
) -> None:
    state_file = tmp_path / "cloudfront-state.json"
    state_file.write_text(content)
    argv, env = cloudfront_command(
        aws_stack.moto_url,
        tmp_path,
        port=stack.free_ports(1)[0],
        alias_ports={},
        edge_port_base=stack._free_range_base(),
        delay=DELAY,
        state_file=state_file,
    )
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert str(state_file) in done.stderr
    assert why in done.stderr
    assert "Delete the file to start with an empty account" in done.stderr
    assert state_file.read_text() == content  # left as it was, for the operator to look at

"""``--state-file`` with key value stores: a restarted local CloudFront has every store, its keys
and both its ETags, its functions' associations, and edges that read the stores at once.

Driven through the real entry point, as ``test_cloudfront_state`` does.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from cloudfront_support import (
    KVS_READER_JS,
    REWRITE_JS,
    cloudfront_command,
    distribution_config,
    edge_url,
    fetch,
    kvs_function_config,
    new_store,
    private_cloudfront,
    unique,
)

from localaws import stack

# Far longer than the test: before the restart no write reaches the edge, after it every one has.
SLOW_PROPAGATION = 300.0


def test_a_restart_keeps_stores_keys_etags_and_associations(aws_stack: Any, tmp_path: Path) -> None:
    bucket = unique("kvsstate")
    aws_stack.client("s3").create_bucket(Bucket=bucket)
    state_file = tmp_path / "cloudfront-state.json"

    with private_cloudfront(
        aws_stack.moto_url, tmp_path, kvs_delay=SLOW_PROPAGATION, state_file=state_file
    ) as first:
        cf, kvs = first.client(), first.kvs_client()
        created = new_store(cf, {"live": "build-1", "unicode": "é ✓"})
        store = created["KeyValueStore"]
        updated = cf.update_key_value_store(
            Name=store["Name"], Comment="kept", IfMatch=created["ETag"]
        )
        etag = kvs.describe_key_value_store(KvsARN=store["ARN"])["ETag"]
        kvs.put_key(KvsARN=store["ARN"], Key="live", Value="build-2", IfMatch=etag)
        before = kvs.describe_key_value_store(KvsARN=store["ARN"])
        # Written after each change: the last key is in the file before the process stops.
        saved = json.loads(state_file.read_text())["key_value_stores"]
        assert [s["name"] for s in saved] == [store["Name"]]
        assert ["live", "build-2"] in saved[0]["items"]

        name = unique("fn")
        fn = cf.create_function(
            Name=name,
            FunctionConfig=kvs_function_config(store["ARN"]),
            FunctionCode=KVS_READER_JS.encode(),
        )
        cf.publish_function(Name=name, IfMatch=fn["ETag"])
        fn_arn = fn["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]
        dist = cf.create_distribution(
            DistributionConfig=distribution_config(bucket, function_arn=fn_arn)
        )
        url = edge_url(first.url, dist["Distribution"]["Id"])
        # None of the keys has reached this edge yet.
        assert fetch(url + "/live").body.startswith(b"fallback (")
    assert first.exit_code == 0

    with private_cloudfront(
        aws_stack.moto_url,
        tmp_path,
        kvs_delay=SLOW_PROPAGATION,
        edge_port_base=first.edge_port_base + 5,
        state_file=state_file,
    ) as second:
        cf, kvs = second.client(), second.kvs_client()
        described = cf.describe_key_value_store(Name=store["Name"])
        assert described["ETag"] == updated["ETag"]
        assert described["KeyValueStore"] == updated["KeyValueStore"]
        after = kvs.describe_key_value_store(KvsARN=store["ARN"])
        for field in ("ETag", "ItemCount", "TotalSizeInBytes", "Created", "LastModified"):
            assert after[field] == before[field], field
        assert kvs.get_key(KvsARN=store["ARN"], Key="unicode")["Value"] == "é ✓"
        live = cf.describe_function(Name=name, Stage="LIVE")["FunctionSummary"]
        assert live["FunctionConfig"]["KeyValueStoreAssociations"]["Items"] == [
            {"KeyValueStoreARN": store["ARN"]}
        ]
        # The edges start with every store as it was saved, whatever the delay.
        answer = fetch(edge_url(second.url, dist["Distribution"]["Id"]) + "/live")
        assert answer.body == b"value=build-2"
        assert answer.headers["x-key-count"] == "2"
        # The saved data ETag still locks.
        kvs.put_key(KvsARN=store["ARN"], Key="live", Value="build-3", IfMatch=before["ETag"])
    assert second.exit_code == 0


def test_a_version_1_state_file_loads_without_stores(aws_stack: Any, tmp_path: Path) -> None:
    state_file = tmp_path / "cloudfront-state.json"
    with private_cloudfront(aws_stack.moto_url, tmp_path, state_file=state_file) as first:
        cf = first.client()
        name = unique("fn")
        etag = cf.create_function(
            Name=name, FunctionConfig=kvs_function_config(None), FunctionCode=REWRITE_JS.encode()
        )["ETag"]
    # As the version before key value stores wrote it.
    doc = json.loads(state_file.read_text())
    doc["schema_version"] = 1
    del doc["key_value_stores"]
    for fn in doc["functions"]:
        del fn["development"]["kvs_arns"]
    state_file.write_text(json.dumps(doc))

    with private_cloudfront(aws_stack.moto_url, tmp_path, state_file=state_file) as second:
        cf = second.client()
        described = cf.describe_function(Name=name)
        assert described["ETag"] == etag
        assert described["FunctionSummary"]["FunctionConfig"]["KeyValueStoreAssociations"] == {
            "Quantity": 0
        }
        assert cf.list_key_value_stores()["KeyValueStoreList"]["Quantity"] == 0
    assert json.loads(state_file.read_text())["schema_version"] == 2


def test_an_association_with_a_store_not_in_the_file_stops_the_start(
    aws_stack: Any, tmp_path: Path
) -> None:
    state_file = tmp_path / "cloudfront-state.json"
    with private_cloudfront(aws_stack.moto_url, tmp_path, state_file=state_file) as first:
        cf = first.client()
        store = new_store(cf)
        cf.create_function(
            Name=unique("fn"),
            FunctionConfig=kvs_function_config(store["KeyValueStore"]["ARN"]),
            FunctionCode=REWRITE_JS.encode(),
        )
    doc = json.loads(state_file.read_text())
    doc["key_value_stores"] = []
    state_file.write_text(json.dumps(doc))
    argv, env = cloudfront_command(
        aws_stack.moto_url,
        tmp_path,
        port=stack.free_ports(1)[0],
        alias_ports={},
        edge_port_base=stack._free_range_base(),
        delay=1.0,
        state_file=state_file,
    )
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "unknown key value store" in done.stderr

"""A stack with the copy-promotion layout (production in site/, origin path /site, a function that
knows no builds) is moved to immutable builds by the bootstrap — while a crawler reads every page
through the edge and never sees anything but the site it saw before — and only once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from localaws import bootstrap as boot
from localaws import stack
from qdn import config, staging
from qdn.distribution_spec import distribution_config
from qdn.live_pointer import kvs_arn, read_pointer
from qdn.smoke import http_get

SITE = boot.SITE_SOURCE
# The kind of function the old layout ran: routes onto the shell, everything else as it came.
OLD_FUNCTION = b"""
function handler(event) {
  var request = event.request;
  if (request.uri === '/' || request.uri.indexOf('/track/') === 0) request.uri = '/index.html';
  return request;
}
"""
PATHS = ("/", "/track/q8Xv2NfLr0TtYb3KcW9eZs1HuM4dPa7J", "/robots.txt")


@pytest.fixture(scope="module")
def legacy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.StackConfig]:
    state_dir = tmp_path_factory.mktemp("legacy")
    cfg = stack.StackConfig.with_free_ports(
        state_dir, invalidation_delay=1.0, kvs_propagation_delay=1.0
    )
    stack.start(cfg)
    try:
        yield cfg
    finally:
        stack.stop(state_dir)


def _clients(cfg: stack.StackConfig):
    cache: dict = {}

    def client(service: str):
        if service not in cache:
            cache[service] = stack.client(cfg, service)
        return cache[service]

    return client


def _old_layout(cfg: stack.StackConfig) -> str:
    """What the copy-promotion release left: site/, staging/<id>.json, /site origins."""
    clients = _clients(cfg)
    s3 = clients("s3")
    report = boot.BootstrapReport()
    boot.ensure_bucket(s3, report, config.BUCKET)
    boot.ensure_jobs_document(s3, report, config.BUCKET)
    build = staging.build_site(SITE)
    old_manifest = {"build_id": build.build_id, "files": {}}
    for path, body in build.files.items():
        s3.put_object(Bucket=config.BUCKET, Key=config.LEGACY_SITE_PREFIX + path, Body=body)
        old_manifest["files"][path] = {"sha256": staging.sha256_hex(body), "size": len(body)}
    s3.put_object(
        Bucket=config.BUCKET,
        Key=f"{config.LEGACY_STAGING_PREFIX}{build.build_id}.json",
        Body=json.dumps(old_manifest).encode(),
    )
    cf = clients("cloudfront")
    etag = cf.create_function(
        Name=config.FUNCTION_NAME,
        FunctionConfig={"Comment": "old", "Runtime": config.FUNCTION_RUNTIME},
        FunctionCode=OLD_FUNCTION,
    )["ETag"]
    arn = cf.publish_function(Name=config.FUNCTION_NAME, IfMatch=etag)["FunctionSummary"][
        "FunctionMetadata"
    ]["FunctionARN"]
    for alias in config.DISTRIBUTION_ALIASES:
        dist = distribution_config(alias, arn, config.BUCKET, stack.REGION)
        for origin in dist["Origins"]["Items"]:
            if origin["Id"] == config.SITE_ORIGIN_ID:
                origin["OriginPath"] = "/site"
        cf.create_distribution(DistributionConfig=dist)
    return build.build_id


def test_the_move_serves_the_same_site_throughout_and_happens_once(legacy_stack):
    cfg = legacy_stack
    legacy_id = _old_layout(cfg)
    edge = cfg.edge_url(config.DISTRIBUTION_ALIASES[0])
    before = {p: http_get(edge + p) for p in PATHS}
    assert all(r.status == 200 for r in before.values())
    assert legacy_id.encode() in before["/"].body

    seen: list[tuple[str, int, bool]] = []
    stop = threading.Event()

    def crawl() -> None:
        while not stop.is_set():
            for p in PATHS:
                got = http_get(edge + p)
                seen.append((p, got.status, got.body == before[p].body))

    crawler = threading.Thread(target=crawl)
    crawler.start()
    try:
        report = boot.bootstrap(_clients(cfg))
        time.sleep(cfg.kvs_propagation_delay + 0.5)  # the pointer reaches the edge meanwhile
    finally:
        stop.set()
        crawler.join()
    assert len(seen) > 3 * len(PATHS)
    assert all(status == 200 and same for _, status, same in seen), [
        s for s in seen if not (s[1] == 200 and s[2])
    ][:5]
    assert any("as build " + legacy_id in line for line in report.lines), report.lines

    clients = _clients(cfg)
    s3, cf = clients("s3"), clients("cloudfront")
    arn = kvs_arn(cf, config.KVS_NAME)
    assert read_pointer(clients("cloudfront-keyvaluestore"), arn, "live").value == legacy_id
    manifest = staging.read_build_manifest(s3, legacy_id)
    listed = staging.list_prefix(s3, config.BUCKET, staging.build_prefix(legacy_id))
    assert staging.build_problems(manifest, listed) == []
    assert staging.list_prefix(s3, config.BUCKET, config.LEGACY_SITE_PREFIX) == {}
    for dist in cf.list_distributions()["DistributionList"]["Items"]:
        got = cf.get_distribution_config(Id=dist["Id"])["DistributionConfig"]
        paths = {o["Id"]: o["OriginPath"] for o in got["Origins"]["Items"]}
        assert paths[config.SITE_ORIGIN_ID] == config.ORIGIN_PATH
    after = {p: http_get(edge + p) for p in PATHS}
    assert all(after[p].body == before[p].body for p in PATHS)

    again = boot.bootstrap(_clients(cfg))
    assert again.changed == 0, [line for line in again.lines if line.startswith("created")]


def test_a_site_prefix_without_a_shell_is_refused_with_what_to_do(moto_url):
    import boto3

    from qdn.layout_migration import MigrationError, find_legacy_site

    s3 = boto3.client("s3", endpoint_url=moto_url)
    s3.create_bucket(Bucket="legacy-no-shell")
    assert find_legacy_site(s3, "legacy-no-shell") is None  # nothing to move
    s3.put_object(Bucket="legacy-no-shell", Key="site/robots.txt", Body=b"x")
    with pytest.raises(MigrationError, match=r"no index\.html"):
        find_legacy_site(s3, "legacy-no-shell")

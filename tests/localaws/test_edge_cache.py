"""The edge with an S3 origin, over HTTP: functions, cache keys, TTLs, invalidation, origin path.

Each test gets its own bucket and distribution on the shared stack (1 s invalidation delay).
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from cloudfront_support import (
    REWRITE_JS,
    Fetched,
    distribution_config,
    edge_url,
    fetch,
    invalidation_batch,
    legacy_behaviour,
    published_function,
    remove_distribution,
    unique,
    wait_completed,
)


@dataclass
class Site:
    cf: Any
    s3: Any
    bucket: str
    function_name: str
    dist_id: str
    url: str

    def put(self, key: str, body: str, cache_control: str | None = "max-age=300") -> None:
        extra = {"CacheControl": cache_control} if cache_control else {}
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=body.encode(), ContentType="text/html", **extra
        )

    def get(self, path: str, method: str = "GET") -> Fetched:
        return fetch(self.url + path, method=method)

    def invalidate(self, *paths: str, wait: bool = True) -> str:
        inv_id = self.cf.create_invalidation(
            DistributionId=self.dist_id, InvalidationBatch=invalidation_batch(*paths)
        )["Invalidation"]["Id"]
        if wait:
            wait_completed(self.cf, self.dist_id, inv_id)
        return inv_id


def _make_site(aws_stack: Any, **config: Any) -> Site:
    cf, s3 = aws_stack.client("cloudfront"), aws_stack.client("s3")
    bucket = unique("edge")
    s3.create_bucket(Bucket=bucket)
    name, arn = published_function(cf)
    dist = cf.create_distribution(
        DistributionConfig=distribution_config(bucket, function_arn=arn, **config)
    )
    dist_id = dist["Distribution"]["Id"]
    site = Site(cf, s3, bucket, name, dist_id, edge_url(aws_stack.cloudfront_url, dist_id))
    site.put("site/index.html", "<html>shell v1</html>")
    return site


@pytest.fixture
def site(aws_stack: Any) -> Any:
    site = _make_site(aws_stack)
    yield site
    remove_distribution(site.cf, site.dist_id)


def test_a_miss_then_hits_for_every_viewer_path_the_function_maps_onto_the_shell(
    site: Site,
) -> None:
    first = site.get("/track/abc")
    assert (first.status, first.body, first.x_cache) == (
        200,
        b"<html>shell v1</html>",
        "Miss from cloudfront",
    )
    assert "Age" not in first.headers
    assert first.headers["Via"].endswith(".cloudfront.net (CloudFront)")
    assert first.headers["X-Amz-Cf-Id"]
    assert first.headers["Content-Type"] == "text/html"
    assert first.headers["Cache-Control"] == "max-age=300"
    assert first.headers["ETag"] and first.headers["Last-Modified"]

    # The cache key is the rewritten URI: another tracking link and the shell itself are hits.
    for path in ("/track/xyz", "/book/new", "/index.html", "/index.html?original_path=/x"):
        again = site.get(path)
        assert (again.x_cache, again.body) == ("Hit from cloudfront", b"<html>shell v1</html>"), (
            path
        )
        assert int(again.headers["Age"]) >= 0


def test_old_content_is_served_until_the_invalidation_completes(site: Site) -> None:
    assert site.get("/track/abc").x_cache == "Miss from cloudfront"
    site.put("site/index.html", "<html>shell v2</html>")

    # The seed's failure: the origin changed, the edge still serves the cached shell.
    assert site.get("/track/abc").body == b"<html>shell v1</html>"
    inv_id = site.invalidate("/index.html", wait=False)
    status = site.cf.get_invalidation(DistributionId=site.dist_id, Id=inv_id)["Invalidation"][
        "Status"
    ]
    assert status == "InProgress"
    assert site.get("/track/new").body == b"<html>shell v1</html>"

    wait_completed(site.cf, site.dist_id, inv_id)
    cured = site.get("/track/abc")
    assert (cured.body, cured.x_cache) == (b"<html>shell v2</html>", "Miss from cloudfront")
    assert site.get("/track/abc").x_cache == "Hit from cloudfront"


def test_invalidating_a_viewer_path_evicts_the_entry_it_was_served_from(site: Site) -> None:
    site.get("/track/abc")
    site.put("site/index.html", "<html>shell v2</html>")
    site.invalidate("/track/*")
    assert site.get("/book/x").body == b"<html>shell v2</html>"


def test_an_invalidation_of_other_paths_leaves_the_entry_alone(site: Site) -> None:
    site.get("/index.html")
    site.put("site/index.html", "<html>shell v2</html>")
    site.invalidate("/assets/*", "/other.html")
    assert site.get("/index.html").body == b"<html>shell v1</html>"


def test_an_error_is_cached_for_10_s_and_cured_by_an_invalidation(site: Site) -> None:
    missing = site.get("/page.html")
    assert (missing.status, missing.x_cache) == (403, "Error from cloudfront")
    assert b"AccessDenied" in missing.body
    site.put("site/page.html", "<html>page</html>")
    time.sleep(1.5)
    cached = site.get("/page.html")
    assert (cached.status, cached.x_cache) == (403, "Error from cloudfront")
    assert int(cached.headers["Age"]) >= 1  # served from the cache, not asked again
    site.invalidate("/page.html")
    assert site.get("/page.html").status == 200


def test_error_caching_min_ttl_from_custom_error_responses(aws_stack: Any) -> None:
    # 2 s, not 1: a loaded machine must still see the cached error on the second request.
    site = _make_site(aws_stack, error_caching={403: 2})
    try:
        assert site.get("/late.html").status == 403
        site.put("site/late.html", "<html>late</html>")
        assert site.get("/late.html").status == 403
        time.sleep(2.3)
        assert site.get("/late.html").status == 200
    finally:
        remove_distribution(site.cf, site.dist_id)


def test_only_the_live_function_runs_at_the_edge(site: Site) -> None:
    other = REWRITE_JS.replace("request.uri = '/index.html';", "request.uri = '/other.html';")
    site.put("site/other.html", "<html>other</html>")
    dev = site.cf.describe_function(Name=site.function_name)["ETag"]
    updated = site.cf.update_function(
        Name=site.function_name,
        IfMatch=dev,
        FunctionConfig={"Comment": "test", "Runtime": "cloudfront-js-2.0"},
        FunctionCode=other.encode(),
    )
    # DEVELOPMENT changed, LIVE did not: the edge still rewrites to the shell.
    assert site.get("/track/one").body == b"<html>shell v1</html>"
    site.cf.publish_function(Name=site.function_name, IfMatch=updated["ETag"])
    assert site.get("/track/two").body == b"<html>other</html>"


def test_a_throwing_function_is_a_503_and_a_returned_response_skips_the_origin(site: Site) -> None:
    boom = site.get("/boom")
    assert boom.status == 503
    assert boom.x_cache == "FunctionExecutionError from cloudfront"
    moved = site.get("/moved")
    assert (moved.status, moved.headers["location"]) == (302, "/index.html")
    assert moved.x_cache == "FunctionGeneratedResponse from cloudfront"


def test_nothing_outside_the_origin_path_is_reachable(site: Site) -> None:
    site.s3.put_object(Bucket=site.bucket, Key="data/jobs.json", Body=b'{"secret": true}')
    site.s3.put_object(Bucket=site.bucket, Key="site/data/public.json", Body=b"{}")
    assert site.get("/data/jobs.json").status == 403
    assert site.get("/data/public.json").status == 200
    # A dot-segment cannot climb out of the origin path either (sent raw, not normalised by urllib).
    parts = urlsplit(site.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    for raw in ("/../data/jobs.json", "/x/../../data/jobs.json", "/%2e%2e/data/jobs.json"):
        conn.request("GET", raw)
        resp = conn.getresponse()
        assert (resp.status, b"secret" in resp.read()) == (403, False), raw
    conn.close()


def test_query_strings_are_in_the_key_only_where_the_behaviour_says(
    aws_stack: Any, site: Site
) -> None:
    # CachingOptimized: query strings are not part of the key.
    site.get("/index.html?v=1")
    assert site.get("/index.html?v=2").x_cache == "Hit from cloudfront"

    legacy = legacy_behaviour(query_string=True, default_ttl=60, max_ttl=600)
    keyed = _make_site(aws_stack, default_behaviour=legacy)
    try:
        assert keyed.get("/index.html?v=1").x_cache == "Miss from cloudfront"
        assert keyed.get("/index.html?v=2").x_cache == "Miss from cloudfront"
        assert keyed.get("/index.html?v=1").x_cache == "Hit from cloudfront"
        # The key holds the query as the viewer sent it: two spellings of a value, two entries.
        assert keyed.get("/index.html?v=a%20b").x_cache == "Miss from cloudfront"
        assert keyed.get("/index.html?v=a+b").x_cache == "Miss from cloudfront"
        assert keyed.get("/index.html?v=a%20b").x_cache == "Hit from cloudfront"
    finally:
        remove_distribution(keyed.cf, keyed.dist_id)


def test_ttls_come_from_cache_control_bounded_by_the_behaviour(aws_stack: Any) -> None:
    site = _make_site(aws_stack, default_behaviour=legacy_behaviour(default_ttl=2, max_ttl=2))
    try:
        site.put("site/long.html", "long", cache_control="max-age=3600")  # capped at MaxTTL 2 s
        site.put("site/never.html", "never", cache_control="no-store")
        site.put("site/private.html", "private", cache_control="private, max-age=60")
        assert site.get("/long.html").x_cache == "Miss from cloudfront"
        assert site.get("/long.html").x_cache == "Hit from cloudfront"
        for path in ("/never.html", "/private.html"):
            assert site.get(path).x_cache == "Miss from cloudfront"
            assert site.get(path).x_cache == "Miss from cloudfront"
        time.sleep(2.3)
        assert site.get("/long.html").x_cache == "Miss from cloudfront"
    finally:
        remove_distribution(site.cf, site.dist_id)


def test_root_serves_the_default_root_object_and_head_has_no_body(site: Site) -> None:
    assert site.get("/").body == b"<html>shell v1</html>"
    head = site.get("/index.html", method="HEAD")
    assert head.status == 200
    assert head.body == b""
    assert head.headers["Content-Length"] == str(len(b"<html>shell v1</html>"))
    assert head.x_cache in ("Hit from cloudfront", "Miss from cloudfront")


def test_methods_the_behaviour_does_not_allow_are_refused(site: Site) -> None:
    refused = site.get("/index.html", method="POST")
    assert (refused.status, refused.x_cache) == (403, "Error from cloudfront")


def test_a_disabled_distribution_refuses_requests(site: Site) -> None:
    assert site.get("/index.html").status == 200
    current = site.cf.get_distribution_config(Id=site.dist_id)
    current["DistributionConfig"]["Enabled"] = False
    site.cf.update_distribution(
        Id=site.dist_id, IfMatch=current["ETag"], DistributionConfig=current["DistributionConfig"]
    )
    assert site.get("/index.html").status == 403

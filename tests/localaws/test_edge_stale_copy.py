"""The local-only stale-copy route: ``/_localaws/edges/<alias or id>/cache`` makes one edge serve
a copy older than its max-age (the fault a real edge shows and no API can cause), and the copy
goes again when the route releases it, an invalidation covers it or the process restarts.

Each test gets its own bucket and aliased distributions on the shared stack, driven over HTTP.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cloudfront_support import (
    Fetched,
    distribution_config,
    edge_url,
    fetch,
    invalidation_batch,
    private_cloudfront,
    published_function,
    remove_distribution,
    unique,
    wait_completed,
)

SHELL = b"<html>shell v2</html>"
# The shell's max-age here: short, so a test can outlive it and see the held copy stay.
MAX_AGE = 1


@dataclass
class Edge:
    cf: Any
    alias: str
    dist_id: str
    url: str
    control: str  # the control plane's URL

    def get(self, path: str) -> Fetched:
        return fetch(self.url + path)

    def plant(self, edge: str | None = None, **request: Any) -> Fetched:
        return fetch(
            f"{self.control}/_localaws/edges/{edge or self.alias}/cache",
            method="PUT",
            headers={"Content-Type": "application/json"},
            data=json.dumps(request).encode(),
        )

    def release(self, path: str | None = None) -> Fetched:
        query = f"?path={path}" if path else ""
        return fetch(f"{self.control}/_localaws/edges/{self.alias}/cache{query}", method="DELETE")


def _bucket(s3: Any) -> str:
    bucket = unique("stale")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket,
        Key="site/index.html",
        Body=SHELL,
        ContentType="text/html",
        CacheControl=f"max-age={MAX_AGE}",
    )
    return bucket


def _edge(cf: Any, control: str, bucket: str, function_arn: str) -> Edge:
    alias = f"{unique('stale')}.example"
    dist = cf.create_distribution(
        DistributionConfig=distribution_config(bucket, function_arn=function_arn, aliases=(alias,))
    )
    dist_id = dist["Distribution"]["Id"]
    return Edge(cf, alias, dist_id, edge_url(control, dist_id), control)


@pytest.fixture
def edges(aws_stack: Any) -> Any:
    """Two edges of the same origin, so a copy planted in one is seen to stay in that one."""
    cf = aws_stack.client("cloudfront")
    bucket = _bucket(aws_stack.client("s3"))
    _, arn = published_function(cf)
    made = [_edge(cf, aws_stack.cloudfront_url, bucket, arn) for _ in range(2)]
    yield made
    for edge in made:
        remove_distribution(cf, edge.dist_id)


def test_a_held_copy_is_served_past_its_max_age_on_that_edge_only(edges: list[Edge]) -> None:
    stale, fresh = edges
    for edge in edges:
        assert edge.get("/track/abc").x_cache == "Miss from cloudfront"

    planted = stale.plant(path="/track/*", age=600)
    assert planted.status == 200, planted.body
    assert planted.json() == {
        "edge": stale.alias,
        "distribution_id": stale.dist_id,
        "held": 1,
        "age": 600,
    }
    time.sleep(MAX_AGE + 0.5)  # past the max-age: an ordinary copy has expired by now

    # Any viewer path served from that copy gets it: the shell's one cache key.
    seen = stale.get("/book/new")
    assert (seen.status, seen.body, seen.x_cache) == (200, SHELL, "Hit from cloudfront")
    assert int(seen.headers["Age"]) >= 600
    assert seen.headers["Cache-Control"] == f"max-age={MAX_AGE}"
    other = fresh.get("/book/new")
    assert (other.x_cache, other.headers.get("Age")) == ("Miss from cloudfront", None)

    released = stale.release("/track/*")
    assert released.json()["released"] == 1
    cured = stale.get("/track/abc")
    assert (cured.body, cured.x_cache) == (SHELL, "Miss from cloudfront")


def test_a_held_copy_can_hold_older_content_and_an_invalidation_evicts_it(
    edges: list[Edge],
) -> None:
    edge = edges[0]
    edge.get("/track/abc")
    older = "<html>shell v1</html>"
    assert edge.plant(edge.dist_id, path="/index.html", age=90, body=older).status == 200

    seen = edge.get("/track/xyz")
    assert (seen.body, seen.x_cache) == (older.encode(), "Hit from cloudfront")
    assert int(seen.headers["Age"]) >= 90

    inv = edge.cf.create_invalidation(
        DistributionId=edge.dist_id, InvalidationBatch=invalidation_batch("/index.html")
    )["Invalidation"]["Id"]
    wait_completed(edge.cf, edge.dist_id, inv)
    cured = edge.get("/track/xyz")
    assert (cured.body, cured.x_cache) == (SHELL, "Miss from cloudfront")
    assert edge.release().json()["released"] == 0  # the invalidation already took it


def test_refusals_say_what_to_send(edges: list[Edge]) -> None:
    edge = edges[0]
    nothing = edge.plant(path="/track/*", age=600)
    assert nothing.status == 409
    assert "GET it through the edge first" in nothing.json()["error"]

    edge.get("/track/abc")
    for request, words in [
        ({"path": "track/*", "age": 600}, 'starting with "/"'),
        ({"path": "/tr*ck/", "age": 600}, '"*" only at its end'),
        ({"path": "/track/*", "age": -1}, "whole seconds"),
        ({"path": "/track/*", "age": "600"}, "whole seconds"),
        ({"path": "/track/*", "age": 600, "body": 7}, "body must be text"),
        ({"path": "/track/*", "age": 600, "colour": "red"}, "unknown fields ['colour']"),
    ]:
        refused = edge.plant(**request)
        assert refused.status == 400, request
        assert words in refused.json()["error"], request
    assert edge.plant("no-such.example", path="/track/*", age=600).status == 404
    # Nothing refused was planted: the copy is still an ordinary one.
    assert edge.release().json()["released"] == 0


def test_a_restart_starts_with_no_held_copy(aws_stack: Any, tmp_path: Path) -> None:
    bucket = _bucket(aws_stack.client("s3"))
    state_file = tmp_path / "cloudfront-state.json"
    with private_cloudfront(aws_stack.moto_url, tmp_path, state_file=state_file) as first:
        cf = first.client()
        _, arn = published_function(cf)
        edge = _edge(cf, first.url, bucket, arn)
        edge.get("/track/abc")
        assert edge.plant(path="/track/*", age=600).status == 200
        assert int(edge.get("/track/abc").headers["Age"]) >= 600
    with private_cloudfront(aws_stack.moto_url, tmp_path, state_file=state_file) as second:
        edge = Edge(second.client(), edge.alias, edge.dist_id, edge.url, second.url)
        assert edge_url(second.url, edge.dist_id) == edge.url
        again = edge.get("/track/abc")
        assert (again.body, again.x_cache, again.headers.get("Age")) == (
            SHELL,
            "Miss from cloudfront",
            None,
        )

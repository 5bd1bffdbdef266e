"""The nightly freshness check against the session's released stack: it passes as released; a
stale copy planted in one edge's cache (the local stale-copy route) fails it, naming that edge,
the path, X-Cache, Age and what to invalidate, and fails nothing it should not: a stale copy of
the current shell leaves the canary and content checks passing, a stale copy of an older build's
shell fails the canary check on that edge too (a customer there sees the wrong build), never
content (the bucket is right). Every test releases what it planted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_verify_canary import _run, _urls
from verify_faults import edge_cache

from qdn import config
from qdn.canary import Canary, ensure_canary
from qdn.distribution_spec import distributions_by_alias
from qdn.jobs.model import redact_token
from qdn.smoke import http_get
from qdn.verify.canary import check_canary
from qdn.verify.content import check_content
from qdn.verify.freshness import check_freshness, max_age

# Far past the shell's and the API's max-age (60 s), as an edge that never let go would show.
STALE_AGE = 600


def _content(site) -> Any:
    client = site.stack.client
    return check_content(
        client("s3"), client("cloudfront"), client("cloudfront-keyvaluestore"), config.BUCKET
    )


@pytest.fixture(scope="module")
def canary(released_site) -> Canary:
    return ensure_canary(released_site.stack.client("s3"), config.BUCKET)


@pytest.fixture
def stale(released_site, canary: Canary) -> Iterator[Any]:
    """Plants a stale copy on one edge: fetches the path there first (so the edge holds a copy),
    then ages it; every planted copy is released afterwards, whatever the test did."""
    planted: list[str] = []

    def plant(alias: str, viewer_path: str, path: str, body: str | None = None) -> None:
        assert http_get(released_site.url(alias) + viewer_path).status == 200
        request: dict[str, Any] = {"path": path, "age": STALE_AGE}
        if body is not None:
            request["body"] = body
        planted.append(alias)
        assert edge_cache(released_site.stack, alias, "PUT", request)["held"] == 1

    yield plant
    for alias in planted:
        edge_cache(released_site.stack, alias, "DELETE")


def test_max_age_reads_the_origin_s_cache_control() -> None:
    assert max_age("public, max-age=60") == 60
    assert max_age("max-age=60, s-maxage=5") == 5  # meant for shared caches such as an edge
    assert max_age("private, no-store") == 0
    assert max_age("no-cache, max-age=60") == 0
    assert max_age(None) is None
    assert max_age("public") is None


def test_the_released_site_passes(released_site, canary: Canary) -> None:
    result = _run(released_site, check_freshness)
    assert result.passed, result.summary()
    assert not result.warnings
    assert "2 path(s) on 2 edge(s) checked against their max-age" in result.summary()


def test_a_stale_shell_on_one_edge_is_named_with_x_cache_and_age(
    released_site, canary: Canary, stale
) -> None:
    alias = config.DISTRIBUTION_ALIASES[1]
    hint = redact_token(canary.token)
    stale(alias, f"/track/{canary.token}", "/track/*")

    result = _run(released_site, check_freshness)
    assert len(result.problems) == 1, result.summary()
    problem = result.problems[0]
    live = released_site.build_id
    dist_id = distributions_by_alias(released_site.stack.client("cloudfront"))[alias]["Id"]
    assert problem.startswith(f"{alias} GET /track/{hint}: a stale copy (X-Cache: Hit from ")
    assert ", Age: 6" in problem  # 600 s and counting
    assert (
        f"past its max-age of 60 s (Cache-Control 'public, max-age=60' of "
        f"s3://{config.BUCKET}/builds/{live}/index.html)"
    ) in problem
    assert "its body still matches the origin's current one" in problem
    assert problem.endswith(f"invalidate /{live}/index.html and /track/* on distribution {dist_id}")
    assert canary.token not in problem

    # The page is the live build's, so customers see the right page: only freshness fails.
    assert _run(released_site, check_canary).passed
    assert _content(released_site).passed


def test_a_stale_shell_of_an_older_build_fails_the_canary_on_that_edge_too(
    released_site, canary: Canary, stale
) -> None:
    alias = config.DISTRIBUTION_ALIASES[0]
    live = released_site.build_id
    current = http_get(released_site.url(alias) + "/book/").body.decode()
    older = "build-0123456789ab"
    stale(alias, "/book/", "/book/", body=current.replace(live, older))

    result = _run(released_site, check_freshness)
    assert len(result.problems) == 1, result.summary()
    assert result.problems[0].startswith(f"{alias} GET /track/{redact_token(canary.token)}: ")
    assert "its body differs from the origin's current one" in result.problems[0]

    canary_result = _run(released_site, check_canary)
    assert len(canary_result.problems) == 1, canary_result.summary()
    assert canary_result.problems[0].startswith(f"{alias} GET /track/")
    assert f"expected build {live}, got build {older}" in canary_result.problems[0]
    # The bucket and the pointer are right: content has nothing to say.
    assert _content(released_site).passed


def test_a_stale_api_answer_is_named_with_the_api_s_own_max_age(
    released_site, canary: Canary, stale
) -> None:
    alias = config.DISTRIBUTION_ALIASES[0]
    path = config.TRACK_API_PREFIX + canary.token
    stale(alias, path, path)

    result = _run(released_site, check_freshness)
    assert len(result.problems) == 1, result.summary()
    problem = result.problems[0]
    assert problem.startswith(f"{alias} GET {config.TRACK_API_PREFIX}{redact_token(canary.token)}")
    assert "past its max-age of 60 s (the track API's Cache-Control 'max-age=60')" in problem
    assert "its body still matches" in problem
    assert f"invalidate {config.TRACK_API_PREFIX}* on distribution " in problem
    assert _run(released_site, check_canary).passed


def test_requests_per_edge_stay_constant(released_site, canary: Canary) -> None:
    seen: list[str] = []

    def get(url: str) -> Any:
        seen.append(url)
        return http_get(url)

    client = released_site.stack.client
    result = check_freshness(
        client("s3"),
        client("cloudfront"),
        client("cloudfront-keyvaluestore"),
        config.BUCKET,
        _urls(released_site),
        get=get,
    )
    assert result.passed, result.summary()
    assert len(seen) == 2 * len(config.DISTRIBUTION_ALIASES)

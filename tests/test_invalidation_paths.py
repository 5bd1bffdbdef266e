"""Invalidation paths: every rule on its own, then folding and token redaction."""

from __future__ import annotations

import secrets

import pytest

from qdn import config
from qdn.invalidation_paths import (
    COLLAPSE_THRESHOLD,
    EVERYTHING,
    MAX_WILDCARDS,
    encode_path,
    invalidation_paths,
)
from qdn.jobs.model import new_token
from qdn.routes import ROUTES, SHELL_KEY, SHELL_URI

JS = "assets/app.0123456789.js"


def test_nothing_changed_means_no_paths():
    paths = invalidation_paths([], [], [])
    assert not paths and paths.paths == [] and len(paths) == 0
    with pytest.raises(ValueError, match="skip the invalidation"):
        paths.invalidation_batch("ref")


def test_a_changed_asset_is_its_own_path_only():
    assert invalidation_paths([JS], [], []).paths == ["/" + JS]


def test_a_changed_shell_brings_root_and_every_route_onto_it():
    paths = invalidation_paths([SHELL_KEY], [], []).paths
    routed = sorted(prefix + "*" for prefix, target in ROUTES.items() if target == SHELL_URI)
    assert routed == ["/book/*", "/dashboard/*", "/track/*"]
    assert paths == sorted(["/", SHELL_URI, *routed])
    # The function redirects the bare routes itself (never cached): no paths for them.
    assert "/track" not in paths and "/book" not in paths


def test_routes_follow_the_table_given():
    routes = {"/quote/": "/quote.html"}
    assert invalidation_paths(["quote.html"], [], [], routes=routes).paths == [
        "/quote.html",
        "/quote/*",
    ]
    assert "/quote/*" not in invalidation_paths([SHELL_KEY], [], [], routes=routes).paths


def test_deleted_objects_are_invalidated_too():
    old = "assets/app.aaaaaaaaaa.js"
    assert invalidation_paths([JS], [old], []).paths == ["/" + JS, "/" + old]


def test_paths_are_encoded_as_cloudfront_expects_and_keep_case():
    assert encode_path("Docs/Price List.PDF") == "/Docs/Price%20List.PDF"
    assert encode_path("img/café.png") == "/img/caf%C3%A9.png"
    assert encode_path("a~b[1]#x.txt") == "/a%7Eb%5B1%5D%23x.txt"
    assert encode_path("odd?name*.txt") == "/odd%3Fname%2A.txt"  # not a query, not a wildcard
    assert encode_path("100%.txt") == "/100%25.txt"
    assert encode_path("keep-these_(a).b,c;d=e&f+g@h!$'.txt") == (
        "/keep-these_(a).b,c;d=e&f+g@h!$'.txt"
    )
    paths = invalidation_paths(["Index.HTML", "index.html"], [], []).paths
    assert "/Index.HTML" in paths and "/index.html" in paths


def test_every_changed_job_gets_its_track_api_path():
    tokens = [new_token(), new_token()]
    paths = invalidation_paths([], [], tokens).paths
    assert paths == sorted(config.TRACK_API_PREFIX + t for t in tokens)


def test_order_is_sorted_and_deduplicated_whatever_the_input_order():
    token = new_token()
    a = invalidation_paths([JS, SHELL_KEY, JS], ["old.txt"], [token, token])
    b = invalidation_paths([SHELL_KEY, JS], ["old.txt"], [token])
    assert a.paths == b.paths == sorted(set(a.paths))


def test_bad_input_is_refused_without_echoing_a_token():
    with pytest.raises(ValueError, match="site-relative"):
        invalidation_paths(["/index.html"], [], [])
    secret = "x" * 10 + "/" + "y" * 20  # shaped wrong, and long enough to be a token
    with pytest.raises(ValueError) as err:
        invalidation_paths([], [], [secret])
    assert secret not in str(err.value) and "xxxx…" in str(err.value)
    with pytest.raises(ValueError, match="3,000"):
        invalidation_paths([JS], [], [], collapse_threshold=3001)


def test_tokens_never_reach_the_logs():
    token = secrets.token_urlsafe(24)
    paths = invalidation_paths([SHELL_KEY], [], [token])
    assert config.TRACK_API_PREFIX + token in paths.paths  # the real request needs it
    shown = paths.for_logs()
    assert config.TRACK_API_PREFIX + token[:4] + "…" in shown
    for rendering in (repr(paths), str(paths), " ".join(shown), paths.summary()):
        assert token not in rendering and token[4:] not in rendering


def test_many_assets_fold_into_their_directory():
    assets = [f"assets/chunk.{i:010d}.js" for i in range(COLLAPSE_THRESHOLD + 5)]
    paths = invalidation_paths([SHELL_KEY, *assets], [], [])
    assert "/assets/*" in paths.paths
    assert not [p for p in paths.paths if p.startswith("/assets/") and p != "/assets/*"]
    # The shell's own paths stay exact.
    assert {"/", "/index.html", "/track/*"} <= set(paths.paths)
    assert len(paths.exact) <= COLLAPSE_THRESHOLD
    assert any("folded into /assets/*" in note for note in paths.collapsed)


def test_many_tokens_fold_into_the_api_directory_not_api_root():
    tokens = [new_token() for _ in range(COLLAPSE_THRESHOLD + 1)]
    paths = invalidation_paths([], [], tokens)
    assert paths.paths == [config.TRACK_API_PREFIX + "*"]
    assert not any(t in repr(paths) for t in tokens)


def test_folding_stops_at_the_threshold_and_prefers_the_biggest_directory():
    big = [f"img/a{i}.png" for i in range(15)]
    small = [f"fonts/f{i}.woff2" for i in range(8)]
    paths = invalidation_paths(big + small, [], [], collapse_threshold=10)
    assert "/img/*" in paths.paths and "/fonts/*" not in paths.paths
    assert len(paths.exact) == 8


def test_everything_folds_into_slash_star_when_nothing_else_helps():
    scattered = [f"page{i}.html" for i in range(COLLAPSE_THRESHOLD + 1)]
    assert invalidation_paths(scattered, [], []).paths == [EVERYTHING]

    many_dirs = [f"d{i}/{n}.txt" for i in range(MAX_WILDCARDS + 2) for n in "ab"]
    paths = invalidation_paths(many_dirs, [], [], collapse_threshold=0)
    assert paths.paths == [EVERYTHING]
    assert len(paths.wildcards) == 1


def test_wildcards_stay_within_the_limit():
    assets = [f"{d}/x{i}.txt" for d in ("a", "b", "c") for i in range(10)]
    paths = invalidation_paths([SHELL_KEY, *assets], [], [new_token()])
    assert len(paths.wildcards) <= MAX_WILDCARDS
    assert all("*" not in p[:-1] for p in paths.paths)  # "*" only at the end


def test_invalidation_batch_shape():
    batch = invalidation_paths([JS], [], []).invalidation_batch("qdn/run/dist")
    assert batch == {
        "Paths": {"Quantity": 1, "Items": ["/" + JS]},
        "CallerReference": "qdn/run/dist",
    }

"""Invalidation paths: only the changed jobs' track API paths, folded past a threshold, redacted."""

from __future__ import annotations

import secrets

import pytest

from qdn import config
from qdn.invalidation_paths import COLLAPSE_THRESHOLD, TRACK_API_WILDCARD, invalidation_paths
from qdn.jobs.model import new_token


def test_no_job_means_no_paths_at_all():
    paths = invalidation_paths([])
    assert not paths and paths.paths == [] and len(paths) == 0


def test_every_changed_job_gets_its_track_api_path():
    tokens = [new_token(), new_token()]
    paths = invalidation_paths(tokens).paths
    assert paths == sorted(config.TRACK_API_PREFIX + t for t in tokens)
    # Content has its own cache keys per build: nothing else is ever invalidated.
    assert all(p.startswith(config.TRACK_API_PREFIX) for p in paths)


def test_order_is_sorted_and_deduplicated_whatever_the_input_order():
    a, b = new_token(), new_token()
    assert invalidation_paths([a, b, a]).paths == invalidation_paths([b, a]).paths


def test_bad_input_is_refused_without_echoing_a_token():
    secret = "x" * 10 + "/" + "y" * 20  # shaped wrong, and long enough to be a token
    with pytest.raises(ValueError) as err:
        invalidation_paths([secret])
    assert secret not in str(err.value) and "xxxx…" in str(err.value)
    with pytest.raises(ValueError, match="3,000"):
        invalidation_paths([], collapse_threshold=3001)


def test_tokens_never_reach_the_logs():
    token = secrets.token_urlsafe(24)
    paths = invalidation_paths([token])
    assert config.TRACK_API_PREFIX + token in paths.paths  # the real request needs it
    shown = paths.for_logs()
    assert shown == [config.TRACK_API_PREFIX + token[:4] + "…"]
    for rendering in (repr(paths), str(paths), " ".join(shown)):
        assert token not in rendering and token[4:] not in rendering


def test_many_jobs_fold_into_one_wildcard():
    tokens = [new_token() for _ in range(COLLAPSE_THRESHOLD + 1)]
    paths = invalidation_paths(tokens)
    assert paths.paths == [TRACK_API_WILDCARD] == [config.TRACK_API_PREFIX + "*"]
    assert str(COLLAPSE_THRESHOLD + 1) in paths.collapsed[0]
    assert len(invalidation_paths(tokens[:COLLAPSE_THRESHOLD])) == COLLAPSE_THRESHOLD

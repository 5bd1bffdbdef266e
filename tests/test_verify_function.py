"""The nightly function check against the session's released stack: it passes as released; code
published by hand (no gate, no history, no kept copy) fails it, naming the function, the stage,
the ETag and the code's sha256; a trial on DEVELOPMENT only warns; LIVE cut off from the store
fails it. Each fault fails the function check alone: the distributions still name the function's
ARN, so their check passes. Every test publishes the original code and config back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from verify_faults import function_put_back as _function_put_back
from verify_faults import publish_by_hand as _publish
from verify_faults import update_development as _update

from localaws.stack import REGION
from qdn import config
from qdn.function_release import sha256_hex
from qdn.release_manifest import (
    HISTORY_KEY,
    HistoryEntry,
    function_code_key,
    keep_function_code,
    record_switch,
)
from qdn.verify.distributions import check_distributions
from qdn.verify.function import SHA_SHOWN, check_function
from qdn.verify.result import CheckResult

CF_DIR = Path(__file__).resolve().parent.parent / "cf"
NAME = config.FUNCTION_NAME
# A run id no DAG makes: the history entry a test records for the LIVE code it finds.
TEST_RUN_ID = "manual__verify-function-test"
# A change that alters nothing the function does, as a hand edit in the console would look.
HAND_EDIT = b"// edited by hand\n"


def _function_check(site) -> CheckResult:
    stack = site.stack
    return check_function(stack.client("cloudfront"), stack.client("s3"), config.BUCKET, CF_DIR)


def _distributions_check(site) -> CheckResult:
    return check_distributions(site.stack.client("cloudfront"), config.BUCKET, REGION)


def test_the_released_site_passes(released_site) -> None:
    result = _function_check(released_site)
    assert result.passed, result.summary()
    assert not result.warnings, result.summary()
    assert f"function {NAME} LIVE" in result.summary()
    assert f"runs the repo's {NAME}.js" in result.summary()


def test_code_published_outside_a_release_fails_only_the_function_check(released_site) -> None:
    cf = released_site.stack.client("cloudfront")
    with _function_put_back(cf) as (code, function_config):
        edited = code + HAND_EDIT
        _publish(cf, edited, function_config)
        etag = cf.describe_function(Name=NAME, Stage="LIVE")["ETag"]
        result = _function_check(released_site)
        distributions = _distributions_check(released_site)
    assert not result.passed
    live = f"function {NAME} LIVE (ETag {etag}, sha256 {sha256_hex(edited)[:SHA_SHOWN]})"
    assert len(result.problems) == 2, result.summary()
    repo, outside = result.problems
    assert repo.startswith(f"{live} is not the repo's {NAME}.js (+1/-0 lines")
    assert outside.startswith(f"{live} was published outside a release: the last ")
    key = f"releases/functions/{sha256_hex(edited)}.js"
    assert f"no run kept this code at s3://{config.BUCKET}/{key}" in outside
    for problem in result.problems:
        assert "qdn_release" in problem and "qdn_rollback" in problem
    # The hand publish went to DEVELOPMENT first, so the stages agree: no warning on top.
    assert not result.warnings
    assert distributions.passed, distributions.summary()
    assert _function_check(released_site).passed


def test_a_trial_on_development_only_warns(released_site) -> None:
    cf = released_site.stack.client("cloudfront")
    with _function_put_back(cf) as (code, function_config):
        dev_etag = _update(cf, code + HAND_EDIT, function_config)
        result = _function_check(released_site)
        distributions = _distributions_check(released_site)
    assert result.passed, result.summary()
    assert result.warnings == [
        f"function {NAME} DEVELOPMENT (ETag {dev_etag}, sha256 "
        f"{sha256_hex(code + HAND_EDIT)[:SHA_SHOWN]}) differs from LIVE (+1/-0 lines): someone "
        "is trying a change; nothing serves it, and the next release replaces it"
    ]
    assert "warning: function" in result.summary()
    assert distributions.passed, distributions.summary()


def test_live_cut_off_from_the_store_fails_only_the_function_check(released_site) -> None:
    """Published without the store, the function never reads the pointer: every viewer gets its
    fallback build whatever a release writes. The distributions check only warns about it."""
    cf = released_site.stack.client("cloudfront")
    with _function_put_back(cf) as (code, function_config):
        assert function_config["KeyValueStoreAssociations"]["Quantity"] == 1
        store = function_config["KeyValueStoreAssociations"]["Items"][0]["KeyValueStoreARN"]
        alone = {k: v for k, v in function_config.items() if k != "KeyValueStoreAssociations"}
        _publish(cf, code, alone)
        result = _function_check(released_site)
        distributions = _distributions_check(released_site)
    assert len(result.problems) == 1, result.summary()
    assert f"reads store(s) (none), not {config.KVS_NAME} ({store})" in result.problems[0]
    assert "qdn_release" in result.problems[0]
    assert distributions.passed, distributions.summary()
    assert any(f"does not read {config.KVS_NAME}" in w for w in distributions.warnings)


@contextmanager
def _history_put_back(s3: Any) -> Iterator[None]:
    """The release history as it was afterwards (other checks read its head)."""
    saved = s3.get_object(Bucket=config.BUCKET, Key=HISTORY_KEY)["Body"].read()
    try:
        yield
    finally:
        s3.put_object(Bucket=config.BUCKET, Key=HISTORY_KEY, Body=saved)


def test_live_is_judged_against_the_sha256_the_last_release_recorded(released_site) -> None:
    """With a release on record, hand-published code names the sha256 that release left in
    LIVE; code a run kept (a release that published without promoting) is only a warning."""
    stack = released_site.stack
    cf, s3 = stack.client("cloudfront"), stack.client("s3")
    with _history_put_back(s3), _function_put_back(cf) as (code, function_config):
        live_build = released_site.build_id
        record_switch(
            s3,
            config.BUCKET,
            HistoryEntry(
                run_id=TEST_RUN_ID,
                build_id=live_build,
                previous_build=live_build,
                function_sha256=sha256_hex(code),
            ),
        )
        recorded = _function_check(released_site)
        assert recorded.passed, recorded.summary()
        assert f"the last release (run {TEST_RUN_ID}) left this code in LIVE" in recorded.notes

        edited = code + HAND_EDIT
        _publish(cf, edited, function_config)
        by_hand = _function_check(released_site)
        kept_key = keep_function_code(s3, config.BUCKET, edited)
        try:
            kept = _function_check(released_site)
        finally:
            s3.delete_object(Bucket=config.BUCKET, Key=kept_key)
    said = f"the last release (run {TEST_RUN_ID}) left sha256 {sha256_hex(code)[:SHA_SHOWN]}"
    assert len(by_hand.problems) == 2, by_hand.summary()
    assert f"was published outside a release: {said}, and no run kept" in by_hand.problems[1]
    # Kept by a run: only the repo comparison fails; the record's difference is a warning.
    assert kept_key == function_code_key(sha256_hex(edited))
    assert len(kept.problems) == 1 and "is not the repo's" in kept.problems[0]
    assert len(kept.warnings) == 1, kept.summary()
    assert f"is not what the history says ({said}), but a run kept it" in kept.warnings[0]
    assert _function_check(released_site).passed

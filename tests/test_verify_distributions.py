"""The nightly distributions check against the session's released stack: both distributions pass
as bootstrapped; a removed function association, another cache policy on /api/* and a disabled
distribution each fail it with exactly one problem, naming the distribution id, the alias, the
field, what the spec says and what was found. Each fault fails the distributions check alone: the
function itself is untouched, so its check passes. Every test puts the saved config back."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from verify_faults import distribution_changed as _changed

from localaws.stack import REGION
from qdn import config
from qdn.distribution_spec import (
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    distribution_config,
)
from qdn.verify.distributions import check_distributions, drift
from qdn.verify.function import check_function
from qdn.verify.result import CheckResult

CF_DIR = Path(__file__).resolve().parent.parent / "cf"
ALIAS = config.DISTRIBUTION_ALIASES[0]
API_BEHAVIOUR = config.API_PATH_PREFIX + "*"


def _distributions_check(site) -> CheckResult:
    return check_distributions(site.stack.client("cloudfront"), config.BUCKET, REGION)


def _function_check(site) -> CheckResult:
    stack = site.stack
    return check_function(stack.client("cloudfront"), stack.client("s3"), config.BUCKET, CF_DIR)


def _function_arn(cf: Any) -> str:
    summary = cf.describe_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionSummary"]
    return summary["FunctionMetadata"]["FunctionARN"]


def test_the_released_site_passes(released_site) -> None:
    result = _distributions_check(released_site)
    assert result.passed, result.summary()
    assert not result.warnings, result.summary()
    assert result.counts == {"distributions": len(config.DISTRIBUTION_ALIASES)}
    for alias in config.DISTRIBUTION_ALIASES:
        assert f"({alias})" in result.summary()


def test_a_removed_function_association_fails_only_the_distributions_check(
    released_site,
) -> None:
    cf = released_site.stack.client("cloudfront")

    def remove(dist_config: dict[str, Any]) -> None:
        dist_config["DefaultCacheBehavior"]["FunctionAssociations"] = {"Quantity": 0}

    with _changed(cf, ALIAS, remove) as dist_id:
        result = _distributions_check(released_site)
        function = _function_check(released_site)
    assert len(result.problems) == 1, result.summary()
    assert result.problems[0].startswith(
        f"distribution {dist_id} ({ALIAS}): DefaultCacheBehavior.FunctionAssociations"
        f"[viewer-request] is (absent), the spec says {{FunctionARN: {_function_arn(cf)}, "
        "EventType: viewer-request}; put it back as qdn.distribution_spec describes "
        f"(update-distribution --id {dist_id} --if-match "
    )
    assert function.passed, function.summary()
    assert _distributions_check(released_site).passed


def test_another_cache_policy_on_the_api_fails_only_the_distributions_check(
    released_site,
) -> None:
    cf = released_site.stack.client("cloudfront")

    def uncache(dist_config: dict[str, Any]) -> None:
        for behaviour in dist_config["CacheBehaviors"]["Items"]:
            if behaviour["PathPattern"] == API_BEHAVIOUR:
                behaviour["CachePolicyId"] = CACHING_DISABLED

    alias = config.DISTRIBUTION_ALIASES[-1]
    with _changed(cf, alias, uncache) as dist_id:
        result = _distributions_check(released_site)
        function = _function_check(released_site)
    assert len(result.problems) == 1, result.summary()
    assert result.problems[0].startswith(
        f"distribution {dist_id} ({alias}): CacheBehaviors[{API_BEHAVIOUR}].CachePolicyId is "
        f"{CACHING_DISABLED}, the spec says {CACHING_OPTIMIZED}; "
    )
    assert function.passed, function.summary()


def test_a_disabled_distribution_fails_only_the_distributions_check(released_site) -> None:
    cf = released_site.stack.client("cloudfront")

    def disable(dist_config: dict[str, Any]) -> None:
        dist_config["Enabled"] = False

    with _changed(cf, ALIAS, disable) as dist_id:
        result = _distributions_check(released_site)
        function = _function_check(released_site)
    assert len(result.problems) == 1, result.summary()
    assert result.problems[0].startswith(
        f"distribution {dist_id} ({ALIAS}): Enabled is False, the spec says True; "
    )
    assert function.passed, function.summary()


def test_a_function_on_the_api_behaviour_is_named(released_site) -> None:
    """The spec puts no code on /api/*: the rewrite there would send API calls to the shell."""
    cf = released_site.stack.client("cloudfront")
    arn = _function_arn(cf)
    association = {"FunctionARN": arn, "EventType": "viewer-request"}

    def rewrite_api(dist_config: dict[str, Any]) -> None:
        for behaviour in dist_config["CacheBehaviors"]["Items"]:
            if behaviour["PathPattern"] == API_BEHAVIOUR:
                behaviour["FunctionAssociations"] = {"Quantity": 1, "Items": [association]}

    with _changed(cf, ALIAS, rewrite_api) as dist_id:
        result = _distributions_check(released_site)
    assert len(result.problems) == 1, result.summary()
    assert result.problems[0].startswith(
        f"distribution {dist_id} ({ALIAS}): CacheBehaviors[{API_BEHAVIOUR}].FunctionAssociations "
        f"is [{{FunctionARN: {arn}, EventType: viewer-request}}], the spec says []; "
    )


def test_drift_names_extra_and_missing_items_and_ignores_aws_defaults() -> None:
    """The comparison itself, on documents shaped as GetDistributionConfig returns them: an
    origin nobody described is drift, a reordered method list and AWS's defaults are not."""
    arn = "arn:aws:cloudfront::123456789012:function/" + config.FUNCTION_NAME
    expected = distribution_config(ALIAS, arn, config.BUCKET, REGION)
    found = copy.deepcopy(expected)
    found["PriceClass"] = "PriceClass_All"  # an AWS default the spec does not set
    api = found["CacheBehaviors"]["Items"][0]
    api["AllowedMethods"]["Items"].reverse()
    assert drift(expected, found) == []
    found["Origins"]["Items"].append({"Id": "stray", "DomainName": "example.com"})
    found["Origins"]["Quantity"] += 1
    del found["Origins"]["Items"][0]["OriginPath"]
    assert drift(expected, found) == [
        (f"Origins[{config.SITE_ORIGIN_ID}].OriginPath", config.ORIGIN_PATH, "(absent)"),
        ("Origins[stray]", "(absent)", "{Id: stray, DomainName: example.com}"),
    ]


def test_the_api_origin_is_the_one_production_names(released_site) -> None:
    # Production's function URL host comes from the Variable qdn_track_api_origin: a stack whose
    # /api/* origin is another host fails, and the problem says which Variable to set.
    host = "abcdefghij0123456789.lambda-url.us-east-1.on.aws"
    cf = released_site.stack.client("cloudfront")
    result = check_distributions(cf, config.BUCKET, REGION, api_origin=host)
    assert len(result.problems) == len(config.DISTRIBUTION_ALIASES), result.summary()
    for problem in result.problems:
        assert f"DomainName is {config.TRACK_API_ORIGIN_DOMAIN}, the spec says {host}" in problem
        assert "set the Airflow Variable qdn_track_api_origin" in problem

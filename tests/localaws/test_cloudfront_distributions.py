"""Distributions on the local CloudFront, through boto3 only: configs round trip, ETags, errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cloudfront_support import (
    CACHING_OPTIMIZED,
    FUNCTION_CONFIG,
    distribution_config,
    edge_url,
    fetch,
    legacy_behaviour,
    published_function,
    remove_distribution,
    unchecked_client,
    unique,
)


def _behaviours(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [config["DefaultCacheBehavior"], *config["CacheBehaviors"].get("Items", [])]


def test_create_get_config_list_and_update_keep_origins_behaviours_and_functions(
    cf: Any, aws_stack: Any
) -> None:
    _, arn = published_function(cf)
    sent = distribution_config("example-bucket", function_arn=arn, with_api=True)
    created = cf.create_distribution(DistributionConfig=sent)
    dist = created["Distribution"]
    dist_id = dist["Id"]
    assert re.fullmatch(r"E[A-Z0-9]{13}", dist_id)
    assert re.fullmatch(r"d[a-z0-9]{13}\.cloudfront\.net", dist["DomainName"])
    assert dist["ARN"] == f"arn:aws:cloudfront::123456789012:distribution/{dist_id}"
    assert dist["Status"] == "InProgress"
    assert created["Location"].endswith(f"/distribution/{dist_id}")

    # Deployed shortly after; botocore's own waiter sees it.
    cf.get_waiter("distribution_deployed").wait(
        Id=dist_id, WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )

    got = cf.get_distribution(Id=dist_id)
    assert got["ETag"] == created["ETag"]
    config = cf.get_distribution_config(Id=dist_id)
    assert config["ETag"] == created["ETag"]
    kept = config["DistributionConfig"]
    assert kept["CallerReference"] == sent["CallerReference"]
    origins = {o["Id"]: o for o in kept["Origins"]["Items"]}
    assert origins["site"]["OriginPath"] == "/site"
    assert origins["site"]["DomainName"] == "example-bucket.s3.us-east-1.amazonaws.com"
    assert origins["api"]["DomainName"].endswith(".lambda-url.us-east-1.on.aws")
    default, api = _behaviours(kept)
    assert default["CachePolicyId"] == CACHING_OPTIMIZED
    assert default["FunctionAssociations"]["Items"] == [
        {"FunctionARN": arn, "EventType": "viewer-request"}
    ]
    assert api["PathPattern"] == "/api/*"
    assert api["AllowedMethods"]["Quantity"] == 7

    listed = cf.list_distributions()["DistributionList"]
    summary = next(d for d in listed["Items"] if d["Id"] == dist_id)
    assert summary["ETag"] == created["ETag"]
    assert summary["DefaultCacheBehavior"]["FunctionAssociations"]["Quantity"] == 1

    # Update with the ETag: add a legacy-TTL behaviour, keep everything else.
    kept["CacheBehaviors"]["Items"].append(
        {
            "PathPattern": "/assets/*",
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "allow-all",
            **legacy_behaviour(query_string=True, default_ttl=60, max_ttl=600),
        }
    )
    kept["CacheBehaviors"]["Quantity"] = 2
    updated = cf.update_distribution(Id=dist_id, IfMatch=config["ETag"], DistributionConfig=kept)
    assert updated["ETag"] != config["ETag"]
    assert updated["Distribution"]["Status"] == "InProgress"
    again = cf.get_distribution_config(Id=dist_id)
    assert again["ETag"] == updated["ETag"]
    default, api, assets = _behaviours(again["DistributionConfig"])
    assert default["FunctionAssociations"]["Items"][0]["FunctionARN"] == arn
    assert api["TargetOriginId"] == "api"
    assert (assets["MinTTL"], assets["DefaultTTL"], assets["MaxTTL"]) == (0, 60, 600)
    assert assets["ForwardedValues"]["QueryString"] is True

    # The edge started with the distribution (its bucket does not exist: S3's 404 comes through).
    answer = fetch(edge_url(aws_stack.cloudfront_url, dist_id) + "/")
    assert (answer.status, answer.x_cache) == (404, "Error from cloudfront")
    remove_distribution(cf, dist_id)


def test_update_needs_the_current_etag(cf: Any, aws_stack: Any) -> None:
    dist = cf.create_distribution(DistributionConfig=distribution_config("b"))
    dist_id, etag = dist["Distribution"]["Id"], dist["ETag"]
    config = cf.get_distribution_config(Id=dist_id)["DistributionConfig"]
    config["Comment"] = "changed"
    fresh = cf.update_distribution(Id=dist_id, IfMatch=etag, DistributionConfig=config)
    with pytest.raises(cf.exceptions.PreconditionFailed):
        cf.update_distribution(Id=dist_id, IfMatch=etag, DistributionConfig=config)
    with pytest.raises(cf.exceptions.InvalidIfMatchVersion):
        unchecked_client(aws_stack.cloudfront_url).update_distribution(
            Id=dist_id, DistributionConfig=config
        )
    config["CallerReference"] = "another"
    with pytest.raises(cf.exceptions.IllegalUpdate):
        cf.update_distribution(Id=dist_id, IfMatch=fresh["ETag"], DistributionConfig=config)
    remove_distribution(cf, dist_id)


def test_caller_reference_reuse_is_distribution_already_exists(cf: Any) -> None:
    config = distribution_config("b")
    first = cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    with pytest.raises(cf.exceptions.DistributionAlreadyExists) as exc:
        cf.create_distribution(DistributionConfig=config)
    assert first in exc.value.response["Error"]["Message"]
    remove_distribution(cf, first)


def test_unknown_distribution_is_no_such_distribution(cf: Any) -> None:
    for call in (
        lambda: cf.get_distribution(Id="E0000000000000"),
        lambda: cf.get_distribution_config(Id="E0000000000000"),
        lambda: cf.update_distribution(
            Id="E0000000000000", IfMatch="E1", DistributionConfig=distribution_config("b")
        ),
    ):
        with pytest.raises(cf.exceptions.NoSuchDistribution) as exc:
            call()
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_only_published_functions_can_be_associated(cf: Any) -> None:
    name = unique("fn")
    created = cf.create_function(
        Name=name,
        FunctionConfig=FUNCTION_CONFIG,
        FunctionCode=b"function handler(e) { return e.request; }",
    )
    arn = created["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]
    with pytest.raises(cf.exceptions.InvalidFunctionAssociation):
        cf.create_distribution(DistributionConfig=distribution_config("b", function_arn=arn))


def test_a_function_in_use_cannot_be_deleted_until_disassociated(cf: Any) -> None:
    name, arn = published_function(cf)
    dist = cf.create_distribution(DistributionConfig=distribution_config("b", function_arn=arn))
    dist_id = dist["Distribution"]["Id"]
    assert cf.describe_function(Name=name, Stage="LIVE")["FunctionSummary"]["Status"] == "DEPLOYED"
    with pytest.raises(cf.exceptions.FunctionInUse) as exc:
        cf.delete_function(Name=name, IfMatch=cf.describe_function(Name=name)["ETag"])
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    config = cf.get_distribution_config(Id=dist_id)
    config["DistributionConfig"]["DefaultCacheBehavior"]["FunctionAssociations"] = {"Quantity": 0}
    cf.update_distribution(
        Id=dist_id, IfMatch=config["ETag"], DistributionConfig=config["DistributionConfig"]
    )
    cf.delete_function(Name=name, IfMatch=cf.describe_function(Name=name)["ETag"])
    remove_distribution(cf, dist_id)


def test_inconsistent_configs_are_refused_with_named_errors(cf: Any) -> None:
    config = distribution_config("b")
    config["Origins"]["Quantity"] = 2
    with pytest.raises(cf.exceptions.InconsistentQuantities):
        cf.create_distribution(DistributionConfig=config)

    config = distribution_config("b")
    config["DefaultCacheBehavior"]["TargetOriginId"] = "nowhere"
    with pytest.raises(cf.exceptions.NoSuchOrigin):
        cf.create_distribution(DistributionConfig=config)

    config = distribution_config("b")
    config["DefaultCacheBehavior"]["CachePolicyId"] = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(cf.exceptions.NoSuchCachePolicy):
        cf.create_distribution(DistributionConfig=config)

    legacy = legacy_behaviour(min_ttl=100, default_ttl=10, max_ttl=600)
    with pytest.raises(cf.exceptions.InvalidTTLOrder):
        cf.create_distribution(
            DistributionConfig=distribution_config("b", default_behaviour=legacy)
        )


def test_an_alias_belongs_to_one_distribution(cf: Any) -> None:
    alias = unique("alias") + ".example"
    first = cf.create_distribution(DistributionConfig=distribution_config("b", aliases=(alias,)))
    with pytest.raises(cf.exceptions.CNAMEAlreadyExists):
        cf.create_distribution(DistributionConfig=distribution_config("b", aliases=(alias,)))
    remove_distribution(cf, first["Distribution"]["Id"])


def test_delete_needs_a_disabled_distribution_and_stops_its_edge(cf: Any, aws_stack: Any) -> None:
    created = cf.create_distribution(DistributionConfig=distribution_config("b"))
    dist_id = created["Distribution"]["Id"]
    url = edge_url(aws_stack.cloudfront_url, dist_id)
    with pytest.raises(cf.exceptions.DistributionNotDisabled):
        cf.delete_distribution(Id=dist_id, IfMatch=created["ETag"])
    remove_distribution(cf, dist_id)
    with pytest.raises(StopIteration):
        edge_url(aws_stack.cloudfront_url, dist_id)
    with pytest.raises(cf.exceptions.NoSuchDistribution):
        cf.get_distribution(Id=dist_id)
    assert url.startswith("http://127.0.0.1:")

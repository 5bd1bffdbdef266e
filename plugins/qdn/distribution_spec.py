"""What each distribution must be: the one description the bootstrap creates and the nightly
distributions check compares against, so what is checked is what was created."""

from __future__ import annotations

from typing import Any

from qdn import config
from qdn.routes import SHELL_KEY

# AWS managed cache policies (fixed ids, the same in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
# AWS managed origin request policy: every viewer header but Host reaches the API origin.
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def distribution_config(
    alias: str,
    function_arn: str,
    bucket: str,
    region: str,
    api_origin: str = config.TRACK_API_ORIGIN_DOMAIN,
) -> dict[str, Any]:
    """Both distributions share this shape; only the alias (and the reference) differ.

    ``api_origin`` is the track API function URL's host: AWS picks it when the URL is created, so
    production passes the one its stack output names (the Variable ``qdn_track_api_origin``);
    the local stack serves the fixed default.
    """
    api_behaviour = {
        "PathPattern": config.API_PATH_PREFIX + "*",
        "TargetOriginId": config.API_ORIGIN_ID,
        "ViewerProtocolPolicy": "https-only",
        # The track API answers with Cache-Control max-age=60; the dashboard's no-store is honoured.
        "CachePolicyId": CACHING_OPTIMIZED,
        "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST,
        "AllowedMethods": {
            "Quantity": 7,
            "Items": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
            "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
        },
        "Compress": True,
    }
    return {
        "CallerReference": f"qdn-bootstrap-{alias}",
        "Aliases": {"Quantity": 1, "Items": [alias]},
        "DefaultRootObject": SHELL_KEY,
        "Comment": f"QuickDumpNow {alias}",
        "Enabled": True,
        "Origins": {
            "Quantity": 2,
            "Items": [
                {
                    "Id": config.SITE_ORIGIN_ID,
                    "DomainName": f"{bucket}.s3.{region}.amazonaws.com",
                    "OriginPath": config.ORIGIN_PATH,
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                },
                {
                    "Id": config.API_ORIGIN_ID,
                    "DomainName": api_origin,
                    "OriginPath": "",
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                    },
                },
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": config.SITE_ORIGIN_ID,
            "ViewerProtocolPolicy": "redirect-to-https",
            # No query strings in the cache key: the shell is cached once, not once per token.
            "CachePolicyId": CACHING_OPTIMIZED,
            "Compress": True,
            "FunctionAssociations": {
                "Quantity": 1,
                "Items": [{"FunctionARN": function_arn, "EventType": "viewer-request"}],
            },
        },
        "CacheBehaviors": {"Quantity": 1, "Items": [api_behaviour]},
    }


def distributions_by_alias(cf: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for page in cf.get_paginator("list_distributions").paginate():
        for item in page.get("DistributionList", {}).get("Items", []) or []:
            for alias in item.get("Aliases", {}).get("Items", []) or []:
                found[alias] = item
    return found

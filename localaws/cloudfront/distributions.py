"""Distributions: their configs (origins, behaviours, function associations) and ETag rules.

The config is kept as the parsed model dict, so GetDistributionConfig returns exactly what was sent
(plus the defaults AWS fills in) and an Update round trip loses nothing. Validation covers what
would make the edge misbehave or what AWS refuses with a named error: quantities that disagree
with their lists, a behaviour pointing at a missing origin, an unknown cache policy, TTLs out of
order, an alias already used by another distribution, a function association to a function that
is not published.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from localaws.cloudfront import ids
from localaws.cloudfront.errors import (
    CloudFrontError,
    check_if_match,
    check_quantities,
    invalid_argument,
)
from localaws.cloudfront.paging import marked_list_page
from localaws.cloudfront.policies import MANAGED_CACHE_POLICIES

EVENT_TYPES = ("viewer-request", "viewer-response")


@dataclass
class StoredDistribution:
    id: str
    arn: str
    domain_name: str
    config: dict[str, Any]
    etag: str
    last_modified: datetime
    # monotonic time after which the distribution reports Deployed
    deployed_at: float

    @property
    def status(self) -> str:
        return "Deployed" if time.monotonic() >= self.deployed_at else "InProgress"

    @property
    def aliases(self) -> list[str]:
        return aliases(self.config)

    def function_arns(self) -> set[str]:
        return function_arns(self.config)


def aliases(config: dict[str, Any]) -> list[str]:
    return list(config.get("Aliases", {}).get("Items", []))


def behaviours(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", {}).get("Items", [])]


def function_arns(config: dict[str, Any]) -> set[str]:
    return {
        item["FunctionARN"]
        for b in behaviours(config)
        for item in b.get("FunctionAssociations", {}).get("Items", [])
    }


def _defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Fill in what AWS fills in, so Get/List return complete documents (Summary needs them)."""
    cfg = copy.deepcopy(config)
    cfg.setdefault("Aliases", {"Quantity": 0})
    cfg.setdefault("DefaultRootObject", "")
    cfg.setdefault("OriginGroups", {"Quantity": 0})
    cfg.setdefault("CacheBehaviors", {"Quantity": 0})
    cfg.setdefault("CustomErrorResponses", {"Quantity": 0})
    cfg.setdefault("PriceClass", "PriceClass_All")
    cfg.setdefault(
        "ViewerCertificate",
        {
            "CloudFrontDefaultCertificate": True,
            "SSLSupportMethod": "vip",
            "MinimumProtocolVersion": "TLSv1",
            "CertificateSource": "cloudfront",
        },
    )
    cfg.setdefault("Restrictions", {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}})
    cfg.setdefault("WebACLId", "")
    cfg.setdefault("HttpVersion", "http2")
    cfg.setdefault("IsIPV6Enabled", True)
    cfg.setdefault("Staging", False)
    for origin in cfg["Origins"]["Items"]:
        origin.setdefault("OriginPath", "")
        origin.setdefault("CustomHeaders", {"Quantity": 0})
        origin.setdefault("ConnectionAttempts", 3)
        origin.setdefault("ConnectionTimeout", 10)
    for b in behaviours(cfg):
        b.setdefault("TrustedSigners", {"Enabled": False, "Quantity": 0})
        b.setdefault("TrustedKeyGroups", {"Enabled": False, "Quantity": 0})
        b.setdefault(
            "AllowedMethods",
            {
                "Quantity": 2,
                "Items": ["HEAD", "GET"],
                "CachedMethods": {"Quantity": 2, "Items": ["HEAD", "GET"]},
            },
        )
        b.setdefault("SmoothStreaming", False)
        b.setdefault("Compress", False)
        b.setdefault("LambdaFunctionAssociations", {"Quantity": 0})
        b.setdefault("FunctionAssociations", {"Quantity": 0})
        b.setdefault("FieldLevelEncryptionId", "")
    return cfg


def _check_behaviour(b: dict[str, Any], where: str, origin_ids: set[str]) -> None:
    if b["TargetOriginId"] not in origin_ids:
        raise CloudFrontError(
            "NoSuchOrigin",
            f"{where}.TargetOriginId {b['TargetOriginId']!r} is not the Id of any origin "
            f"(origins: {', '.join(sorted(origin_ids))}).",
        )
    policy = b.get("CachePolicyId")
    if policy:
        if policy not in MANAGED_CACHE_POLICIES:
            raise CloudFrontError(
                "NoSuchCachePolicy",
                f"{where}.CachePolicyId {policy!r} is not a cache policy here; use a managed "
                f"policy ({', '.join(p.name for p in MANAGED_CACHE_POLICIES.values())}).",
            )
    else:
        if "ForwardedValues" not in b:
            raise invalid_argument(
                f"{where} needs either CachePolicyId or the legacy ForwardedValues and MinTTL."
            )
        if "MinTTL" not in b:
            raise invalid_argument(f"{where}.MinTTL is required with ForwardedValues.")
        lo, default, hi = b["MinTTL"], b.get("DefaultTTL", 86400), b.get("MaxTTL", 31536000)
        if not 0 <= lo <= default <= hi:
            raise CloudFrontError(
                "InvalidTTLOrder",
                f"{where}: TTLs must satisfy 0 <= MinTTL ({lo}) <= DefaultTTL ({default}) "
                f"<= MaxTTL ({hi}).",
            )
    seen: set[str] = set()
    for item in b.get("FunctionAssociations", {}).get("Items", []):
        if item["EventType"] not in EVENT_TYPES:
            raise CloudFrontError(
                "InvalidFunctionAssociation",
                f"{where}: function EventType must be one of {', '.join(EVENT_TYPES)}, "
                f"not {item['EventType']!r}.",
            )
        if item["EventType"] in seen:
            raise CloudFrontError(
                "InvalidFunctionAssociation",
                f"{where}: only one function per event type ({item['EventType']}).",
            )
        seen.add(item["EventType"])


class DistributionStore:
    """Every distribution of the account. Not thread-safe: the service holds its lock."""

    def __init__(
        self,
        *,
        deploy_delay: float,
        has_live_function: Callable[[str], bool],
        in_progress_invalidations: Callable[[str], int],
    ) -> None:
        self._deploy_delay = deploy_delay
        self._has_live_function = has_live_function
        self._in_progress = in_progress_invalidations
        self._by_id: dict[str, StoredDistribution] = {}

    def __iter__(self) -> Iterator[StoredDistribution]:
        return iter(list(self._by_id.values()))

    def add(self, dist: StoredDistribution) -> None:
        """Put back a distribution saved earlier (see ``state``), ids and ETag as they were."""
        self._by_id[dist.id] = dist

    def get_stored(self, dist_id: str) -> StoredDistribution:
        dist = self._by_id.get(dist_id)
        if dist is None:
            raise CloudFrontError(
                "NoSuchDistribution", f"The distribution {dist_id} does not exist."
            )
        return dist

    def uses_function(self, arn: str) -> bool:
        return any(arn in d.function_arns() for d in self._by_id.values())

    def _validate(self, config: dict[str, Any], dist_id: str | None) -> dict[str, Any]:
        check_quantities(config, "DistributionConfig")
        origins = config["Origins"].get("Items") or []
        if not origins:
            raise invalid_argument("DistributionConfig.Origins needs at least one origin.")
        origin_ids = [o["Id"] for o in origins]
        if len(set(origin_ids)) != len(origin_ids):
            raise invalid_argument(f"Origin Ids must be unique: {origin_ids}.")
        for o in origins:
            path = o.get("OriginPath", "")
            if path and (not path.startswith("/") or path.endswith("/")):
                raise invalid_argument(
                    f"Origin {o['Id']}: OriginPath {path!r} must start with / and not end with /."
                )
        _check_behaviour(config["DefaultCacheBehavior"], "DefaultCacheBehavior", set(origin_ids))
        for i, b in enumerate(config.get("CacheBehaviors", {}).get("Items", [])):
            _check_behaviour(b, f"CacheBehaviors[{i}]", set(origin_ids))
        for arn in function_arns(config):
            if not self._has_live_function(arn):
                raise CloudFrontError(
                    "InvalidFunctionAssociation",
                    f"Function {arn} does not exist or is not published; only functions in the "
                    "LIVE stage can be associated (PublishFunction first).",
                )
        for other in self._by_id.values():
            if other.id == dist_id:
                continue
            clash = set(other.aliases) & set(aliases(config))
            if clash:
                raise CloudFrontError(
                    "CNAMEAlreadyExists",
                    f"Alias {sorted(clash)[0]} is already used by distribution {other.id}.",
                )
        return _defaults(config)

    def document(self, dist: StoredDistribution) -> dict[str, Any]:
        """The ``Distribution`` structure of Create/Get/Update responses."""
        return {
            "Id": dist.id,
            "ARN": dist.arn,
            "Status": dist.status,
            "LastModifiedTime": dist.last_modified,
            "InProgressInvalidationBatches": self._in_progress(dist.id),
            "DomainName": dist.domain_name,
            "ActiveTrustedSigners": {"Enabled": False, "Quantity": 0},
            "ActiveTrustedKeyGroups": {"Enabled": False, "Quantity": 0},
            "DistributionConfig": dist.config,
        }

    # --- operations ------------------------------------------------------------------------------

    def create(self, config: dict[str, Any]) -> tuple[StoredDistribution, dict[str, Any]]:
        ref = config["CallerReference"]
        for other in self._by_id.values():
            if other.config["CallerReference"] == ref:
                raise CloudFrontError(
                    "DistributionAlreadyExists",
                    f"CallerReference {ref!r} was already used to create distribution {other.id}.",
                )
        cfg = self._validate(config, None)
        dist_id = ids.distribution_id()
        dist = StoredDistribution(
            id=dist_id,
            arn=ids.distribution_arn(dist_id),
            domain_name=ids.distribution_domain(),
            config=cfg,
            etag=ids.etag(),
            last_modified=datetime.now(UTC),
            deployed_at=time.monotonic() + self._deploy_delay,
        )
        self._by_id[dist_id] = dist
        doc = self.document(dist)
        doc["Status"] = "InProgress"  # a new distribution is always deploying when created
        return dist, {
            "Distribution": doc,
            "Location": f"https://cloudfront.amazonaws.com/2020-05-31/distribution/{dist_id}",
            "ETag": dist.etag,
        }

    def get(self, p: dict[str, Any]) -> dict[str, Any]:
        dist = self.get_stored(p["Id"])
        return {"Distribution": self.document(dist), "ETag": dist.etag}

    def get_config(self, p: dict[str, Any]) -> dict[str, Any]:
        dist = self.get_stored(p["Id"])
        return {"DistributionConfig": dist.config, "ETag": dist.etag}

    def update(self, p: dict[str, Any]) -> tuple[StoredDistribution, dict[str, Any]]:
        dist = self.get_stored(p["Id"])
        check_if_match(p.get("IfMatch"), dist.etag, f"distribution {dist.id}")
        config = p["DistributionConfig"]
        if config["CallerReference"] != dist.config["CallerReference"]:
            raise CloudFrontError(
                "IllegalUpdate",
                "CallerReference cannot be changed; send the one from GetDistributionConfig.",
            )
        dist.config = self._validate(config, dist.id)
        dist.etag = ids.etag()
        dist.last_modified = datetime.now(UTC)
        dist.deployed_at = time.monotonic() + self._deploy_delay
        doc = self.document(dist)
        doc["Status"] = "InProgress"
        return dist, {"Distribution": doc, "ETag": dist.etag}

    def delete(self, p: dict[str, Any]) -> StoredDistribution:
        dist = self.get_stored(p["Id"])
        check_if_match(p.get("IfMatch"), dist.etag, f"distribution {dist.id}")
        if dist.config["Enabled"]:
            raise CloudFrontError(
                "DistributionNotDisabled",
                f"Distribution {dist.id} is enabled; disable it (UpdateDistribution with "
                "Enabled=false) and wait for Deployed before deleting it.",
            )
        del self._by_id[dist.id]
        return dist

    def list(self, p: dict[str, Any]) -> dict[str, Any]:
        marker = p.get("Marker") or ""
        remaining = sorted((d for d in self._by_id.values() if d.id >= marker), key=lambda d: d.id)
        return {"DistributionList": marked_list_page(p, remaining, lambda d: d.id, self._summary)}

    def _summary(self, dist: StoredDistribution) -> dict[str, Any]:
        cfg = dist.config
        summary = {
            key: cfg[key]
            for key in (
                "Aliases",
                "Origins",
                "OriginGroups",
                "DefaultCacheBehavior",
                "CacheBehaviors",
                "CustomErrorResponses",
                "Comment",
                "PriceClass",
                "Enabled",
                "ViewerCertificate",
                "Restrictions",
                "WebACLId",
                "HttpVersion",
                "IsIPV6Enabled",
                "Staging",
            )
        }
        summary.update(
            Id=dist.id,
            ARN=dist.arn,
            ETag=dist.etag,
            Status=dist.status,
            LastModifiedTime=dist.last_modified,
            DomainName=dist.domain_name,
        )
        return summary

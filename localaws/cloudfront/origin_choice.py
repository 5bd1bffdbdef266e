"""Where the edge sends a request after the function used the ``cloudfront`` origin helpers.

A viewer-request function in cloudfront-js-2.0 may change the origin of the request it returns
(AWS: "Helper methods for origin modification"); the runtime hands the edge what it asked for
(``FunctionRun.origin``), and this module turns that into the origin(s) to fetch from:

- ``cf.selectRequestOriginById(id)``: another origin of the distribution, by its ``Id``;
- ``cf.createRequestOriginGroup({originIds: [a, b], failoverCriteria: {statusCodes}})``: fetch
  from ``a``; when it answers one of those statuses, fetch from ``b``;
- ``cf.updateRequestOrigin({...})``: the chosen origin (the behaviour's, unless one was
  selected; for a group, its primary, as AWS documents) with settings changed:
  ``domainName`` (any origin the edge can reach: an S3 bucket or a Lambda function URL),
  ``originPath`` and ``customHeaders`` take effect here; the connection settings (timeouts,
  attempts, Origin Shield, OAC signing) are accepted and have nothing to act on locally.

An origin id the distribution does not have is the function's error (a 503 at the edge), since
CloudFront cannot run the request as the function asked.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OriginPlan:
    primary: dict[str, Any]  # an origin as in DistributionConfig.Origins.Items
    secondary: dict[str, Any] | None = None  # an origin group's failover origin
    failover_statuses: tuple[int, ...] = ()


def _origins(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["Id"]: o for o in config.get("Origins", {}).get("Items", [])}


def problem(config: dict[str, Any], chosen: dict[str, Any]) -> str | None:
    """Why the edge cannot follow the function's origin choice, or None."""
    known = _origins(config)
    wanted = list((chosen.get("group") or {}).get("originIds", []))
    if chosen.get("originId"):
        wanted.append(chosen["originId"])
    missing = [origin_id for origin_id in wanted if origin_id not in known]
    if missing:
        return (
            f"The function selected origin {', '.join(missing)}, but the distribution has no "
            f"origin with that Id (it has: {', '.join(sorted(known)) or 'none'})"
        )
    return None


def plan(config: dict[str, Any], target_id: str, chosen: dict[str, Any] | None) -> OriginPlan:
    """The origin(s) to fetch from; ``chosen`` must have passed :func:`problem`."""
    origins = _origins(config)
    if chosen is None:
        return OriginPlan(origins[target_id])
    update = chosen.get("update") or {}
    group = chosen.get("group")
    if group:
        primary_id, secondary_id = group["originIds"]
        return OriginPlan(
            _updated(origins[primary_id], update),
            origins[secondary_id],
            tuple(group["statusCodes"]),
        )
    return OriginPlan(_updated(origins[chosen.get("originId") or target_id], update))


def _updated(origin: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """The origin with the settings ``updateRequestOrigin`` changed (unnamed ones inherited)."""
    if not update:
        return origin
    changed = copy.deepcopy(origin)
    if "domainName" in update:
        changed["DomainName"] = update["domainName"]
    if "originPath" in update:
        changed["OriginPath"] = update["originPath"]
    if "customHeaders" in update:
        items = [
            item
            for item in changed.get("CustomHeaders", {}).get("Items", [])
            if item["HeaderName"].lower() not in {k.lower() for k in update["customHeaders"]}
        ]
        items += [{"HeaderName": k, "HeaderValue": v} for k, v in update["customHeaders"].items()]
        changed["CustomHeaders"] = {"Quantity": len(items), "Items": items}
    return changed


def custom_headers(origin: dict[str, Any]) -> list[tuple[str, str]]:
    """The origin's custom headers, as CloudFront adds them to what it forwards."""
    return [
        (item["HeaderName"].lower(), item["HeaderValue"])
        for item in origin.get("CustomHeaders", {}).get("Items", [])
    ]

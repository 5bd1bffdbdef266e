"""Cache behaviours: which behaviour a path uses, its cache key, and how long a response lives.

Both ways AWS lets a behaviour say how to cache are understood: the legacy fields
(``ForwardedValues.QueryString`` and ``MinTTL``/``DefaultTTL``/``MaxTTL``) and a managed cache
policy id. TTLs follow CloudFront's documented rules: the origin's ``Cache-Control``
(``s-maxage`` over ``max-age``) or ``Expires`` bounded by the behaviour's min and max, the default
TTL when the origin says nothing, and error responses cached for the Error Caching Minimum TTL
(10 s unless a custom error response says otherwise).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

# A year: CloudFront's default MaxTTL and the ceiling of its managed policies.
ONE_YEAR = 31536000
# A day: CloudFront's default DefaultTTL.
ONE_DAY = 86400
# CloudFront caches an error response for 10 s unless told otherwise.
DEFAULT_ERROR_CACHING_MIN_TTL = 10

# The 4xx/5xx codes CloudFront caches (it never caches 416, for instance).
CACHED_ERROR_CODES = frozenset({400, 403, 404, 405, 410, 414, 500, 501, 502, 503, 504})
# For these, an origin's no-store / no-cache / private stops the error from being cached; for the
# other cached errors CloudFront ignores those directives.
ERRORS_HONOURING_NO_STORE = frozenset({404, 410, 414, 501})


@dataclass(frozen=True)
class CachePolicy:
    name: str
    min_ttl: int
    default_ttl: int
    max_ttl: int
    # "none", "all", "whitelist" or "allExcept" (the cache policy API's QueryStringBehavior)
    query_strings: str = "none"
    query_names: frozenset[str] = frozenset()


# AWS's managed cache policies (ids and settings as AWS publishes them).
MANAGED_CACHE_POLICIES: dict[str, CachePolicy] = {
    "658327ea-f89d-4fab-a63d-7e88639e58f6": CachePolicy("CachingOptimized", 1, ONE_DAY, ONE_YEAR),
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": CachePolicy(
        "CachingOptimizedForUncompressedObjects", 1, ONE_DAY, ONE_YEAR
    ),
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": CachePolicy("CachingDisabled", 0, 0, 0),
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": CachePolicy(
        "UseOriginCacheControlHeaders", 0, 0, ONE_YEAR
    ),
    "4cc15a8a-d715-48a4-82b8-cc0b614638fe": CachePolicy(
        "UseOriginCacheControlHeaders-QueryStrings", 0, 0, ONE_YEAR, "all"
    ),
}


# AWS's managed origin request policy that forwards every viewer header except Host: the origin
# then sees its own domain as Host, as a Lambda function URL requires.
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def cache_policy(behaviour: dict[str, Any]) -> CachePolicy:
    """The behaviour's effective cache policy, from CachePolicyId or the legacy fields."""
    policy_id = behaviour.get("CachePolicyId")
    if policy_id:
        return MANAGED_CACHE_POLICIES[policy_id]
    forwarded = behaviour.get("ForwardedValues", {})
    if forwarded.get("QueryString"):
        keys = forwarded.get("QueryStringCacheKeys", {}).get("Items") or []
        behaviour_kind = "whitelist" if keys else "all"
    else:
        behaviour_kind, keys = "none", []
    return CachePolicy(
        "legacy",
        int(behaviour.get("MinTTL", 0)),
        int(behaviour.get("DefaultTTL", ONE_DAY)),
        int(behaviour.get("MaxTTL", ONE_YEAR)),
        behaviour_kind,
        frozenset(keys),
    )


@lru_cache(maxsize=256)
def _pattern(path_pattern: str) -> re.Pattern[str]:
    # CloudFront path patterns: * is any run of characters (slashes too), ? exactly one; a
    # pattern may omit the leading slash; matching is case sensitive.
    pattern = path_pattern if path_pattern.startswith("/") else "/" + path_pattern
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(regex + r"\Z", re.DOTALL)


def match_behaviour(config: dict[str, Any], uri: str) -> dict[str, Any]:
    """The first cache behaviour whose PathPattern matches ``uri``, else the default one."""
    for b in config.get("CacheBehaviors", {}).get("Items", []):
        if _pattern(b["PathPattern"]).match(uri):
            return b
    return config["DefaultCacheBehavior"]


def key_query(policy: CachePolicy, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The query parameters that belong in the cache key, in the order the viewer sent them."""
    if policy.query_strings == "all":
        return pairs
    if policy.query_strings == "whitelist":
        return [(k, v) for k, v in pairs if k in policy.query_names]
    if policy.query_strings == "allExcept":
        return [(k, v) for k, v in pairs if k not in policy.query_names]
    return []


def cache_control(headers: dict[str, str]) -> dict[str, str | None]:
    """``Cache-Control`` directives, lower-cased, with their values (None when bare)."""
    value = next((v for k, v in headers.items() if k.lower() == "cache-control"), "")
    directives: dict[str, str | None] = {}
    for part in value.split(","):
        name, _, arg = part.strip().partition("=")
        if name:
            directives[name.lower()] = arg.strip().strip('"') or None
    return directives


def _seconds(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _origin_age_hint(headers: dict[str, str], cc: dict[str, str | None]) -> int | None:
    for directive in ("s-maxage", "max-age"):
        if directive in cc:
            seconds = _seconds(cc[directive])
            if seconds is not None:
                return max(seconds, 0)
    expires = next((v for k, v in headers.items() if k.lower() == "expires"), None)
    if expires:
        date = next((v for k, v in headers.items() if k.lower() == "date"), None)
        try:
            exp = parsedate_to_datetime(expires)
            now = parsedate_to_datetime(date) if date else None
        except (TypeError, ValueError):
            return 0  # an unreadable Expires means "already expired" (RFC 9111)
        if now is None:
            now = datetime.now(UTC)
        return max(int((exp - now).total_seconds()), 0)
    return None


def ttl_for(
    policy: CachePolicy, status: int, headers: dict[str, str], error_min_ttl: int
) -> int | None:
    """Seconds to cache a response with ``status`` and origin ``headers``; None: do not cache."""
    cc = cache_control(headers)
    hint = _origin_age_hint(headers, cc)
    if status >= 400:
        if status not in CACHED_ERROR_CODES:
            return None
        refuses = {"no-store", "no-cache", "private"} & cc.keys()
        if refuses and status in ERRORS_HONOURING_NO_STORE:
            return None
        ttl = error_min_ttl if hint is None else max(min(hint, policy.max_ttl), error_min_ttl)
        return ttl if ttl > 0 else None
    if "no-store" in cc or "private" in cc or policy.max_ttl == 0:
        return None
    if "no-cache" in cc and hint is None:
        hint = 0
    ttl = policy.default_ttl if hint is None else min(max(hint, policy.min_ttl), policy.max_ttl)
    return ttl if ttl > 0 else None


def error_caching_min_ttl(config: dict[str, Any], status: int) -> int:
    """The distribution's Error Caching Minimum TTL for ``status`` (10 s unless configured)."""
    for item in config.get("CustomErrorResponses", {}).get("Items", []):
        if item.get("ErrorCode") == status and item.get("ErrorCachingMinTTL") is not None:
            return int(item["ErrorCachingMinTTL"])
    return DEFAULT_ERROR_CACHING_MIN_TTL

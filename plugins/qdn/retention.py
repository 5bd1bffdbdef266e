"""Which builds expire: every build that is neither live nor needed by a recent release.

Builds are immutable folders, one per staging, so they pile up. S3's lifecycle deletes objects
for us, by prefix, without a request per object; what it cannot know is which builds a rollback
may still need. So each switch of the live pointer recomputes the bucket's build-expiry rules —
one rule per expiring build (``builds/<id>`` covers its folder and its manifest) — from facts we
already hold: the release history (one object) and one listing of ``builds/`` with a delimiter
(one entry per build, not per file).

Kept, whatever their age: the live build, the build the live function falls back to, every build
the last ``KEEP_RELEASES`` history entries made live or replaced (with their fallbacks and the
builds their pages load pinned assets from), the newest staged build, and any build staged within
the last day (it may be about to be released).
A folder without a manifest is left alone: it may be a staging in progress.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from qdn import config
from qdn.release_manifest import History
from qdn.staging import BUILD_ID_RE

RULE_PREFIX = "qdn-expire-"
NONCURRENT_RULE_ID = "qdn-builds-noncurrent"
# S3 takes at most 1,000 rules in one lifecycle configuration; this leaves room for the bucket's
# own rules, and past it the oldest builds go first (the rest wait for the next release).
MAX_EXPIRY_RULES = 900
# The shortest expiration S3 lifecycle offers; the build is already unused when its rule lands.
EXPIRE_AFTER_DAYS = 1
# A build staged this recently may be on its way to a release: never expire it yet.
FRESH_BUILD_AGE = timedelta(days=1)
# Build objects are never overwritten, so a noncurrent version only exists after an expiry or a
# hand-made change; a week is time enough to notice the latter and restore.
NONCURRENT_DAYS = 7


@dataclass(frozen=True)
class StagedBuild:
    build_id: str
    manifest_modified: datetime | None  # None: a folder without a manifest


def list_builds(s3: Any, bucket: str) -> list[StagedBuild]:
    """Every build under ``builds/`` from one delimited listing (a page per 1,000 builds)."""
    manifests: dict[str, datetime] = {}
    folders: set[str] = set()
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=config.BUILDS_PREFIX, Delimiter="/"):
        for obj in page.get("Contents", []) or []:
            name = obj["Key"][len(config.BUILDS_PREFIX) :]
            if name.endswith(".json") and BUILD_ID_RE.match(name[: -len(".json")]):
                manifests[name[: -len(".json")]] = obj["LastModified"]
        for common in page.get("CommonPrefixes", []) or []:
            name = common["Prefix"][len(config.BUILDS_PREFIX) :].rstrip("/")
            if BUILD_ID_RE.match(name):
                folders.add(name)
    return [StagedBuild(b, manifests.get(b)) for b in sorted(folders | set(manifests))]


def kept_builds(
    history: History,
    *,
    live: str | None,
    also: Iterable[str | None] = (),
    keep_releases: int = config.KEEP_RELEASES,
) -> set[str]:
    keep = {b for b in (live, *also) if b}
    # One entry more than N: the oldest kept release's previous build is the build the entry
    # before it made live, and that entry knows which builds its pages load assets from.
    for entry in history.releases[: keep_releases + 1]:
        keep.update(b for b in (entry.build_id, entry.previous_build, entry.fallback_build) if b)
        keep.update(entry.asset_builds)
    return keep


def expiring_builds(
    builds: Iterable[StagedBuild], keep: set[str], *, now: datetime | None = None
) -> list[str]:
    """Builds to expire, oldest first, at most ``MAX_EXPIRY_RULES``."""
    now = now or datetime.now(UTC)
    old = [
        b
        for b in builds
        if b.build_id not in keep
        and b.manifest_modified is not None
        and now - b.manifest_modified >= FRESH_BUILD_AGE
    ]
    old.sort(key=lambda b: (b.manifest_modified, b.build_id))
    return [b.build_id for b in old[:MAX_EXPIRY_RULES]]


def _expiry_rule(build_id: str) -> dict[str, Any]:
    return {
        "ID": RULE_PREFIX + build_id,
        "Filter": {"Prefix": config.BUILDS_PREFIX + build_id},
        "Status": "Enabled",
        "Expiration": {"Days": EXPIRE_AFTER_DAYS},
    }


def noncurrent_rule() -> dict[str, Any]:
    """The builds' non-current-versions rule: the release writes it, the template carries it."""
    return {
        "ID": NONCURRENT_RULE_ID,
        "Filter": {"Prefix": config.BUILDS_PREFIX},
        "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DAYS},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": EXPIRE_AFTER_DAYS},
    }


def read_rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    try:
        return s3.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", [])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise


def ours(rule: Mapping[str, Any]) -> bool:
    rule_id = str(rule.get("ID", ""))
    return rule_id.startswith(RULE_PREFIX) or rule_id == NONCURRENT_RULE_ID


def desired_rules(current: list[dict[str, Any]], expiring: list[str]) -> list[dict[str, Any]]:
    """The bucket's own rules untouched, ours replaced by one per expiring build."""
    return [
        *(r for r in current if not ours(r)),
        noncurrent_rule(),
        *(_expiry_rule(b) for b in expiring),
    ]


def rules_differ(current: list[dict[str, Any]], desired: list[dict[str, Any]]) -> bool:
    """Our rules are named for what they do (one id per expiring build), so ids decide."""

    def ids(rules: list[dict[str, Any]]) -> set[str]:
        return {str(r.get("ID")) for r in rules if ours(r)}

    return ids(current) != ids(desired)


def put_rules(s3: Any, bucket: str, rules: list[dict[str, Any]]) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

"""Move a production served from ``site/`` (the copy-promotion layout) to immutable builds.

Before atomic releases, production was a folder ``site/`` that each release copied into, served
through the origin path ``/site`` by a function that did not know about builds. The move, run
once by the bootstrap (and safe to run again: every step looks before it writes):

1. the content of ``site/`` becomes a build, ``builds/<id>/`` plus its manifest, with the id the
   shell is stamped with (server-side copies; the manifest from one listing and the old staging
   manifest, so no object is read one by one unless the old manifest is gone);
2. the same files are also put at ``site/<id>/``, for the moment between the two switches below;
3. the live pointer is set to ``<id>``;
4. (the caller) publishes the pointer-aware function and moves the origin path to ``/builds``:
   with the new function and the old origin path the edge reads ``site/<id>/…``, with both new
   it reads ``builds/<id>/…`` — the same bytes either way, so nothing is served differently;
5. ``finish``: the old ``site/`` objects are deleted in batches (the bucket keeps their versions).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from qdn import config, headers, staging
from qdn.staging import BuildManifest, FileEntry

_STAMPED = re.compile(
    rf'<meta\s+name="{re.escape(config.BUILD_ID_META_NAME)}"\s+content="(build-[0-9a-f]{{12}})"'
)
# DeleteObjects takes at most 1,000 keys per request.
DELETE_BATCH = 1000


class MigrationError(RuntimeError):
    """The old layout cannot be moved as it is; the message says what to fix."""


@dataclass(frozen=True)
class LegacySite:
    build_id: str
    listed: dict[str, dict[str, Any]]  # path under site/ -> listing entry


def find_legacy_site(s3: Any, bucket: str) -> LegacySite | None:
    """The production under ``site/`` (one listing and the shell), or None when there is none."""
    listed = staging.list_prefix(s3, bucket, config.LEGACY_SITE_PREFIX)
    # Interim copies of a migration that stopped half-way are not part of the site.
    listed = {p: o for p, o in listed.items() if not staging.BUILD_ID_RE.match(p.split("/")[0])}
    if not listed:
        return None
    if "index.html" not in listed:
        raise MigrationError(
            f"s3://{bucket}/{config.LEGACY_SITE_PREFIX} has no index.html, so it is not a site "
            "production served; move or delete it by hand, then run the bootstrap again"
        )
    shell = s3.get_object(Bucket=bucket, Key=config.LEGACY_SITE_PREFIX + "index.html")
    match = _STAMPED.search(shell["Body"].read().decode("utf-8", "replace"))
    if match:
        build_id = match[1]
    else:  # a hand-copied site without a stamp: name it by its content, as staging would
        digest = hashlib.sha256()
        for path, obj in sorted(listed.items()):
            digest.update(f"{path}\0{staging.listing_etag(obj)}\n".encode())
        build_id = "build-" + digest.hexdigest()[: staging.BUILD_ID_DIGITS]
    return LegacySite(build_id, listed)


def _legacy_manifest(s3: Any, bucket: str, build_id: str) -> dict[str, Any]:
    key = f"{config.LEGACY_STAGING_PREFIX}{build_id}.json"
    try:
        files = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).get("files")
    except (ClientError, ValueError, AttributeError):
        return {}  # gone or unreadable: the files are hashed instead
    return files if isinstance(files, dict) else {}


def _entry(s3: Any, bucket: str, path: str, obj: dict[str, Any], old: dict[str, Any]) -> FileEntry:
    md5, size = staging.listing_etag(obj), int(obj["Size"])
    known = old.get(path) or {}
    if known.get("size") == size and known.get("sha256"):
        sha = known["sha256"]
    else:  # once per file of a site the old staging never described
        body = s3.get_object(Bucket=bucket, Key=config.LEGACY_SITE_PREFIX + path)["Body"].read()
        sha = staging.sha256_hex(body)
    return FileEntry(
        sha256=sha,
        md5=md5,
        size=size,
        content_type=headers.content_type_for(path),
        cache_control=headers.cache_control_for(path),
    )


def copy_into_builds(s3: Any, bucket: str, legacy: LegacySite) -> BuildManifest:
    """Steps 1-2: the legacy site as ``builds/<id>/`` (with its manifest) and ``site/<id>/``."""
    old = _legacy_manifest(s3, bucket, legacy.build_id)
    manifest = BuildManifest(
        build_id=legacy.build_id,
        files={p: _entry(s3, bucket, p, o, old) for p, o in legacy.listed.items()},
        staged_at=staging.now_iso(),
    )
    for prefix in (
        staging.build_prefix(legacy.build_id),
        f"{config.LEGACY_SITE_PREFIX}{legacy.build_id}/",
    ):
        there = staging.list_prefix(s3, bucket, prefix)

        def copy(path: str, prefix: str = prefix) -> None:
            entry = manifest.files[path]
            s3.copy_object(
                Bucket=bucket,
                Key=prefix + path,
                CopySource={"Bucket": bucket, "Key": config.LEGACY_SITE_PREFIX + path},
                MetadataDirective="REPLACE",
                ContentType=entry.content_type,
                CacheControl=entry.cache_control,
                Metadata={staging.SHA256_META: entry.sha256},
            )

        missing = [
            p for p, e in manifest.files.items() if staging.listing_etag(there.get(p, {})) != e.md5
        ]
        staging.parallel(copy, missing)
    staging.write_manifest(s3, bucket, manifest)
    return manifest


def delete_legacy(s3: Any, bucket: str) -> int:
    """Step 5: every object under ``site/`` (the old production and the interim copies)."""
    keys = list(staging.list_prefix(s3, bucket, config.LEGACY_SITE_PREFIX))
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        s3.delete_objects(
            Bucket=bucket,
            Delete={
                "Objects": [{"Key": config.LEGACY_SITE_PREFIX + k} for k in batch],
                "Quiet": True,
            },
        )
    return len(keys)

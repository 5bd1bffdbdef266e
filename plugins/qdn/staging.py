"""Turn ``site/public`` into an immutable staged build in S3.

A build is content-addressed: its id comes from the hash of the source tree, so staging the same
site twice is a no-op and a release of an unchanged site copies nothing, while any change gives a
fresh id. Assets are fingerprinted (``app.js`` -> ``app.<hash>.js``) and the shell's references
rewritten, so a promoted shell only ever points at assets whose names change with their content.

Layout in the bucket:
``staging/<build-id>/<path>``  every file, with ``x-amz-meta-sha256`` (promotion diffs on it)
``staging/<build-id>.json``    the build's manifest, written after every file
``staging/LATEST``             the newest build id, written last
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from qdn import config, headers
from qdn.s3_errors import is_conflict

SHA256_META = "sha256"
# Only scripts and stylesheets are referenced by the shell; images keep their names.
FINGERPRINT_SUFFIXES = {".js", ".css"}
# Twelve hex digits (48 bits) keep ids short in logs while two different sites colliding is
# out of reach for the few thousand builds a site will ever have.
BUILD_ID_DIGITS = 12


class StagingError(RuntimeError):
    """Staging refused to write; the message says what to fix."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Build:
    build_id: str
    files: dict[str, bytes]  # path relative to the site root -> body

    def manifest(self) -> dict[str, Any]:
        return {
            "build_id": self.build_id,
            "files": {
                path: {"sha256": sha256_hex(body), "size": len(body)}
                for path, body in sorted(self.files.items())
            },
        }


def _read_tree(source: Path) -> dict[str, bytes]:
    if not source.is_dir():
        raise StagingError(f"site source {source} is not a directory; pass the folder to stage")
    files = {
        p.relative_to(source).as_posix(): p.read_bytes()
        for p in sorted(source.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }
    if "index.html" not in files:
        raise StagingError(f"{source} has no index.html; the shell is what every route serves")
    return files


def build_site(source: Path) -> Build:
    """Fingerprint assets, rewrite the shell's references and stamp the build id into HTML."""
    src = _read_tree(source)
    tree_hash = hashlib.sha256()
    for path, body in sorted(src.items()):
        tree_hash.update(f"{path}\0{sha256_hex(body)}\n".encode())
    build_id = "build-" + tree_hash.hexdigest()[:BUILD_ID_DIGITS]

    renames: dict[str, str] = {}
    out: dict[str, bytes] = {}
    for path, body in src.items():
        suffix = Path(path).suffix
        if path.startswith("assets/") and suffix in FINGERPRINT_SUFFIXES:
            digest = sha256_hex(body)[: headers.FINGERPRINT_DIGITS]
            new_path = f"{path[: -len(suffix)]}.{digest}{suffix}"
            renames["/" + path] = "/" + new_path
            out[new_path] = body
        else:
            out[path] = body

    for path, body in list(out.items()):
        if not headers.is_html(path):
            continue
        text = body.decode("utf-8")
        if config.BUILD_ID_PLACEHOLDER not in text and path == "index.html":
            raise StagingError(
                f"index.html lacks the build id placeholder {config.BUILD_ID_PLACEHOLDER}; "
                "the smoke check needs it to tell which release is live"
            )
        text = text.replace(config.BUILD_ID_PLACEHOLDER, build_id)
        for old, new in renames.items():
            # Only whole attribute values: "/assets/app.js" inside quotes.
            text = re.sub(
                r'(["\'])' + re.escape(old) + r"\1", lambda m, n=new: m[1] + n + m[1], text
            )
        out[path] = text.encode("utf-8")
    return Build(build_id, out)


@dataclass
class StageResult:
    build_id: str
    uploaded: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"staged {self.build_id}: {len(self.uploaded)} objects uploaded, "
            f"{len(self.already_there)} already staged; staging/LATEST -> {self.build_id}"
        )


def build_prefix(build_id: str) -> str:
    return f"{config.STAGING_PREFIX}{build_id}/"


def build_manifest_key(build_id: str) -> str:
    return f"{config.STAGING_PREFIX}{build_id}.json"


def _put_once(s3: Any, bucket: str, key: str, body: bytes, **extra: Any) -> bool:
    """Write ``key`` only if absent; True if written. An existing identical object is fine."""
    digest = sha256_hex(body)
    try:
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            IfNoneMatch="*",
            Metadata={SHA256_META: digest},
            **extra,
        )
    except ClientError as err:
        if not is_conflict(err):
            raise
        existing = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get(SHA256_META)
        if existing != digest:
            raise StagingError(
                f"s3://{bucket}/{key} already exists with other content; staged builds are "
                "immutable — change the site and stage again to get a new build id"
            ) from err
        return False
    return True


def stage(s3: Any, source: Path, bucket: str = config.BUCKET) -> StageResult:
    """Upload the build (files, then its manifest, then LATEST), resuming a half-finished one."""
    build = build_site(source)
    result = StageResult(build.build_id)
    prefix = build_prefix(build.build_id)
    for path, body in sorted(build.files.items()):
        key = prefix + path
        written = _put_once(
            s3,
            bucket,
            key,
            body,
            ContentType=headers.content_type_for(path),
            CacheControl=headers.cache_control_for(path),
        )
        (result.uploaded if written else result.already_there).append(key)
    manifest = build.manifest() | {"staged_at": _now()}
    try:
        s3.head_object(Bucket=bucket, Key=build_manifest_key(build.build_id))
    except ClientError:
        s3.put_object(
            Bucket=bucket,
            Key=build_manifest_key(build.build_id),
            Body=json.dumps(manifest, indent=2).encode(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
    s3.put_object(
        Bucket=bucket, Key=config.LATEST_KEY, Body=build.build_id.encode(), ContentType="text/plain"
    )
    return result


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_latest(s3: Any, bucket: str = config.BUCKET) -> str:
    try:
        body = s3.get_object(Bucket=bucket, Key=config.LATEST_KEY)["Body"].read()
    except ClientError as err:
        raise StagingError(
            f"s3://{bucket}/{config.LATEST_KEY} is missing: nothing has been staged; "
            "run the stage command first"
        ) from err
    return body.decode().strip()


def read_build_manifest(s3: Any, build_id: str, bucket: str = config.BUCKET) -> dict[str, Any]:
    key = build_manifest_key(build_id)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        raise StagingError(
            f"build {build_id} has no manifest at s3://{bucket}/{key}: it was never staged "
            "completely; stage it again"
        ) from err
    return json.loads(body)

"""Turn ``site/public`` into an immutable build in S3, at a cost that grows with the change.

A build is content-addressed: its id comes from the hash of the source tree, so staging the same
site twice is a no-op and any change gives a fresh id. Every file under ``assets/`` is
fingerprinted (``app.js`` -> ``app.<hash>.js``) and the HTML's references rewritten to a URL
pinned to a build, ``/_b/<build-id>/assets/app.<hash>.js`` (``qdn.config.BUILD_PIN_PREFIX``): the
function serves it from that build whatever the pointer says, so a page never loads an asset of
another build, before, during or after a switch. The build named is the one where the asset's
content first appeared (carried over from the previous build's manifest), so an unchanged asset
keeps its URL and the pages referencing it stay byte-identical.

Layout in the bucket (``qdn.config``):
``builds/<build-id>/<path>``  every file of the site; the edge serves the live build's folder
``builds/<build-id>.json``    the build's manifest (path -> sha256, md5, size, headers), written
                              last: a build without one was never staged completely and is never
                              released. It sits beside the folder, so the edge cannot serve it.
``builds/LATEST``             the newest build id, written after the manifest

What staging costs: the local work is one pass per HTML file (one compiled pattern finds every
quoted path; a dict says which are renamed) and one hash per file. In S3 it reads the previous
build's manifest (one GET) and lists the new build's folder once (to resume a half-finished
upload), uploads only the files whose content the previous build does not have, and copies the
rest server-side from the previous build — never a request per object to find out what is there.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from qdn import config, headers
from qdn.conditional_write import create_object
from qdn.parallel import WORKERS, parallel
from qdn.s3_errors import is_missing

SHA256_META = "sha256"
# Twelve hex digits (48 bits) keep ids short in logs while two different sites colliding is
# out of reach for the few thousand builds a site will ever have.
BUILD_ID_DIGITS = 12
BUILD_ID_RE = re.compile(rf"^build-[0-9a-f]{{{BUILD_ID_DIGITS}}}$")
MANIFEST_SCHEMA = 1

# CopyObject copies at most 5 GB in one request (larger needs a multipart copy); a static site's
# files are far below, and a larger file is uploaded instead of half-supported.
COPY_OBJECT_MAX_BYTES = 5 * 1024**3

# Any quoted absolute path in HTML: "/assets/app.js" or '/assets/app.css'. One compiled pattern
# for every file and every asset; the renames dict decides what is replaced. Text outside quotes
# (a paragraph mentioning /assets/app.js) is left alone.
_QUOTED_PATH = re.compile(r"""(["'])(/[^"'\s<>]*)\1""")


class StagingError(RuntimeError):
    """Staging refused to write, or a build cannot be read; the message says what to fix."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- keys -----------------------------------------------------------------------------------------


def check_build_id(build_id: str) -> str:
    if not isinstance(build_id, str) or not BUILD_ID_RE.match(build_id):
        raise StagingError(
            f"{build_id!r} is not a build id (build-<{BUILD_ID_DIGITS} hex digits>, as staging "
            "prints it)"
        )
    return build_id


def build_prefix(build_id: str) -> str:
    return f"{config.BUILDS_PREFIX}{check_build_id(build_id)}/"


def build_manifest_key(build_id: str) -> str:
    return f"{config.BUILDS_PREFIX}{check_build_id(build_id)}.json"


# --- the build, locally ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FileEntry:
    """One file of a build as its manifest records it: enough to verify it from a listing."""

    sha256: str
    md5: str  # what S3 reports as the ETag of a single-part PUT or a CopyObject
    size: int
    content_type: str
    cache_control: str
    # Assets only: the build whose folder the pages reference this content in.
    origin_build: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sha256": self.sha256,
            "md5": self.md5,
            "size": self.size,
            "content_type": self.content_type,
            "cache_control": self.cache_control,
        }
        if self.origin_build:
            out["origin_build"] = self.origin_build
        return out

    @classmethod
    def for_body(cls, path: str, body: bytes, origin_build: str | None = None) -> FileEntry:
        return cls(
            sha256=sha256_hex(body),
            md5=hashlib.md5(body, usedforsecurity=False).hexdigest(),
            size=len(body),
            content_type=headers.content_type_for(path),
            cache_control=headers.cache_control_for(path),
            origin_build=origin_build,
        )


@dataclass(frozen=True)
class BuildManifest:
    build_id: str
    files: dict[str, FileEntry]  # path relative to the site root -> entry
    staged_at: str = ""
    source_build: str | None = None  # the build unchanged files were copied from

    @property
    def asset_builds(self) -> set[str]:
        """Every build whose folder this build's pages load assets from (itself included)."""
        return {e.origin_build for e in self.files.values() if e.origin_build} | {self.build_id}

    def to_json_bytes(self) -> bytes:
        return json.dumps(
            {
                "schema_version": MANIFEST_SCHEMA,
                "build_id": self.build_id,
                "staged_at": self.staged_at,
                "source_build": self.source_build,
                "files": {p: e.to_dict() for p, e in sorted(self.files.items())},
            },
            indent=1,
        ).encode()

    @classmethod
    def from_json_bytes(cls, body: bytes, where: str) -> BuildManifest:
        try:
            doc = json.loads(body)
            files = {p: FileEntry(**e) for p, e in doc["files"].items()}
            return cls(
                build_id=check_build_id(doc["build_id"]),
                files=files,
                staged_at=doc.get("staged_at", ""),
                source_build=doc.get("source_build"),
            )
        except (ValueError, KeyError, TypeError, StagingError) as err:
            raise StagingError(
                f"{where} is not a build manifest ({err}); it was edited by hand or written by "
                "something else — stage the site again to get a complete build"
            ) from err


@dataclass(frozen=True)
class Build:
    build_id: str
    files: dict[str, bytes]  # path relative to the site root -> body
    origins: dict[str, str] = field(default_factory=dict)  # asset path -> its origin build
    source_build: str | None = None

    def manifest(self) -> BuildManifest:
        return BuildManifest(
            build_id=self.build_id,
            files={
                p: FileEntry.for_body(p, b, self.origins.get(p))
                for p, b in sorted(self.files.items())
            },
            staged_at=now_iso(),
            source_build=self.source_build,
        )


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


def rewrite_references(text: str, renames: Mapping[str, str]) -> str:
    """Replace every quoted path that ``renames`` knows, in one pass over the text."""
    if not renames:
        return text

    def swap(match: re.Match[str]) -> str:
        new = renames.get(match[2])
        return match[0] if new is None else f"{match[1]}{new}{match[1]}"

    return _QUOTED_PATH.sub(swap, text)


def tree_build_id(src: Mapping[str, bytes]) -> str:
    """The build id of a source tree: its paths and contents, nothing else."""
    tree_hash = hashlib.sha256()
    for path in sorted(src):
        tree_hash.update(f"{path}\0{sha256_hex(src[path])}\n".encode())
    return "build-" + tree_hash.hexdigest()[:BUILD_ID_DIGITS]


def pinned_url(build_id: str, path: str) -> str:
    return f"{config.BUILD_PIN_PREFIX}{build_id}/{path}"


def build_site(source: Path | Mapping[str, bytes], previous: BuildManifest | None = None) -> Build:
    """Fingerprint assets, pin the HTML's references to them and stamp the build id into HTML.

    ``previous`` (the build staged before) says where unchanged assets first appeared, so their
    URLs, and the pages using them, stay the same.
    """
    src = _read_tree(source) if isinstance(source, Path) else dict(source)
    build_id = tree_build_id(src)
    renames: dict[str, str] = {}
    origins: dict[str, str] = {}
    out: dict[str, bytes] = {}
    for path, body in src.items():
        suffix = PurePosixPath(path).suffix
        if not path.startswith(config.ASSETS_DIR) or not suffix:
            out[path] = body
            continue
        digest = sha256_hex(body)
        new_path = f"{path[: -len(suffix)]}.{digest[: headers.FINGERPRINT_DIGITS]}{suffix}"
        known = previous.files.get(new_path) if previous else None
        if known is not None and known.sha256 == digest:
            origins[new_path] = known.origin_build or previous.build_id  # type: ignore[union-attr]
        else:
            origins[new_path] = build_id
        renames["/" + path] = pinned_url(origins[new_path], new_path)
        out[new_path] = body

    for path, body in list(out.items()):
        if not headers.is_html(path):
            continue
        text = body.decode("utf-8")
        if config.BUILD_ID_PLACEHOLDER not in text and path == "index.html":
            raise StagingError(
                f"index.html lacks the build id placeholder {config.BUILD_ID_PLACEHOLDER}; "
                "the smoke check needs it to tell which release is live"
            )
        text = rewrite_references(text.replace(config.BUILD_ID_PLACEHOLDER, build_id), renames)
        out[path] = text.encode("utf-8")
    return Build(build_id, out, origins, previous.build_id if previous else None)


# --- reading builds from S3 -----------------------------------------------------------------------


def read_latest(s3: Any, bucket: str = config.BUCKET) -> str | None:
    """The newest staged build id, or None before the first staging."""
    try:
        body = s3.get_object(Bucket=bucket, Key=config.LATEST_KEY)["Body"].read()
    except ClientError as err:
        if is_missing(err):
            return None
        raise
    return body.decode().strip() or None


def read_build_manifest(s3: Any, build_id: str, bucket: str = config.BUCKET) -> BuildManifest:
    key = build_manifest_key(build_id)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as err:
        if not is_missing(err):
            raise
        raise StagingError(
            f"build {build_id} has no manifest at s3://{bucket}/{key}: it was never staged "
            "completely (or has expired); stage the site again"
        ) from err
    manifest = BuildManifest.from_json_bytes(body, f"s3://{bucket}/{key}")
    if manifest.build_id != build_id:
        raise StagingError(
            f"s3://{bucket}/{key} describes {manifest.build_id}, not {build_id}; it was copied "
            "by hand — stage the site again"
        )
    return manifest


def list_prefix(s3: Any, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
    """Every object under ``prefix`` (key relative to it -> listing entry), in one listing."""
    found: dict[str, dict[str, Any]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []) or []:
            found[obj["Key"][len(prefix) :]] = obj
    return found


# S3 returns at most 1,000 keys per ListObjectsV2 page.
LIST_PAGE = 1000


def list_known_prefix(
    s3: Any, bucket: str, prefix: str, expected: Iterable[str], *, workers: int = WORKERS
) -> dict[str, dict[str, Any]]:
    """The same listing as :func:`list_prefix`, its pages fetched side by side.

    The manifest says which keys to expect, so the page boundaries are known in advance: page
    ``i`` starts after the ``i * 1000``-th expected key (S3 lists in UTF-8 byte order, which is
    Python's order of ``str``). Each page follows its continuation token only while it has not
    reached the next boundary (keys nobody expected push it there), so every object under the
    prefix is listed exactly once, in as many requests as a plain listing and in the time of about
    one page, whatever the size of the build.
    """
    keys = sorted(prefix + k for k in expected)
    bounds = [None, *keys[LIST_PAGE - 1 :: LIST_PAGE]]
    if len(bounds) > 1 and bounds[-1] == keys[-1]:
        bounds.pop()  # a last page that would start after the last key adds nothing new

    def chunk(i: int) -> list[dict[str, Any]]:
        start, stop = bounds[i], bounds[i + 1] if i + 1 < len(bounds) else None
        args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": LIST_PAGE}
        if start is not None:
            args["StartAfter"] = start
        found: list[dict[str, Any]] = []
        while True:
            page = s3.list_objects_v2(**args)
            found += [o for o in page.get("Contents", []) or [] if stop is None or o["Key"] <= stop]
            last = (page.get("Contents") or [{}])[-1].get("Key")
            if not page.get("IsTruncated") or (
                stop is not None and last is not None and last >= stop
            ):
                return found
            args = {**args, "ContinuationToken": page["NextContinuationToken"]}
            args.pop("StartAfter", None)

    pages = parallel(chunk, range(len(bounds)), workers)
    return {o["Key"][len(prefix) :]: o for objs in pages for o in objs}


def listing_etag(obj: Mapping[str, Any]) -> str:
    return str(obj.get("ETag", "")).strip('"')


def build_problems(manifest: BuildManifest, listed: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """How the objects listed under a build's folder differ from its manifest (empty: none)."""
    problems = []
    for path, entry in sorted(manifest.files.items()):
        obj = listed.get(path)
        if obj is None:
            problems.append(f"missing {path}")
        elif listing_etag(obj) != entry.md5 or int(obj.get("Size", -1)) != entry.size:
            problems.append(f"changed {path} (ETag {listing_etag(obj)}, {obj.get('Size')} bytes)")
    problems += [f"extra {path}" for path in sorted(set(listed) - set(manifest.files))]
    return problems


# --- staging --------------------------------------------------------------------------------------


T = TypeVar("T")
R = TypeVar("R")


@dataclass
class StageResult:
    build_id: str
    source_build: str | None = None
    uploaded: list[str] = field(default_factory=list)
    copied: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)
    complete_before: bool = False  # the build's manifest existed: nothing was written

    def summary(self) -> str:
        if self.complete_before:
            return f"{self.build_id} was already staged completely; {config.LATEST_KEY} -> it"
        return (
            f"staged {self.build_id}: {len(self.uploaded)} uploaded, {len(self.copied)} copied "
            f"server-side from {self.source_build or 'no previous build'}, "
            f"{len(self.already_there)} already there; manifest written, "
            f"{config.LATEST_KEY} -> {self.build_id}"
        )


def _manifest_exists(s3: Any, bucket: str, build_id: str) -> bool:
    try:
        read_build_manifest(s3, build_id, bucket)
    except StagingError:
        return False
    return True


def _previous_manifest(s3: Any, bucket: str, build_id: str) -> BuildManifest | None:
    previous = read_latest(s3, bucket)
    if previous is None or previous == build_id:
        return None
    try:
        return read_build_manifest(s3, previous, bucket)
    except StagingError:
        return None  # an expired or broken previous build: upload everything instead


def stage(
    s3: Any, source: Path, bucket: str = config.BUCKET, *, workers: int = WORKERS
) -> StageResult:
    """Upload what changed, copy the rest from the previous build, then write the manifest."""
    src = _read_tree(source)
    build_id = tree_build_id(src)
    if _manifest_exists(s3, bucket, build_id):
        _write_latest(s3, bucket, build_id)
        return StageResult(build_id, complete_before=True)
    previous = _previous_manifest(s3, bucket, build_id)
    build = build_site(src, previous)
    manifest = build.manifest()
    result = StageResult(build.build_id, source_build=manifest.source_build)
    prefix = build_prefix(build.build_id)
    listed = list_prefix(s3, bucket, prefix)  # a half-finished staging of this very build
    by_sha: dict[str, str] = {}
    if previous:
        for path, entry in previous.files.items():
            by_sha.setdefault(entry.sha256, path)

    uploads: list[str] = []
    copies: list[tuple[str, str]] = []
    for path, entry in manifest.files.items():
        obj = listed.get(path)
        if obj is not None and listing_etag(obj) == entry.md5:
            result.already_there.append(prefix + path)
        elif entry.sha256 in by_sha and entry.size <= COPY_OBJECT_MAX_BYTES:
            copies.append((path, by_sha[entry.sha256]))
        else:
            uploads.append(path)

    def upload(path: str) -> None:
        entry = manifest.files[path]
        s3.put_object(
            Bucket=bucket,
            Key=prefix + path,
            Body=build.files[path],
            ContentType=entry.content_type,
            CacheControl=entry.cache_control,
            Metadata={SHA256_META: entry.sha256},
        )

    def copy(item: tuple[str, str]) -> None:
        path, from_path = item
        entry = manifest.files[path]
        s3.copy_object(
            Bucket=bucket,
            Key=prefix + path,
            CopySource={"Bucket": bucket, "Key": build_prefix(previous.build_id) + from_path},  # type: ignore[union-attr]
            # Headers come from this build's rules, not from the object copied.
            MetadataDirective="REPLACE",
            ContentType=entry.content_type,
            CacheControl=entry.cache_control,
            Metadata={SHA256_META: entry.sha256},
        )

    parallel(upload, uploads, workers)
    parallel(copy, copies, workers)
    result.uploaded = [prefix + p for p in uploads]
    result.copied = [prefix + p for p, _ in copies]
    write_manifest(s3, bucket, manifest)
    _write_latest(s3, bucket, build.build_id)
    return result


def write_manifest(s3: Any, bucket: str, manifest: BuildManifest) -> None:
    # None when another staging of the same content finished first: its manifest is as good.
    create_object(s3, bucket, build_manifest_key(manifest.build_id), manifest.to_json_bytes())


def _write_latest(s3: Any, bucket: str, build_id: str) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=config.LATEST_KEY,
        Body=build_id.encode(),
        ContentType="text/plain",
        CacheControl=headers.PRIVATE_CACHE_CONTROL,
    )

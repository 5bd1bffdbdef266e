"""Promote a staged build into production: a plan that is a value, and two executors for it.

``plan_promotion`` only reads. It compares every file of the build with production by content
hash (the ``sha256`` metadata staging and promotion write; never time or size), checks that the
staged objects are exactly the ones the build's manifest describes, and returns a plan: what to
copy and why, what is already right, what to delete. The plan is plain data (``to_dict`` /
``from_dict``), so it travels through XCom and a retry re-applies the very same decisions.

Executing it follows one sequence (``PromotionPlan.batches`` then ``deletions``):

1. record the version of every key about to be overwritten or deleted in
   ``releases/<run-id>.json`` — before anything is written, so a rollback is always possible;
2. copy the non-HTML files (server-side, in parallel), and only when all of them are in place
3. copy the HTML, so no page is ever served that points at an asset not there yet;
4. after the invalidation completed (a separate call, ``apply_deletions``): delete what the
   build no longer has, so cached pages keep finding their old assets until then.

``apply_promotion`` runs steps 1-3 against S3; ``describe`` runs the same sequence through a
printer that writes nothing — the dry run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from qdn import config, headers, release_manifest, staging
from qdn.release_manifest import ContentSection, ObjectChange, ReleaseManifest
from qdn.routes import SHELL_KEY
from qdn.s3_errors import is_conflict, is_missing

log = logging.getLogger(__name__)

# A release normally deletes only the few fingerprinted assets its build superseded. Fifty is
# many releases' worth of that churn; a plan past it almost always means the wrong build.
DEFAULT_DELETE_CAP = 50
# Second guard, independent of size: deleting more than half of production's unfingerprinted
# files (pages, robots.txt, images) means the build lost most of the site. Fingerprinted assets
# are left out of the ratio because replacing them is the normal churn of every release.
MASS_DELETE_FRACTION = 0.5

# Parallel HEADs and copies. botocore keeps 10 connections per client by default: 8 workers never
# wait for one (nor log "Connection pool is full"), and S3 serves thousands of requests per
# second per prefix, so the bound is about our client, not about S3.
DEFAULT_WORKERS = 8
# CopyObject copies at most 5 GB in one request (larger needs a multipart copy); a static site's
# files are far below, so a bigger one is refused rather than half-supported.
COPY_OBJECT_MAX_BYTES = 5 * 1024**3

SHA256_META = staging.SHA256_META
# Production objects carry the build they came from; the shell's tells which build is live.
BUILD_ID_META = "build-id"

_BUILD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_STAMPED_BUILD_ID = re.compile(
    rf'<meta\s+name="{re.escape(config.BUILD_ID_META_NAME)}"\s+content="([A-Za-z0-9._-]+)"'
)

COPY = "copy"
UNCHANGED = "unchanged"
DELETE = "delete"
# Why a copy happens: the key is new, its bytes differ, or the bytes are right but the headers
# (Content-Type, Cache-Control, sha256 metadata) are not — a real operator wants those fixed.
NEW = "new"
CHANGED = "changed"
HEADERS = "headers"
SAME = "same"
NOT_IN_BUILD = "not-in-build"


class PromotionError(RuntimeError):
    """The promotion refused or stopped; the message says what is wrong and what to do."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def site_key(path: str) -> str:
    return config.SITE_PREFIX + path


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # unreachable: the loop returns at MB


# --- the plan -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One production key and what the release does to it."""

    action: str  # copy | unchanged | delete
    path: str  # relative to the site root: "assets/app.0123456789.js"
    reason: str  # new | changed | headers | same | not-in-build
    sha256: str | None = None  # the content production holds after the step
    size: int | None = None
    content_type: str | None = None
    cache_control: str | None = None
    source_key: str | None = None  # staging/<build-id>/<path>
    source_version_id: str | None = None  # the staged version verified by the plan
    source_etag: str | None = None
    # Production as the plan saw it (None: no such key); a copy or delete that finds anything
    # else stops instead of overwriting a change it never saw.
    observed_version_id: str | None = None
    observed_etag: str | None = None
    drift: tuple[str, ...] = ()  # for "headers": what was wrong

    @property
    def key(self) -> str:
        return site_key(self.path)

    @property
    def is_html(self) -> bool:
        return headers.is_html(self.path)

    def line(self) -> str:
        if self.action == COPY:
            detail = f"{self.reason}, {_human_bytes(self.size or 0)}"
            if self.drift:
                detail += "; " + "; ".join(self.drift)
            return (
                f"copy {self.source_key} -> {self.key} ({detail}; "
                f"Content-Type {self.content_type}; Cache-Control {self.cache_control})"
            )
        if self.action == DELETE:
            return f"delete {self.key} (not in the build; version {self.observed_version_id})"
        return f"unchanged {self.key} (sha256 {(self.sha256 or '')[:12]})"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["drift"] = list(self.drift)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise PromotionError(f"a plan step has unknown fields {sorted(unknown)}")
        values = dict(data)
        values["drift"] = tuple(values.get("drift") or ())
        return cls(**values)


@dataclass(frozen=True)
class PromotionStats:
    """Counts for the one-sentence summary, like s3deploy's deploy stats."""

    new: int = 0
    changed: int = 0
    headers: int = 0
    unchanged: int = 0
    deleted: int = 0
    bytes_to_copy: int = 0

    @property
    def copies(self) -> int:
        return self.new + self.changed + self.headers


@dataclass(frozen=True)
class PromotionPlan:
    bucket: str
    build_id: str
    build_before: str | None  # the build production served when the plan was made
    steps: tuple[Step, ...]
    delete_cap: int | None = DEFAULT_DELETE_CAP
    planned_at: str = field(default_factory=_now)

    # --- views

    def _copies(self, html: bool) -> list[Step]:
        return [s for s in self.steps if s.action == COPY and s.is_html == html]

    def batches(self) -> list[tuple[str, list[Step]]]:
        """The copies in execution order: every asset before any HTML."""
        return [("assets", self._copies(False)), ("html", self._copies(True))]

    def copies(self) -> list[Step]:
        return [s for _, batch in self.batches() for s in batch]

    def deletions(self) -> list[Step]:
        return [s for s in self.steps if s.action == DELETE]

    def unchanged(self) -> list[Step]:
        return [s for s in self.steps if s.action == UNCHANGED]

    def changed_keys(self) -> list[str]:
        """Site-relative paths whose response changes (content or headers): to invalidate."""
        return sorted(s.path for s in self.copies())

    def deleted_keys(self) -> list[str]:
        return sorted(s.path for s in self.deletions())

    def expected(self) -> dict[str, str]:
        """Every production key after the release and its sha256."""
        return {s.key: s.sha256 for s in self.steps if s.action != DELETE and s.sha256}

    @property
    def is_noop(self) -> bool:
        return not self.copies() and not self.deletions()

    @property
    def stats(self) -> PromotionStats:
        copies = self.copies()
        return PromotionStats(
            new=sum(s.reason == NEW for s in copies),
            changed=sum(s.reason == CHANGED for s in copies),
            headers=sum(s.reason == HEADERS for s in copies),
            unchanged=len(self.unchanged()),
            deleted=len(self.deletions()),
            bytes_to_copy=sum(s.size or 0 for s in copies),
        )

    # --- renderings

    def summary(self) -> str:
        st = self.stats
        before = self.build_before or "an unrecorded build"
        if self.is_noop:
            return (
                f"production already serves build {self.build_id}: nothing to copy or delete "
                f"({st.unchanged} objects unchanged)"
            )
        return (
            f"promote {self.build_id} over {before}: {st.copies} to copy ({st.new} new, "
            f"{st.changed} changed, {st.headers} header fixes; {_human_bytes(st.bytes_to_copy)}), "
            f"{st.unchanged} unchanged, {st.deleted} to delete after the invalidation"
        )

    def lines(self) -> list[str]:
        """One line per step, in execution order, for the task log."""
        ordered = self.copies() + self.unchanged() + self.deletions()
        return [s.line() for s in ordered]

    # --- plain data

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "build_id": self.build_id,
            "build_before": self.build_before,
            "delete_cap": self.delete_cap,
            "planned_at": self.planned_at,
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromotionPlan:
        try:
            plan = cls(
                bucket=data["bucket"],
                build_id=data["build_id"],
                build_before=data.get("build_before"),
                steps=tuple(Step.from_dict(s) for s in data["steps"]),
                delete_cap=data.get("delete_cap", DEFAULT_DELETE_CAP),
                planned_at=data.get("planned_at") or _now(),
            )
        except (KeyError, TypeError) as err:
            raise PromotionError(
                f"not a promotion plan ({err!r}); pass PromotionPlan.to_dict() output"
            ) from err
        for step in plan.steps:
            _check_path(step.path)
        return plan


# --- reading S3 -----------------------------------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")


def _parallel(fn: Callable[[T], R], items: Iterable[T], workers: int) -> list[R]:
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        return list(pool.map(fn, items))


def _head(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
    kwargs = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        return s3.head_object(**kwargs)
    except ClientError as err:
        if is_missing(err):
            return None
        raise


def _list_keys(s3: Any, bucket: str, prefix: str) -> dict[str, dict[str, Any]]:
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):  # a console "folder" marker is not a file
                out[obj["Key"][len(prefix) :]] = obj
    return out


def _list_versions(s3: Any, bucket: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Every version and delete marker under ``prefix``, per site-relative path."""
    out: dict[str, list[dict[str, Any]]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Versions", []):
            out.setdefault(entry["Key"][len(prefix) :], []).append(entry)
        for entry in page.get("DeleteMarkers", []):
            out.setdefault(entry["Key"][len(prefix) :], []).append(entry | {"DeleteMarker": True})
    return out


def _md5_etag(head: Mapping[str, Any]) -> str | None:
    """The ETag if it is the MD5 of the bytes: single-part and not KMS/customer-key encrypted.

    Copies keep the source's ETag, so two such ETags that differ prove different bytes, and two
    that match are the same bytes; anything else proves nothing.
    """
    etag = str(head.get("ETag", "")).strip('"')
    if not etag or "-" in etag or head.get("SSECustomerAlgorithm"):
        return None
    if str(head.get("ServerSideEncryption", "")).startswith("aws:kms"):
        return None
    return etag


def _same_bytes(staged: Mapping[str, Any], prod: Mapping[str, Any]) -> bool | None:
    a, b = _md5_etag(staged), _md5_etag(prod)
    if a is None or b is None:
        return None
    return a == b


# --- validating the build -------------------------------------------------------------------------


def _check_build_id(build_id: str) -> str:
    if not isinstance(build_id, str) or not _BUILD_ID.match(build_id):
        raise PromotionError(
            f"{build_id!r} is not a build id (letters, digits, '.', '_', '-'; no slashes); "
            f"staged build ids look like build-0123456789ab — see s3://…/{config.LATEST_KEY}"
        )
    return build_id


def _check_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in {"", ".", ".."} for p in parts):
        raise PromotionError(
            f"{path!r} is not a clean site-relative path (no leading slash, no empty, '.' or "
            "'..' segments); the build's manifest is damaged — stage the site again"
        )
    return path


def _staged_hint(s3: Any, bucket: str) -> str:
    try:
        latest = staging.read_latest(s3, bucket)
    except staging.StagingError:
        return "nothing is staged at all"
    return f"{config.LATEST_KEY} names {latest}"


def _read_manifest_files(s3: Any, bucket: str, build_id: str) -> dict[str, dict[str, Any]]:
    key = staging.build_manifest_key(build_id)
    try:
        manifest = staging.read_build_manifest(s3, build_id, bucket)
    except staging.StagingError as err:
        raise PromotionError(
            f"unknown build {build_id}: s3://{bucket}/{key} does not exist "
            f"({_staged_hint(s3, bucket)}); stage the site or pass a staged build id"
        ) from err
    except ValueError as err:
        raise PromotionError(
            f"s3://{bucket}/{key} is not JSON ({err}); stage the site again"
        ) from err
    # Staging writes the manifest once; a second version means someone rewrote what the build
    # is said to contain, and every hash below would be checked against the rewrite.
    written = _list_versions(s3, bucket, key).get("", [])
    if len(written) > 1:
        raise PromotionError(
            f"s3://{bucket}/{key} was written {len(written)} times; a build's manifest is "
            "written once, so this build cannot be trusted — stage the site again"
        )
    if manifest.get("build_id") != build_id:
        raise PromotionError(
            f"s3://{bucket}/{key} describes build "
            f"{manifest.get('build_id')!r}, not {build_id}; the manifest was overwritten — "
            "stage the site again"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise PromotionError(
            f"build {build_id} is empty: its manifest lists no files; promoting it would leave "
            "nothing to serve — stage the site again"
        )
    if SHELL_KEY not in files:
        raise PromotionError(
            f"build {build_id} has no {SHELL_KEY}: every route serves the shell, so "
            "the site would break — stage a site that has one"
        )
    for path, meta in files.items():
        _check_path(path)
        if not isinstance(meta, dict) or not _SHA256.match(str(meta.get("sha256", ""))):
            raise PromotionError(
                f"build {build_id}: the manifest entry for {path} has no valid sha256; "
                "stage the site again"
            )
    return files


@dataclass(frozen=True)
class _Staged:
    version_id: str | None
    head: dict[str, Any]


def _verify_staged(
    s3: Any, bucket: str, build_id: str, files: Mapping[str, Mapping[str, Any]], workers: int
) -> dict[str, _Staged]:
    """Every manifest file is staged once, untouched, with the hash the manifest says."""
    prefix = staging.build_prefix(build_id)
    versions = _list_versions(s3, bucket, prefix)
    problems: list[str] = []
    latest: dict[str, dict[str, Any]] = {}
    for path in sorted(files):
        entries = versions.get(path, [])
        live = [e for e in entries if e.get("IsLatest")]
        if not live or live[0].get("DeleteMarker"):
            problems.append(f"{path}: missing from {prefix}")
        elif len(entries) > 1:
            problems.append(
                f"{path}: written {len(entries)} times (staged objects are written once; "
                "it was overwritten or deleted after staging)"
            )
        else:
            latest[path] = live[0]

    def head(path: str) -> tuple[str, dict[str, Any] | None]:
        return path, _head(s3, bucket, prefix + path, latest[path].get("VersionId"))

    heads = dict(_parallel(head, sorted(latest), workers))
    for path, got in heads.items():
        want = files[path]
        if got is None:
            problems.append(f"{path}: vanished while being checked")
            continue
        meta = (got.get("Metadata") or {}).get(SHA256_META)
        if meta != want["sha256"]:
            problems.append(
                f"{path}: staged sha256 {str(meta)[:12]} differs from the manifest's "
                f"{want['sha256'][:12]}"
            )
        elif "size" in want and got.get("ContentLength") != want["size"]:
            problems.append(
                f"{path}: staged size {got.get('ContentLength')} differs from the manifest's "
                f"{want['size']}"
            )
        elif (got.get("ContentLength") or 0) > COPY_OBJECT_MAX_BYTES:
            problems.append(f"{path}: larger than the 5 GB a server-side copy can take")
    if problems:
        shown = "; ".join(problems[:10]) + (
            f"; and {len(problems) - 10} more" if problems[10:] else ""
        )
        raise PromotionError(
            f"build {build_id} does not match its manifest, nothing was copied: {shown}. "
            "Stage the site again (a fresh build id) and promote that"
        )
    return {path: _Staged(latest[path].get("VersionId"), got) for path, got in heads.items() if got}


# --- planning -------------------------------------------------------------------------------------


def _header_drift(path: str, prod: Mapping[str, Any], sha256: str) -> list[str]:
    drift = []
    want_type, want_cache = headers.content_type_for(path), headers.cache_control_for(path)
    if prod.get("ContentType") != want_type:
        drift.append(f"Content-Type was {prod.get('ContentType')!r}")
    if prod.get("CacheControl") != want_cache:
        drift.append(f"Cache-Control was {prod.get('CacheControl')!r}")
    if (prod.get("Metadata") or {}).get(SHA256_META) != sha256:
        drift.append("sha256 metadata missing or wrong")
    return drift


def _served_build(s3: Any, bucket: str, shell: Mapping[str, Any] | None) -> str | None:
    """The build production serves: the shell's build-id metadata, or, for a shell put there
    before promotions recorded it (the bootstrap), the build id staging stamped into it."""
    if not shell:
        return None
    recorded = (shell.get("Metadata") or {}).get(BUILD_ID_META)
    if recorded:
        return recorded
    kwargs = {"VersionId": shell["VersionId"]} if shell.get("VersionId") else {}
    got = s3.get_object(Bucket=bucket, Key=site_key(SHELL_KEY), **kwargs)
    # The meta tag sits in the head; the first 64 KB is far more than any shell's head.
    text = got["Body"].read(64 * 1024).decode("utf-8", "replace")
    found = _STAMPED_BUILD_ID.search(text)
    return found[1] if found else None


def _classify(path: str, meta: Mapping[str, Any], staged: _Staged, prod: Mapping[str, Any] | None):
    sha256 = meta["sha256"]
    if prod is None:
        return NEW, ()
    same = _same_bytes(staged.head, prod)
    recorded = (prod.get("Metadata") or {}).get(SHA256_META)
    if same is False or (same is None and recorded != sha256):
        return CHANGED, ()
    drift = _header_drift(path, prod, sha256)
    return (HEADERS, tuple(drift)) if drift else (SAME, ())


def _check_deletions(
    build_id: str,
    production: Iterable[str],
    deletions: list[str],
    delete_cap: int | None,
    allow_mass_delete: bool,
) -> None:
    if delete_cap is not None and len(deletions) > delete_cap:
        raise PromotionError(
            f"build {build_id} would delete {len(deletions)} objects from production "
            f"(first: {', '.join(deletions[:5])}), more than the cap of {delete_cap}; nothing "
            "was copied. Check that this is the right build; if it is, plan again with "
            f"delete_cap={len(deletions)} or more (the release's delete_cap parameter)"
        )
    pages = [p for p in production if not headers.is_fingerprinted(p)]
    lost = [p for p in deletions if not headers.is_fingerprinted(p)]
    if not allow_mass_delete and pages and len(lost) > MASS_DELETE_FRACTION * len(pages):
        raise PromotionError(
            f"build {build_id} would delete {len(lost)} of production's {len(pages)} "
            f"unfingerprinted files ({', '.join(lost[:5])}), more than "
            f"{MASS_DELETE_FRACTION:.0%}; nothing was copied. A build that drops most of the "
            "site is usually the wrong folder; if it is intended, plan again with "
            "allow_mass_delete=True"
        )


def plan_promotion(
    s3: Any,
    bucket: str = config.BUCKET,
    build_id: str | None = None,
    *,
    delete_cap: int | None = DEFAULT_DELETE_CAP,
    allow_mass_delete: bool = False,
    workers: int = DEFAULT_WORKERS,
) -> PromotionPlan:
    """Compare the build (default: ``staging/LATEST``) with production; read only.

    Raises ``PromotionError`` for an unknown, empty, shell-less or tampered build and for a plan
    past the deletion guards — before anything is written.
    """
    if build_id is None:
        try:
            build_id = staging.read_latest(s3, bucket)
        except staging.StagingError as err:
            raise PromotionError(str(err)) from err
    _check_build_id(build_id)
    files = _read_manifest_files(s3, bucket, build_id)
    production = _list_keys(s3, bucket, config.SITE_PREFIX)
    deletions = sorted(set(production) - set(files))
    _check_deletions(build_id, production, deletions, delete_cap, allow_mass_delete)
    staged = _verify_staged(s3, bucket, build_id, files, workers)

    def head(path: str) -> tuple[str, dict[str, Any] | None]:
        return path, _head(s3, bucket, site_key(path))

    # One HEAD per production object (in parallel): the listing's ETags alone could say whether
    # bytes match, but not whether Content-Type/Cache-Control drifted, nor the version ids the
    # manifest must record. The ETags still serve, as a cross-check of the sha256 metadata.
    prod = dict(_parallel(head, sorted(production), workers))
    prefix = staging.build_prefix(build_id)
    steps: list[Step] = []
    for path in sorted(files):
        meta, current = files[path], prod.get(path)
        reason, drift = _classify(path, meta, staged[path], current)
        steps.append(
            Step(
                action=UNCHANGED if reason == SAME else COPY,
                path=path,
                reason=reason,
                sha256=meta["sha256"],
                size=staged[path].head.get("ContentLength"),
                content_type=headers.content_type_for(path),
                cache_control=headers.cache_control_for(path),
                source_key=prefix + path,
                source_version_id=staged[path].version_id,
                source_etag=staged[path].head.get("ETag"),
                observed_version_id=(current or {}).get("VersionId"),
                observed_etag=(current or {}).get("ETag"),
                drift=drift,
            )
        )
    for path in deletions:
        current = prod.get(path)
        if current is None:  # gone between the listing and the HEAD: nothing to delete
            continue
        steps.append(
            Step(
                action=DELETE,
                path=path,
                reason=NOT_IN_BUILD,
                sha256=(current.get("Metadata") or {}).get(SHA256_META),
                size=current.get("ContentLength"),
                observed_version_id=current.get("VersionId"),
                observed_etag=current.get("ETag"),
            )
        )
    return PromotionPlan(
        bucket=bucket,
        build_id=build_id,
        build_before=_served_build(s3, bucket, prod.get(SHELL_KEY)),
        steps=tuple(steps),
        delete_cap=delete_cap,
    )


# --- the instruction sequence both executors walk ---------------------------------------------

RECORD = "record"
COPY_BATCH = "copy-batch"
MARK_LATEST = "mark-latest"
DELETE_BATCH = "delete-batch"


@dataclass(frozen=True)
class Instruction:
    op: str  # record | copy-batch | mark-latest | delete-batch
    name: str
    steps: tuple[Step, ...] = ()
    # Deferred instructions are not run by apply_promotion but by apply_deletions, after the
    # invalidation completed.
    deferred: bool = False


def instructions(plan: PromotionPlan) -> list[Instruction]:
    """The plan as the ordered instructions ``apply_promotion``/``apply_deletions`` execute and
    ``describe`` prints."""
    touched = tuple(plan.copies() + plan.deletions())
    out = [Instruction(RECORD, "previous versions", touched)]
    out += [Instruction(COPY_BATCH, name, tuple(batch)) for name, batch in plan.batches()]
    out.append(Instruction(MARK_LATEST, release_manifest.LATEST_POINTER_KEY))
    out.append(Instruction(DELETE_BATCH, "deletions", tuple(plan.deletions()), deferred=True))
    return out


def _as_plan(plan: PromotionPlan | Mapping[str, Any]) -> PromotionPlan:
    return plan if isinstance(plan, PromotionPlan) else PromotionPlan.from_dict(plan)


def describe(plan: PromotionPlan | Mapping[str, Any], *, run_id: str = "<run-id>") -> list[str]:
    """The printing executor: what ``apply_promotion`` and ``apply_deletions`` would do, in
    order, one line each. Reads nothing and writes nothing — this is the dry run."""
    plan = _as_plan(plan)
    where = f"s3://{plan.bucket}/"
    out = [plan.summary()]
    for ins in instructions(plan):
        if ins.op == RECORD:
            manifest = f"{config.RELEASES_PREFIX}{run_id}.json"
            out.append(
                f"record the previous version of {len(ins.steps)} key(s) in {where}{manifest}"
            )
        elif ins.op == COPY_BATCH and ins.steps:
            after = " once every asset is in place" if ins.name == "html" else ""
            out.append(f"{ins.name}: {len(ins.steps)} server-side copies in parallel{after}")
            out.extend("  " + s.line() for s in ins.steps)
        elif ins.op == MARK_LATEST:
            if plan.unchanged():
                out.append(f"leave {len(plan.unchanged())} unchanged object(s) as they are")
            out.append(f"point {where}{ins.name} at this run")
        elif ins.op == DELETE_BATCH and ins.steps:
            out.append(f"after the invalidation completed: {len(ins.steps)} deletion(s)")
            out.extend("  " + s.line() for s in ins.steps)
    return out


# --- the S3 executor ------------------------------------------------------------------------------


def _same_object(current: Mapping[str, Any] | None, version_id: str | None, etag: str | None):
    """Is ``current`` (a HEAD, None if absent) the object the plan saw?"""
    if current is None:
        return version_id is None and etag is None
    if version_id is None and etag is None:
        return False
    if version_id and current.get("VersionId"):
        return current["VersionId"] == version_id
    return current.get("ETag") == etag


def _is_target(step: Step, current: Mapping[str, Any] | None) -> bool:
    """Production already holds exactly what the step would write (an earlier attempt did it)."""
    if current is None:
        return False
    if (current.get("Metadata") or {}).get(SHA256_META) != step.sha256:
        return False
    if _same_bytes({"ETag": step.source_etag}, current) is False:
        return False
    return (
        current.get("ContentType") == step.content_type
        and current.get("CacheControl") == step.cache_control
    )


def _changed_under_us(key: str, current: Mapping[str, Any] | None, step_version: str | None):
    now = (current or {}).get("VersionId") if current else "nothing"
    return PromotionError(
        f"{key} changed since the plan was made (planned over version {step_version or 'nothing'}"
        f", found {now}); another writer is at work on production — plan again once it is done"
    )


def _run_parallel(
    fn: Callable[[T], R], items: Iterable[T], workers: int
) -> tuple[list[tuple[T, R]], list[tuple[T, BaseException]]]:
    """Run every item even if some fail; the caller records what succeeded, then raises."""
    items = list(items)
    done: list[tuple[T, R]] = []
    failed: list[tuple[T, BaseException]] = []
    if not items:
        return done, failed
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        futures = [(item, pool.submit(fn, item)) for item in items]
        for item, future in futures:
            try:
                done.append((item, future.result()))
            except Exception as err:
                failed.append((item, err))
    return done, failed


def _failure_text(failed: list[tuple[Any, BaseException]]) -> str:
    shown = [f"{getattr(item, 'key', item)}: {err}" for item, err in failed[:3]]
    more = f"; and {len(failed) - 3} more" if failed[3:] else ""
    return "; ".join(shown) + more


class _S3Executor:
    """Applies copy and delete steps; every step first looks at production, so a retried step
    that already happened is skipped and one that something else changed is refused."""

    def __init__(self, s3: Any, bucket: str, build_id: str) -> None:
        self.s3, self.bucket, self.build_id = s3, bucket, build_id

    def copy(self, step: Step) -> tuple[bool, str | None]:
        """(copied now?, the version production holds afterwards)."""
        current = _head(self.s3, self.bucket, step.key)
        if _is_target(step, current):
            return False, (current or {}).get("VersionId")
        if not _same_object(current, step.observed_version_id, step.observed_etag):
            raise _changed_under_us(step.key, current, step.observed_version_id)
        source = {"Bucket": self.bucket, "Key": step.source_key}
        if step.source_version_id and step.source_version_id != "null":
            source["VersionId"] = step.source_version_id  # exactly the bytes the plan verified
        # Write only over what the plan saw (S3 checks this atomically; the HEAD above gives the
        # clear message in the common case).
        condition = {"IfMatch": current["ETag"]} if current else {"IfNoneMatch": "*"}
        try:
            copied = self.s3.copy_object(
                Bucket=self.bucket,
                Key=step.key,
                CopySource=source,
                MetadataDirective="REPLACE",
                ContentType=step.content_type,
                CacheControl=step.cache_control,
                Metadata={SHA256_META: step.sha256 or "", BUILD_ID_META: self.build_id},
                **condition,
            )
        except ClientError as err:
            if is_conflict(err):
                raise _changed_under_us(step.key, current, step.observed_version_id) from err
            raise
        log.info("copied %s -> %s (%s)", step.source_key, step.key, step.reason)
        return True, copied.get("VersionId")

    def delete(self, item: tuple[str, ObjectChange]) -> tuple[str, str | None]:
        """("deleted" | "gone" | "conflict", delete marker or current version)."""
        key, change = item
        current = _head(self.s3, self.bucket, key)
        if current is None:
            return "gone", change.new_version_id
        if not _same_object(current, change.previous_version_id, change.previous_etag):
            return "conflict", current.get("VersionId")
        try:
            deleted = self.s3.delete_object(Bucket=self.bucket, Key=key, IfMatch=current["ETag"])
        except ClientError as err:
            if is_conflict(err):
                return "conflict", None
            raise
        log.info("deleted %s (delete marker %s)", key, deleted.get("VersionId"))
        return "deleted", deleted.get("VersionId")


# --- apply ----------------------------------------------------------------------------------------


@dataclass
class PromotionResult:
    """What ``apply_promotion`` did; ``to_xcom`` is the shape the invalidate task reads."""

    bucket: str
    run_id: str
    build_id: str
    build_before: str | None
    manifest_key: str
    attempt: int
    copied: list[str]  # paths this call copied
    already_done: list[str]  # paths an earlier attempt of the run had copied
    new_version_ids: dict[str, str]  # path -> version now in production, for every copy
    changed_keys: list[str]  # every path the run changed (all attempts): to invalidate
    deleted_keys: list[str]  # paths apply_deletions removes after the invalidation
    stats: PromotionStats

    def summary(self) -> str:
        earlier = ""
        if self.already_done:
            earlier = f", {len(self.already_done)} already in place from an earlier attempt"
        return (
            f"promoted {self.build_id} over {self.build_before or 'an unrecorded build'} "
            f"(run {self.run_id}, attempt {self.attempt}): copied {len(self.copied)} object(s)"
            f"{earlier}, {self.stats.unchanged} unchanged, {len(self.deleted_keys)} deletion(s) "
            f"deferred until after the invalidation; previous versions in "
            f"s3://{self.bucket}/{self.manifest_key}"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stats"] = asdict(self.stats)
        return out

    def to_xcom(self) -> dict[str, Any]:
        return self.to_dict()


def _change_for(step: Step) -> ObjectChange:
    return ObjectChange(
        action=step.action,
        reason=step.reason,
        sha256=step.sha256,
        previous_version_id=step.observed_version_id,
        previous_etag=step.observed_etag,
    )


def _open_release(s3: Any, bucket: str, plan: PromotionPlan, run_id: str) -> ReleaseManifest:
    """Write the content section before anything is copied — or, on a retry, keep the first
    attempt's: the versions it recorded are the ones the release replaced, whereas what
    production holds now may be the first attempt's own writes."""
    touched = plan.copies() + plan.deletions()

    def start(manifest: ReleaseManifest) -> None:
        content = manifest.content
        if content is None:
            manifest.content = ContentSection(
                build_before=plan.build_before,
                build_after=plan.build_id,
                changes={s.key: _change_for(s) for s in touched},
                expected=plan.expected(),
                plan=plan.to_dict(),
            )
            return
        if content.build_after != plan.build_id:
            raise PromotionError(
                f"run {run_id} already promoted build {content.build_after} "
                f"(s3://{bucket}/{release_manifest.manifest_key(run_id)}); one run promotes one "
                f"build — start a new run for {plan.build_id}"
            )
        for step in touched:
            # A key this run never recorded was never written by it: its current version is
            # genuinely the one the release replaces.
            content.changes.setdefault(step.key, _change_for(step))
        content.attempts += 1

    return release_manifest.update_manifest(s3, bucket, run_id, start).manifest


def _record_versions(
    s3: Any, bucket: str, run_id: str, versions: Mapping[str, str | None], *, finished: str = ""
) -> ReleaseManifest:
    def record(manifest: ReleaseManifest) -> None:
        content = manifest.content
        assert content is not None  # written by _open_release before any copy
        for key, version in versions.items():
            if key in content.changes and version:
                content.changes[key].new_version_id = version
        if finished == COPY_BATCH and content.copies_completed_at is None:
            content.copies_completed_at = _now()
        if finished == DELETE_BATCH and content.deletions_completed_at is None:
            content.deletions_completed_at = _now()

    return release_manifest.update_manifest(s3, bucket, run_id, record).manifest


def apply_promotion(
    s3: Any,
    bucket: str,
    plan: PromotionPlan | Mapping[str, Any],
    *,
    run_id: str,
    executor_workers: int = DEFAULT_WORKERS,
) -> PromotionResult:
    """Record, copy assets, copy HTML, point LATEST; deletions are left for ``apply_deletions``.

    Idempotent per run: a retry (with this plan or a fresh one of the same build) skips every
    copy already in place and keeps the previous versions the first attempt recorded.
    """
    plan = _as_plan(plan)
    if plan.bucket != bucket:
        raise PromotionError(
            f"the plan was made for bucket {plan.bucket}, not {bucket}; plan against {bucket}"
        )
    key = release_manifest.manifest_key(run_id)
    executor = _S3Executor(s3, bucket, plan.build_id)
    copied: list[str] = []
    already: list[str] = []
    manifest: ReleaseManifest | None = None
    for ins in instructions(plan):
        if ins.deferred:
            continue
        if ins.op == RECORD:
            manifest = _open_release(s3, bucket, plan, run_id)
        elif ins.op == COPY_BATCH and ins.steps:
            done, failed = _run_parallel(executor.copy, ins.steps, executor_workers)
            for step, (now, _) in done:
                (copied if now else already).append(step.path)
            manifest = _record_versions(s3, bucket, run_id, {s.key: v for s, (_, v) in done})
            if failed:
                not_yet = " and no HTML was copied" if ins.name == "assets" else ""
                raise PromotionError(
                    f"{len(failed)} of {len(ins.steps)} {ins.name} copies failed{not_yet}: "
                    f"{_failure_text(failed)}. Production keeps its previous pages; retrying "
                    "the run skips what was copied and keeps the recorded previous versions"
                ) from failed[0][1]
        elif ins.op == MARK_LATEST:
            assert manifest is not None and manifest.content is not None
            # Keys an earlier attempt copied that this plan found already right.
            earlier = {
                s.key: s.observed_version_id
                for s in plan.unchanged()
                if s.key in manifest.content.changes
                and manifest.content.changes[s.key].new_version_id is None
            }
            manifest = _record_versions(s3, bucket, run_id, earlier, finished=COPY_BATCH)
            release_manifest.mark_latest(s3, bucket, run_id)
    assert manifest is not None and manifest.content is not None
    content = manifest.content
    copy_changes = {k: c for k, c in content.changes.items() if c.action == COPY}
    strip = len(config.SITE_PREFIX)
    result = PromotionResult(
        bucket=bucket,
        run_id=run_id,
        build_id=plan.build_id,
        build_before=content.build_before,
        manifest_key=key,
        attempt=content.attempts,
        copied=sorted(copied),
        already_done=sorted({k[strip:] for k in copy_changes} - set(copied)),
        new_version_ids={
            k[strip:]: c.new_version_id for k, c in copy_changes.items() if c.new_version_id
        },
        changed_keys=sorted(k[strip:] for k in copy_changes),
        deleted_keys=sorted(k[strip:] for k, c in content.changes.items() if c.action == DELETE),
        stats=plan.stats,
    )
    log.info("%s", result.summary())
    return result


# --- deferred deletions ---------------------------------------------------------------------------


def _requested_deletions(source: Any) -> set[str]:
    """Full keys the caller asks to delete, from a plan, a manifest, or the promote XCom."""
    if isinstance(source, PromotionPlan):
        return {s.key for s in source.deletions()}
    if isinstance(source, ReleaseManifest):
        changes = source.content.changes if source.content else {}
        return {k for k, c in changes.items() if c.action == DELETE}
    if isinstance(source, Mapping):
        if "steps" in source:
            return _requested_deletions(PromotionPlan.from_dict(source))
        if "schema_version" in source:
            return _requested_deletions(ReleaseManifest.model_validate(source))
        if "deleted_keys" in source:
            return {site_key(_check_path(p)) for p in source["deleted_keys"]}
    raise PromotionError(
        "apply_deletions takes a PromotionPlan, a ReleaseManifest, or a mapping with "
        f"'deleted_keys' (the promote task's XCom); got {type(source).__name__}"
    )


def apply_deletions(
    s3: Any,
    bucket: str,
    plan_or_manifest: Any,
    run_id: str,
    *,
    executor_workers: int = DEFAULT_WORKERS,
) -> list[str]:
    """Delete what the build no longer has — run only after the invalidation completed.

    Only keys under ``site/`` that the run's manifest recorded (with their previous versions)
    are deleted, each only if it is still the version the plan saw. Idempotent: a key already
    gone counts as done. Returns the site-relative paths the run has removed.
    """
    stored = release_manifest.read_manifest(s3, bucket, run_id)
    if stored is None or stored.manifest.content is None:
        raise PromotionError(
            f"run {run_id} has no release manifest with content at "
            f"s3://{bucket}/{release_manifest.manifest_key(run_id)}; deletions need the "
            "recorded versions for a rollback — run apply_promotion first"
        )
    content = stored.manifest.content
    requested = _requested_deletions(plan_or_manifest)
    outside = sorted(k for k in requested if not k.startswith(config.SITE_PREFIX))
    if outside:
        raise PromotionError(
            f"refusing to delete outside {config.SITE_PREFIX}: {', '.join(outside[:5])}; "
            "only production site objects are ever deleted"
        )
    recorded = {k: c for k, c in content.changes.items() if c.action == DELETE}
    unknown = sorted(requested - set(recorded))
    if unknown:
        raise PromotionError(
            f"{', '.join(unknown[:5])} not recorded for deletion in run {run_id}'s manifest; "
            "only what the release planned (and recorded) is deleted"
        )
    if not requested:
        return []
    if content.copies_completed_at is None:
        raise PromotionError(
            f"run {run_id} has not finished copying; deleting now could remove assets the live "
            "pages still need — finish apply_promotion first"
        )
    executor = _S3Executor(s3, bucket, content.build_after)
    items = [(k, recorded[k]) for k in sorted(requested)]
    done, failed = _run_parallel(executor.delete, items, executor_workers)
    markers = {key: version for (key, _), (state, version) in done if state == "deleted"}
    gone = sorted(key for (key, _), (state, _) in done if state in {"deleted", "gone"})
    conflicts = sorted(key for (key, _), (state, _) in done if state == "conflict")
    complete = not failed and not conflicts and requested == set(recorded)
    _record_versions(s3, bucket, run_id, markers, finished=DELETE_BATCH if complete else "")
    if failed or conflicts:
        problems = []
        if conflicts:
            problems.append(
                f"left in place because they changed since the plan: {', '.join(conflicts[:5])}"
            )
        if failed:
            problems.append(f"failed: {_failure_text(failed)}")
        raise PromotionError(
            f"deleted {len(gone)} of {len(items)} object(s); "
            + "; ".join(problems)
            + ". Retrying deletes only what is still there"
        ) from (failed[0][1] if failed else None)
    log.info("deleted %d object(s) no longer in build %s", len(gone), content.build_after)
    return [k[len(config.SITE_PREFIX) :] for k in gone]

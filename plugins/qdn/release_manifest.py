"""The release manifest: what one release run replaced, so it can be rolled back and verified.

One object per run, ``releases/<run-id>.json``. Several tasks of the same run write to it (the
function publish, the content promotion, the job upload, the invalidation), some of them at the
same time, so every write is conditional: the first with ``IfNoneMatch: *``, every later one
with ``IfMatch`` on the ETag just read, retried on 412/409 with the fresh document. A writer
therefore never loses another's section, and a retried task finds what its first attempt wrote.

``releases/LATEST`` names the run whose content was applied last; the nightly verification reads
it (``latest_release``) to know what production must hold. It is a pointer rather than a listing
because run ids do not sort by time and LastModified moves whenever a later task adds a section.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from qdn import config, headers
from qdn.s3_errors import is_conflict, is_missing

MANIFEST_SCHEMA = 1
LATEST_POINTER_KEY = config.RELEASES_PREFIX + "LATEST"

# A run has four tasks that write here, at most two at once; ten rounds of read-modify-write
# outlast any honest contention, and a writer still losing after that is a bug worth failing on.
UPDATE_ATTEMPTS = 10
# Backoff between rounds: long enough for the winner's write to land, short next to a task.
RETRY_BASE_SECONDS = 0.05
RETRY_MAX_SECONDS = 1.0


# What a token hint may be: qdn.jobs.model.redact_token gives four characters and an ellipsis;
# anything longer starts to be usable, and the manifest is read by people and tools alike.
TOKEN_HINT_MAX_CHARS = 4
_TOKEN_HINT = re.compile(rf"^[A-Za-z0-9_-]{{0,{TOKEN_HINT_MAX_CHARS}}}…?$")

# Run ids become object keys: Airflow's ("manual__2025-01-01T00:00:00+00:00") are fine; a slash
# or a control character would put the manifest somewhere nobody looks for it.
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+@=,~-]{0,249}$")


class ReleaseManifestError(RuntimeError):
    """The manifest could not be read or written; the message says which and what to do."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --- the model ------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectChange(_Strict):
    """One production key the release writes or deletes, with what it replaced."""

    action: Literal["copy", "delete"]
    reason: str
    sha256: str | None = None
    # None means the key did not exist before the release: a rollback deletes it.
    previous_version_id: str | None = None
    previous_etag: str | None = None
    # copy: the version the release wrote; delete: the delete marker it left.
    new_version_id: str | None = None


class ContentSection(_Strict):
    """The promotion's record: enough to put every key back as it was, and to verify the rest."""

    build_before: str | None = None
    build_after: str
    changes: dict[str, ObjectChange] = Field(default_factory=dict)  # full S3 key -> change
    # Every key production holds after the release and its sha256 (the nightly check's truth).
    expected: dict[str, str] = Field(default_factory=dict)
    plan: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 1
    copies_completed_at: str | None = None
    deletions_completed_at: str | None = None


class FunctionSection(BaseModel):
    """The function publish's record; open to extra fields the publish step wants to keep."""

    model_config = ConfigDict(extra="allow")

    name: str = config.FUNCTION_NAME
    published: bool = False
    previous_live_etag: str | None = None
    previous_live_sha256: str | None = None
    new_live_etag: str | None = None


class JobChange(_Strict):
    job_id: str
    # Never the token: a hint as qdn.jobs.model.redact_token makes it ("AbC1…").
    token_hint: str
    action: str = "created"

    @field_validator("token_hint")
    @classmethod
    def _only_a_hint(cls, value: str) -> str:
        if not _TOKEN_HINT.match(value):
            raise ValueError(
                f"a token hint is at most {TOKEN_HINT_MAX_CHARS} characters and an ellipsis "
                "(use qdn.jobs.model.redact_token); full tokens never go into a manifest"
            )
        return value


class JobsSection(_Strict):
    changes: list[JobChange] = Field(default_factory=list)


class ReleaseManifest(_Strict):
    schema_version: Literal[1] = MANIFEST_SCHEMA
    run_id: str
    created_at: str = Field(default_factory=now_iso)
    updated_at: str = Field(default_factory=now_iso)
    content: ContentSection | None = None
    function: FunctionSection | None = None
    jobs: JobsSection | None = None
    invalidations: dict[str, str] | None = None  # distribution id -> invalidation id

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(indent=2).encode("utf-8")


SECTIONS: dict[str, type[BaseModel] | None] = {
    "content": ContentSection,
    "function": FunctionSection,
    "jobs": JobsSection,
    "invalidations": None,  # a plain mapping, merged key by key
}


class StoredManifest(NamedTuple):
    manifest: ReleaseManifest
    etag: str


# --- keys -----------------------------------------------------------------------------------------


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise ReleaseManifestError(
            f"run id {run_id!r} cannot name a release manifest: use letters, digits and "
            "._:+@=,~- only (no slashes), at most 250 characters"
        )
    return run_id


def manifest_key(run_id: str) -> str:
    return f"{config.RELEASES_PREFIX}{check_run_id(run_id)}.json"


# --- read and write -------------------------------------------------------------------------------


def read_manifest(s3: Any, bucket: str, run_id: str) -> StoredManifest | None:
    """The run's manifest and its ETag, or None if the run has written none yet."""
    key = manifest_key(run_id)
    try:
        got = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if is_missing(err):
            return None
        raise
    body = got["Body"].read()
    try:
        manifest = ReleaseManifest.model_validate_json(body)
    except ValueError as err:
        raise ReleaseManifestError(
            f"s3://{bucket}/{key} is not a valid release manifest ({err}); it was written by "
            "something else or edited by hand — fix or move it before retrying the run"
        ) from err
    return StoredManifest(manifest, got["ETag"])


def _put(s3: Any, bucket: str, manifest: ReleaseManifest, etag: str | None) -> str:
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    put = s3.put_object(
        Bucket=bucket,
        Key=manifest_key(manifest.run_id),
        Body=manifest.to_json_bytes(),
        ContentType="application/json",
        CacheControl=headers.PRIVATE_CACHE_CONTROL,
        **condition,
    )
    return put["ETag"]


def _backoff(attempt: int) -> None:
    # Full jitter: concurrent losers spread out instead of colliding again in step.
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt)
    time.sleep(random.uniform(0, delay))  # noqa: S311 (timing jitter, not security)


def update_manifest(
    s3: Any,
    bucket: str,
    run_id: str,
    change: Callable[[ReleaseManifest], ReleaseManifest | None],
    *,
    attempts: int = UPDATE_ATTEMPTS,
) -> StoredManifest:
    """Read, apply ``change``, write back conditionally; on a lost race, start over.

    ``change`` gets a private copy (creating the manifest if the run has none yet) and returns
    the new document or edits it in place. It may run several times, so it must be a pure edit
    of what it is given. If it changes nothing, nothing is written.
    """
    for attempt in range(attempts):
        stored = read_manifest(s3, bucket, run_id)
        current = stored.manifest if stored else ReleaseManifest(run_id=run_id)
        draft = current.model_copy(deep=True)
        draft = change(draft) or draft
        if stored and draft == stored.manifest:
            return stored
        draft.updated_at = now_iso()
        try:
            etag = _put(s3, bucket, draft, stored.etag if stored else None)
        except ClientError as err:
            if not is_conflict(err):
                raise
            _backoff(attempt)
            continue
        return StoredManifest(draft, etag)
    raise ReleaseManifestError(
        f"s3://{bucket}/{manifest_key(run_id)} kept changing under {attempts} attempts to update "
        "it; another writer is looping — find it before retrying"
    )


def add_section(s3: Any, bucket: str, run_id: str, name: str, value: Any) -> ReleaseManifest:
    """Set one section of the run's manifest (``invalidations`` merges key by key).

    Safe to call from tasks running at the same time: each only touches its own section, and
    the conditional write makes the read-modify-write atomic.
    """
    if name not in SECTIONS:
        raise ReleaseManifestError(
            f"unknown manifest section {name!r}; the sections are {', '.join(SECTIONS)}"
        )
    model = SECTIONS[name]
    if model is None:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ReleaseManifestError(
                "the invalidations section maps distribution id -> invalidation id (strings)"
            )
        validated: Any = dict(value)
    else:
        validated = value if isinstance(value, model) else model.model_validate(value)

    def put_section(manifest: ReleaseManifest) -> None:
        if model is None:
            manifest.invalidations = {**(manifest.invalidations or {}), **validated}
        else:
            setattr(manifest, name, validated.model_copy(deep=True))

    return update_manifest(s3, bucket, run_id, put_section).manifest


def record_invalidation(
    s3: Any, bucket: str, run_id: str, distribution_id: str, invalidation_id: str
) -> ReleaseManifest:
    return add_section(s3, bucket, run_id, "invalidations", {distribution_id: invalidation_id})


# --- the LATEST pointer ---------------------------------------------------------------------------


def mark_latest(s3: Any, bucket: str, run_id: str, *, attempts: int = UPDATE_ATTEMPTS) -> None:
    """Point ``releases/LATEST`` at ``run_id`` (compare-and-swap, so two releases finishing
    together serialise and the one applied last is the one named)."""
    body = check_run_id(run_id).encode()
    for attempt in range(attempts):
        try:
            got = s3.get_object(Bucket=bucket, Key=LATEST_POINTER_KEY)
        except ClientError as err:
            if not is_missing(err):
                raise
            condition: dict[str, str] = {"IfNoneMatch": "*"}
        else:
            if got["Body"].read() == body:
                return
            condition = {"IfMatch": got["ETag"]}
        try:
            s3.put_object(
                Bucket=bucket,
                Key=LATEST_POINTER_KEY,
                Body=body,
                ContentType="text/plain",
                CacheControl=headers.PRIVATE_CACHE_CONTROL,
                **condition,
            )
        except ClientError as err:
            if not is_conflict(err):
                raise
            _backoff(attempt)
            continue
        return
    raise ReleaseManifestError(
        f"s3://{bucket}/{LATEST_POINTER_KEY} kept changing under {attempts} attempts; "
        "several releases are finishing at once — rerun this one when they are done"
    )


def latest_run_id(s3: Any, bucket: str) -> str | None:
    try:
        got = s3.get_object(Bucket=bucket, Key=LATEST_POINTER_KEY)
    except ClientError as err:
        if is_missing(err):
            return None
        raise
    return got["Body"].read().decode().strip() or None


def latest_release(s3: Any, bucket: str) -> ReleaseManifest | None:
    """The manifest of the release whose content was applied last, or None before the first.

    Found through ``releases/LATEST`` (written by the promotion once its copies are done).
    """
    run_id = latest_run_id(s3, bucket)
    if run_id is None:
        return None
    stored = read_manifest(s3, bucket, run_id)
    if stored is None:
        raise ReleaseManifestError(
            f"s3://{bucket}/{LATEST_POINTER_KEY} names run {run_id!r} but "
            f"s3://{bucket}/{manifest_key(run_id)} does not exist; the manifest was removed — "
            "restore it from its versions or release again"
        )
    return stored.manifest


def manifest_as_json(manifest: ReleaseManifest) -> dict[str, Any]:
    """A plain dict (JSON types only) of the manifest, for XCom or a report."""
    return json.loads(manifest.to_json_bytes())

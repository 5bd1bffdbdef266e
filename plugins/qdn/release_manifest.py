"""The release manifest: what one release or rollback run changed, so it can be undone and verified.

One object per run, ``releases/<run-id>.json``. Several tasks of the same run write to it (the
function publish, the pointer switch, the job upload, the invalidation), some of them at the same
time, so every write goes through ``qdn.conditional_write`` and a writer never loses another's
section; a retried task finds what its first attempt wrote.

``releases/HISTORY.json`` lists the recent switches of the live pointer, newest first: which run
made which build live, what was live before, and the function it ran with. The nightly check
reads its head to know what production must hold, the rollback offers its entries as targets, and
the build retention keeps the builds it names — one small object instead of a listing of every
manifest (run ids do not sort by time).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qdn import config
from qdn.conditional_write import (
    ConditionalWriteError,
    create_object,
    read_with_etag,
    update_object,
)

MANIFEST_SCHEMA = 2
HISTORY_KEY = config.RELEASES_PREFIX + "HISTORY.json"
# Function code every release ran with, by content hash, so a rollback can republish it.
FUNCTION_CODE_PREFIX = config.RELEASES_PREFIX + "functions/"
# Entries kept in the history: five times the builds retained, so the rollback form still shows
# where older releases went even after their builds expired.
HISTORY_MAX_ENTRIES = 5 * config.KEEP_RELEASES


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


class ContentSection(_Strict):
    """The switch of the live pointer: enough to move it back, and to verify what is live."""

    kind: Literal["release", "rollback"] = "release"
    build_before: str | None = None
    build_after: str
    kvs_arn: str
    pointer_etag_before: str | None = None
    pointer_etag_after: str | None = None
    # The build was checked complete before the switch: its manifest and one listing agreed.
    verified_files: int = 0
    planned_at: str = Field(default_factory=lambda: now_iso())
    switched_at: str | None = None
    # Builds the retention rules expire after this run (neither live nor recent).
    expiring_builds: list[str] = Field(default_factory=list)


class FunctionSection(BaseModel):
    """The function publish's record; open to extra fields the publish step wants to keep."""

    model_config = ConfigDict(extra="allow")

    name: str = config.FUNCTION_NAME
    published: bool = False
    previous_live_etag: str | None = None
    previous_live_sha256: str | None = None
    new_live_etag: str | None = None
    # LIVE's code after the run (published or not): what a rollback to this run republishes.
    live_sha256: str | None = None
    # The build the LIVE code serves when the store cannot be read; retention keeps it.
    fallback_build: str | None = None


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
    schema_version: Literal[2] = MANIFEST_SCHEMA
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


def _parse_manifest(body: bytes, where: str) -> ReleaseManifest:
    try:
        return ReleaseManifest.model_validate_json(body)
    except ValueError as err:
        raise ReleaseManifestError(
            f"{where} is not a valid release manifest ({err}); it was written by something else "
            "or edited by hand — fix or move it before retrying the run"
        ) from err


def read_manifest(s3: Any, bucket: str, run_id: str) -> StoredManifest | None:
    """The run's manifest and its ETag, or None if the run has written none yet."""
    key = manifest_key(run_id)
    body, etag = read_with_etag(s3, bucket, key)
    if body is None or etag is None:
        return None
    return StoredManifest(_parse_manifest(body, f"s3://{bucket}/{key}"), etag)


def update_manifest(
    s3: Any,
    bucket: str,
    run_id: str,
    change: Callable[[ReleaseManifest], ReleaseManifest | None],
) -> StoredManifest:
    """Read, apply ``change``, write back conditionally; on a lost race, start over.

    ``change`` gets a private copy (creating the manifest if the run has none yet) and returns
    the new document or edits it in place. It may run several times, so it must be a pure edit
    of what it is given. If it changes nothing, nothing is written.
    """
    key = manifest_key(run_id)

    def edit(body: bytes | None) -> bytes | None:
        current = (
            _parse_manifest(body, f"s3://{bucket}/{key}")
            if body is not None
            else ReleaseManifest(run_id=run_id)
        )
        draft = current.model_copy(deep=True)
        draft = change(draft) or draft
        if body is not None and draft == current:
            return None
        draft.updated_at = now_iso()
        return draft.to_json_bytes()

    try:
        updated = update_object(s3, bucket, key, edit)
    except ConditionalWriteError as err:
        raise ReleaseManifestError(str(err)) from err
    # edit() always creates a missing manifest
    assert updated.body is not None and updated.etag is not None
    return StoredManifest(_parse_manifest(updated.body, key), updated.etag)


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


# --- the history of switches ----------------------------------------------------------------------


class HistoryEntry(_Strict):
    """One switch of the live pointer, as the rollback form and the retention see it."""

    run_id: str
    kind: Literal["release", "rollback"] = "release"
    build_id: str
    previous_build: str | None = None
    function_sha256: str | None = None
    fallback_build: str | None = None
    # Builds whose folders the pages of build_id load assets from (their pinned URLs).
    asset_builds: list[str] = Field(default_factory=list)
    switched_at: str = Field(default_factory=lambda: now_iso())

    def line(self) -> str:
        return (
            f"{self.switched_at} {self.kind} {self.run_id}: {self.build_id} "
            f"(was {self.previous_build or 'nothing'})"
        )


class History(_Strict):
    releases: list[HistoryEntry] = Field(default_factory=list)  # newest first


def read_history(s3: Any, bucket: str) -> History:
    body, _ = read_with_etag(s3, bucket, HISTORY_KEY)
    if body is None:
        return History()
    try:
        return History.model_validate_json(body)
    except ValidationError as err:
        raise ReleaseManifestError(
            f"s3://{bucket}/{HISTORY_KEY} is not a release history ({err}); restore its previous "
            "version (the bucket is versioned) before releasing"
        ) from err


def record_switch(s3: Any, bucket: str, entry: HistoryEntry) -> History:
    """Put ``entry`` at the head of the history; a retry of the same run replaces its own entry."""

    def edit(body: bytes | None) -> bytes | None:
        history = History.model_validate_json(body) if body else History()
        head = history.releases[0] if history.releases else None
        if head and head.model_dump(exclude={"switched_at"}) == entry.model_dump(
            exclude={"switched_at"}
        ):
            return None
        kept = [e for e in history.releases if e.run_id != entry.run_id]
        history.releases = [entry, *kept][:HISTORY_MAX_ENTRIES]
        return history.model_dump_json(indent=1).encode()

    try:
        body = update_object(s3, bucket, HISTORY_KEY, edit).body
    except ConditionalWriteError as err:
        raise ReleaseManifestError(str(err)) from err
    return History.model_validate_json(body) if body else History()


def latest_run_id(s3: Any, bucket: str) -> str | None:
    history = read_history(s3, bucket)
    return history.releases[0].run_id if history.releases else None


def latest_release(s3: Any, bucket: str) -> ReleaseManifest | None:
    """The manifest of the run that switched the pointer last, or None before the first."""
    run_id = latest_run_id(s3, bucket)
    if run_id is None:
        return None
    stored = read_manifest(s3, bucket, run_id)
    if stored is None:
        raise ReleaseManifestError(
            f"s3://{bucket}/{HISTORY_KEY} names run {run_id!r} but "
            f"s3://{bucket}/{manifest_key(run_id)} does not exist; the manifest was removed — "
            "restore it from its versions or release again"
        )
    return stored.manifest


# --- function code by hash ------------------------------------------------------------------------


def function_code_key(sha256: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise ReleaseManifestError(f"{sha256!r} is not a sha256 of function code")
    return f"{FUNCTION_CODE_PREFIX}{sha256}.js"


def keep_function_code(s3: Any, bucket: str, code: bytes) -> str:
    """Keep ``code`` by its hash (once: a key that exists already holds these bytes), so any
    release or rollback can republish the function it ran. Returns the key."""
    key = function_code_key(hashlib.sha256(code).hexdigest())
    create_object(s3, bucket, key, code, content_type="text/javascript")
    return key


def manifest_as_json(manifest: ReleaseManifest) -> dict[str, Any]:
    """A plain dict (JSON types only) of the manifest, for XCom or a report."""
    return json.loads(manifest.to_json_bytes())

"""Release and rollback are the same act: make one complete build live by writing the pointer.

``plan_switch`` only reads. It makes sure the target build is complete — its manifest exists and
one listing of its folder agrees with it, file by file (size and ETag) — reads the pointer with the
store's ETag, and returns the plan:

1. ``record``: the run's manifest gets the switch it is about to make (build before and after,
   the store's ETag), so a crash after the write still leaves the previous build on record;
2. ``switch``: PutKey ``live`` with ``IfMatch`` — the one write that changes what customers see;
   every edge follows within the store's propagation time, each build under its own cache keys;
3. ``finish``: the manifest gets the time and the new ETag, the history gets the entry;
4. ``expire``: the lifecycle rules for builds no recent release needs (``qdn.retention``).

A retry finds the pointer already at the target with its own first attempt on record and only
finishes the bookkeeping; a release of the build already live plans nothing at all. Nothing here
reads an object per file: a build of 2,000 files costs its manifest and two listing pages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from qdn import config, release_manifest, retention, staging
from qdn.live_pointer import PointerState, read_pointer, write_pointer
from qdn.plan import Action, Plan
from qdn.release_manifest import ContentSection, HistoryEntry, now_iso

# A failure message lists this many problems, then a count: enough to see the pattern.
MAX_SHOWN = 20

Kind = Literal["release", "rollback"]


class SwitchError(RuntimeError):
    """The switch refused; the message says what is wrong and what to do. Nothing was written."""


def shown(items: list[str], limit: int = MAX_SHOWN) -> str:
    head = "; ".join(items[:limit])
    return head + (f"; and {len(items) - limit} more" if len(items) > limit else "")


def verify_build(s3: Any, bucket: str, build_id: str) -> staging.BuildManifest:
    """The build's manifest, once one listing of its folder proved every file is as recorded."""
    try:
        manifest = staging.read_build_manifest(s3, build_id, bucket)
    except staging.StagingError as err:
        raise SwitchError(f"build {build_id} cannot be made live: {err}") from None
    if "index.html" not in manifest.files:
        raise SwitchError(
            f"build {build_id} has no index.html in its manifest: every route serves the shell; "
            "stage the site again"
        )
    listed = staging.list_known_prefix(s3, bucket, staging.build_prefix(build_id), manifest.files)
    problems = staging.build_problems(manifest, listed)
    if problems:
        raise SwitchError(
            f"build {build_id} is incomplete: s3://{bucket}/{staging.build_prefix(build_id)} "
            f"does not match its manifest ({len(problems)} problem(s): {shown(problems)}); "
            "nothing was switched — stage the site again to get a complete build"
        )
    return manifest


@dataclass
class SwitchFacts:
    """What the plan found and what applying it did; small enough for XCom."""

    run_id: str
    kind: Kind
    build_id: str
    build_before: str | None
    kvs_arn: str
    pointer_etag: str
    verified_files: int = 0
    expiring: list[str] = field(default_factory=list)
    function_sha256: str | None = None
    fallback_build: str | None = None
    switched: bool = False
    pointer_etag_after: str | None = None

    def summary(self) -> str:
        if not self.switched:
            return f"build {self.build_id} was already live; the pointer was not written"
        return (
            f"{self.kind}: live pointer {self.build_before or '(none)'} -> {self.build_id} in "
            f"{self.kvs_arn} (ETag {self.pointer_etag} -> {self.pointer_etag_after}), "
            f"{self.verified_files} files verified; {len(self.expiring)} old build(s) set to expire"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_switch(
    s3: Any,
    kvs: Any,
    bucket: str,
    *,
    kvs_arn: str,
    run_id: str,
    build_id: str,
    kind: Kind = "release",
    function_sha256: str | None = None,
    fallback_build: str | None = None,
    step: str = "promote_content",
) -> tuple[Plan, SwitchFacts]:
    staging.check_build_id(build_id)
    pointer = read_pointer(kvs, kvs_arn, config.LIVE_POINTER_KEY)
    stored = release_manifest.read_manifest(s3, bucket, run_id)
    ours = stored.manifest.content if stored else None
    facts = SwitchFacts(
        run_id=run_id,
        kind=kind,
        build_id=build_id,
        build_before=pointer.value,
        kvs_arn=kvs_arn,
        pointer_etag=pointer.etag,
        function_sha256=function_sha256,
        fallback_build=fallback_build,
    )
    actions: list[Action] = []
    if pointer.value == build_id:
        if not (ours and ours.build_after == build_id and ours.switched_at is None):
            checked = f"the pointer in {kvs_arn} already names {build_id} (ETag {pointer.etag})"
            return Plan(step, checked=(checked,)), facts
        # This run's first attempt wrote the pointer and stopped before its bookkeeping.
        facts.build_before = ours.build_before
        facts.verified_files = ours.verified_files
        facts.switched = True
        facts.pointer_etag_after = pointer.etag
        manifest = staging.read_build_manifest(s3, build_id, bucket)
        checked = f"the pointer already names {build_id}: this run switched it, finishing up"
    else:
        manifest = verify_build(s3, bucket, build_id)
        facts.verified_files = len(manifest.files)
        checked = (
            f"build {build_id} complete: {len(manifest.files)} files match its manifest "
            f"(staged {manifest.staged_at}); live now {pointer.value or '(none)'}"
        )
        section = ContentSection(
            kind=kind,
            build_before=pointer.value,
            build_after=build_id,
            kvs_arn=kvs_arn,
            pointer_etag_before=pointer.etag,
            verified_files=facts.verified_files,
        )
        actions += [
            Action(
                "record",
                f"record the switch in s3://{bucket}/{release_manifest.manifest_key(run_id)}",
                {"section": section},
            ),
            Action(
                "switch",
                f"write {config.LIVE_POINTER_KEY} = {build_id} (was "
                f"{pointer.value or '(none)'}) in {kvs_arn} with IfMatch {pointer.etag}",
                {"pointer": pointer, "build_id": build_id},
            ),
        ]
    entry = HistoryEntry(
        run_id=run_id,
        kind=kind,
        build_id=build_id,
        previous_build=facts.build_before,
        function_sha256=function_sha256,
        fallback_build=fallback_build,
        asset_builds=sorted(manifest.asset_builds - {build_id}),
    )
    actions.append(
        Action(
            "finish",
            f"add {kind} {run_id} ({facts.build_before or '(none)'} -> {build_id}) to "
            f"s3://{bucket}/{release_manifest.HISTORY_KEY}",
            {"entry": entry},
        )
    )
    history = release_manifest.read_history(s3, bucket)
    history.releases = [entry, *(e for e in history.releases if e.run_id != run_id)]
    keep = retention.kept_builds(
        history,
        live=build_id,
        also=(fallback_build, staging.read_latest(s3, bucket), *manifest.asset_builds),
    )
    facts.expiring = retention.expiring_builds(retention.list_builds(s3, bucket), keep)
    current_rules = retention.read_rules(s3, bucket)
    rules = retention.desired_rules(current_rules, facts.expiring)
    if retention.rules_differ(current_rules, rules):
        actions.append(
            Action(
                "expire",
                f"set s3://{bucket} lifecycle: {len(facts.expiring)} build(s) expire "
                f"({shown(facts.expiring, 5) or 'none'}); {len(keep)} kept",
                {"rules": rules},
            )
        )
    return Plan(step, tuple(actions), checked=(checked,)), facts


class Switcher:
    """The handlers that apply a switch plan (``qdn.plan.ApplyExecutor``)."""

    def __init__(self, s3: Any, kvs: Any, bucket: str, facts: SwitchFacts) -> None:
        self.s3 = s3
        self.kvs = kvs
        self.bucket = bucket
        self.facts = facts

    def handlers(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "switch": self.switch,
            "finish": self.finish,
            "expire": self.expire,
        }

    def record(self, section: ContentSection) -> None:
        """The switch about to be made; and, when the publish step published nothing (so wrote
        no section), the function the build runs with, so the manifest alone says both."""

        def put(manifest: release_manifest.ReleaseManifest) -> None:
            manifest.content = section.model_copy(deep=True)
            if manifest.function is None and self.facts.function_sha256:
                manifest.function = release_manifest.FunctionSection(
                    live_sha256=self.facts.function_sha256,
                    fallback_build=self.facts.fallback_build,
                )

        release_manifest.update_manifest(self.s3, self.bucket, self.facts.run_id, put)

    def switch(self, pointer: PointerState, build_id: str) -> None:
        self.facts.pointer_etag_after = write_pointer(self.kvs, pointer, build_id)
        self.facts.switched = True

    def finish(self, entry: HistoryEntry) -> None:
        def done(manifest: release_manifest.ReleaseManifest) -> None:
            if manifest.content is not None and manifest.content.switched_at is None:
                manifest.content.switched_at = now_iso()
                manifest.content.pointer_etag_after = self.facts.pointer_etag_after
                manifest.content.expiring_builds = list(self.facts.expiring)

        release_manifest.update_manifest(self.s3, self.bucket, self.facts.run_id, done)
        release_manifest.record_switch(self.s3, self.bucket, entry)

    def expire(self, rules: list[dict[str, Any]]) -> None:
        retention.put_rules(self.s3, self.bucket, rules)

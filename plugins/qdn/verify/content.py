"""The nightly check of the live content: the pointer names the build the last release (or
rollback) made live, and that build's objects are exactly its manifest, by content hash.

Both come from one pointer read, one history read, one manifest read and one listing of the
build's folder: never one request per object, whatever the size of the site.
"""

from __future__ import annotations

from typing import Any

from qdn import config, staging
from qdn.live_pointer import kvs_arn, read_pointer
from qdn.release_manifest import read_history
from qdn.verify.result import CheckResult


def check_content(s3: Any, cloudfront: Any, kvs: Any, bucket: str) -> CheckResult:
    result = CheckResult("content")
    arn = kvs_arn(cloudfront, config.KVS_NAME)
    live = read_pointer(kvs, arn, config.LIVE_POINTER_KEY).value
    history = read_history(s3, bucket)
    if not history.releases:
        result.problems.append(f"{bucket} has no release history: nothing says what should be live")
        return result
    last = history.releases[0]
    if live != last.build_id:
        result.problems.append(
            f"the live pointer names {live or '(nothing)'} but the last {last.kind} (run "
            f"{last.run_id}) made {last.build_id} live: the pointer was moved outside a release; "
            "release or roll back to put it right"
        )
    if not live:
        return result
    try:
        manifest = staging.read_build_manifest(s3, live, bucket)
    except staging.StagingError as err:
        result.problems.append(f"the live build {live} has no usable manifest: {err}")
        return result
    listed = staging.list_prefix(s3, bucket, staging.build_prefix(live))
    drift = staging.build_problems(manifest, listed)
    if drift:
        result.problems.append(
            f"{len(drift)} object(s) of the live build {live} differ from its manifest outside a "
            f"release: {', '.join(drift)}"
        )
    result.notes.append(f"live build {live}, {len(manifest.files)} files as recorded")
    return result

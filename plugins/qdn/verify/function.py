"""The nightly check of the CloudFront Function: LIVE runs the repo's code, the code the last
release recorded, with the live pointer's store and the runtime the code is written for.

The function routes every viewer request, so a hand edit published in the console changes the
whole site without a gate, a manifest or a way back. What LIVE should run is known twice: the
repo's ``cf/`` (the code, fallback placeholder and all) and the release history (the sha256 of the
exact bytes a release left in LIVE). DEVELOPMENT is only where the next publish starts from, so a
difference there is a warning: someone is trying something, nothing is served from it.

A handful of requests whatever happens: the code and summary of each stage, one history read, the
store's ARN, and one HEAD of the kept code when LIVE is not what the history recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from qdn import config
from qdn.function_release import canonical, diff_summary, fallback_of, sha256_hex
from qdn.hooks.function_calls import FunctionClient
from qdn.live_pointer import PointerError, kvs_arn
from qdn.release_manifest import History, function_code_key, read_history
from qdn.s3_errors import error_code, object_exists
from qdn.verify.result import CheckResult

# Enough of a sha256 to tell two versions apart in a message (as the release's own log lines do).
SHA_SHOWN = 12

RELEASE = "release from the repo with qdn_release"
ROLLBACK = "roll back with qdn_rollback"


def check_function(cloudfront: Any, s3: Any, bucket: str, cf_dir: Path) -> CheckResult:
    result = CheckResult("function")
    name = config.FUNCTION_NAME
    api = FunctionClient(cloudfront)
    try:
        live_code, live_etag = api.get_function_code(name, "LIVE")
        live_summary, _ = api.describe_function(name, "LIVE")
    except ClientError as err:
        if error_code(err) != "NoSuchFunctionExists":
            raise
        result.problems.append(
            f"function {name} has no LIVE stage (or does not exist): every distribution's "
            f"viewer requests have nothing to route them; {RELEASE} (or run the bootstrap)"
        )
        return result
    live_sha = sha256_hex(live_code)
    live = f"function {name} LIVE (ETag {live_etag}, sha256 {live_sha[:SHA_SHOWN]})"

    source_path = cf_dir / f"{name}.js"
    source = source_path.read_bytes()
    if canonical(live_code) == source:
        result.notes.append(f"{live} runs the repo's {source_path.name}")
    else:
        changed = diff_summary(source, canonical(live_code))
        result.problems.append(
            f"{live} is not the repo's {source_path.name} ({changed} against the repo): the repo "
            "has changes no release published yet, or LIVE was changed by hand (then this check "
            f"also says it was published outside a release); {RELEASE} or {ROLLBACK}"
        )
    if fallback_of(live_code) is None:
        result.problems.append(
            f"{live} has no fallback build compiled in: if the store cannot be read no page is "
            f"served; {RELEASE} (it compiles in the live build)"
        )
    _check_recorded(result, s3, bucket, live, live_sha)
    _check_config(result, cloudfront, live, live_summary)

    dev_code, dev_etag = api.get_function_code(name, "DEVELOPMENT")
    if dev_code != live_code:
        dev_sha = sha256_hex(dev_code)[:SHA_SHOWN]
        dev = f"function {name} DEVELOPMENT (ETag {dev_etag}, sha256 {dev_sha})"
        result.warnings.append(
            f"{dev} differs from LIVE ({diff_summary(live_code, dev_code)}): someone is trying a "
            "change; nothing serves it, and the next release replaces it"
        )
    return result


def _check_recorded(result: CheckResult, s3: Any, bucket: str, live: str, live_sha: str) -> None:
    """LIVE against the sha256 the last switch recorded.

    The bootstrap's entry records none, and a release with promotion off publishes without a
    switch; both keep the code they published under ``releases/functions/``, so LIVE code found
    there came from a run of ours, and code found nowhere was published by hand.
    """
    history: History = read_history(s3, bucket)
    head = history.releases[0] if history.releases else None
    recorded = head.function_sha256 if head else None
    if head is not None and recorded == live_sha:
        result.notes.append(f"the last {head.kind} (run {head.run_id}) left this code in LIVE")
        return
    key = function_code_key(live_sha)
    kept = f"s3://{bucket}/{key}"
    if head is None:
        said = f"s3://{bucket} has no release history"
    elif recorded is None:
        said = f"the last switch (run {head.run_id}) recorded no function"
    else:
        said = f"the last {head.kind} (run {head.run_id}) left sha256 {recorded[:SHA_SHOWN]}"
    if not object_exists(s3, bucket, key):
        result.problems.append(
            f"{live} was published outside a release: {said}, and no run kept this code at "
            f"{kept}; {RELEASE} or {ROLLBACK}"
        )
    elif recorded is None:
        result.notes.append(f"{said}; LIVE runs the code kept at {kept}")
    else:
        result.warnings.append(
            f"{live} is not what the history says ({said}), but a run kept it at {kept}: a "
            "release published it without promoting a build, or older code was republished by "
            "hand; the next release records it"
        )


def _check_config(result: CheckResult, cloudfront: Any, live: str, summary: dict[str, Any]) -> None:
    """The store association and the runtime: without the store the pointer is never read, and
    every viewer gets the fallback build whatever a release or rollback writes."""
    function_config = summary.get("FunctionConfig", {})
    runtime = function_config.get("Runtime")
    if runtime != config.FUNCTION_RUNTIME:
        result.problems.append(
            f"{live} runs on {runtime}, not {config.FUNCTION_RUNTIME} (the only runtime that reads "
            f"a KeyValueStore): set the runtime back on DEVELOPMENT, then {RELEASE}"
        )
    associations = function_config.get("KeyValueStoreAssociations") or {}
    stores = [i["KeyValueStoreARN"] for i in associations.get("Items") or []]
    try:
        expected = kvs_arn(cloudfront, config.KVS_NAME)
    except PointerError as err:
        result.problems.append(f"{live} cannot read the live pointer: {err}")
        return
    if stores != [expected]:
        result.problems.append(
            f"{live} reads store(s) {', '.join(stores) or '(none)'}, not {config.KVS_NAME} "
            f"({expected}): the live pointer is not read, so releases and rollbacks change "
            f"nothing a viewer sees; {RELEASE} (it publishes with the store associated)"
        )

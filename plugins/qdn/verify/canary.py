"""The nightly canary check: the synthetic canary job's tracking link works end to end on every
edge, as a customer's would (:mod:`qdn.canary` says what the canary is).

Through each edge: ``/track/<token>`` serves the shell of the live build, and
``/api/track/<token>`` the canary's public fields and nothing more (the release's smoke check
judges both answers; this check reuses its judges). In S3: the canary's note, record and token
lookup, because the track API's warm processes remember a token's job and would hide a lost
lookup from the edge until they start cold, when every such link answers "Job not found".

Cost per run: two S3 reads, one HEAD-sized read of the lookup, the pointer, and two requests per
edge, whatever the number of jobs.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from qdn import config
from qdn.canary import CanaryError, read_canary_note
from qdn.jobs import layout
from qdn.jobs.model import redact_token
from qdn.jobs.records import JobRecordInvalid, JobRecords
from qdn.live_pointer import kvs_arn, read_pointer
from qdn.smoke import Expectation, Response, checks_for, http_get
from qdn.verify.result import CheckResult

# What to run when a piece of the canary is gone: ensure_canary writes only what is missing.
_RECREATE = "rerun the bootstrap (qdn.canary.ensure_canary recreates only what is missing)"


def check_canary(
    s3: Any,
    cloudfront: Any,
    kvs: Any,
    bucket: str,
    site_urls: Mapping[str, str],
    *,
    get: Callable[[str], Response] = http_get,
) -> CheckResult:
    result = CheckResult("canary")
    edges = ", ".join(sorted(site_urls)) or "no edge"
    try:
        note = read_canary_note(s3, bucket)
    except CanaryError as err:
        result.problems.append(str(err))
        return result
    if note is None:
        result.problems.append(
            f"no canary at s3://{bucket}/{config.CANARY_KEY}: nothing follows a tracking link "
            f"through {edges}; {_RECREATE}"
        )
        return result
    hint = redact_token(note.token)
    records = JobRecords(s3, bucket)
    try:
        job = records.get(note.job_id)
    except JobRecordInvalid as err:
        result.problems.append(f"the canary's record is invalid: {err}".replace("\n", " "))
        return result
    if job is None:
        result.problems.append(
            f"the canary {note.job_id} has no record at {layout.job_key(note.job_id)}: its link "
            f"/track/{hint} answers not found on {edges}; {_RECREATE}"
        )
        return result
    if not hmac.compare_digest(job.token.encode(), note.token.encode()):
        result.problems.append(
            f"the canary's record {layout.job_key(job.id)} holds another token than "
            f"{config.CANARY_KEY} ({redact_token(job.token)}, not {hint}): one was edited by "
            f"hand; delete {config.CANARY_KEY} and {_RECREATE}"
        )
        return result
    if job.status.is_terminal:
        result.problems.append(
            f"the canary {job.id} is {job.status.value}: archiving will take it once the "
            "retention passes; it must stay scheduled (restore its record from a version)"
        )
    try:
        looked_up = records.job_id_for_token(note.token)
    except JobRecordInvalid as err:
        looked_up = None
        result.problems.append(f"the canary's token lookup is invalid: {err}")
    else:
        if looked_up is None:
            result.problems.append(
                f"the canary {job.id}'s token lookup {layout.token_key(job.token)} is missing: "
                f"/track/{hint} fails on {edges} wherever the track API starts cold (a warm one "
                f"still remembers the token); {_RECREATE}"
            )
        elif looked_up != job.id:
            result.problems.append(
                f"the canary's token lookup {layout.token_key(job.token)} names {looked_up}, not "
                f"{job.id}: /track/{hint} shows another job on {edges}; delete the lookup and "
                f"{_RECREATE}"
            )

    live = read_pointer(kvs, kvs_arn(cloudfront, config.KVS_NAME), config.LIVE_POINTER_KEY).value
    expect = Expectation(build_id=live, token=note.token, job=job.public_view())
    for alias, base in sorted(site_urls.items()):
        root = base.rstrip("/")
        wanted = {f"{root}/track/{note.token}", f"{root}{config.TRACK_API_PREFIX}{note.token}"}
        for label, url, judge in checks_for(base, expect, get):
            if url not in wanted:
                continue
            try:
                problem = judge(get(url), label)
            except OSError as err:
                problem = f"{label}: expected an answer, got a connection error: {err}"
            if problem:
                result.problems.append(
                    f"{alias} {problem}; a customer's tracking link there gets the same answer"
                )
    result.notes.append(
        f"canary {job.id} ({job.status.value}) tracked through {len(site_urls)} edge(s) on "
        f"build {live or '(no live pointer)'}"
    )
    return result

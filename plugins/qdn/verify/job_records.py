"""The nightly check of the job records: every record valid, no id or token twice, every link's
lookup in place and none left over, and the ``data/jobs.json`` export agreeing with the records.

Cost follows the changes, not the history: a record whose ETag the export recorded was validated
when the export was built, so it is checked from the export's copy; only records changed since are
read. The lookups are compared by listing (their keys are the tokens' hashes), never one request
each. A stale export is rebuilt, so the check leaves the export current.

Messages name keys and job ids, never a token or a customer's details.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from qdn import config
from qdn.jobs import layout
from qdn.jobs.export import list_records, read_export, rebuild_export
from qdn.jobs.model import Job, JobStatus, describe_validation_error
from qdn.parallel import parallel
from qdn.verify.result import CheckResult


def check_job_records(s3: Any, bucket: str) -> CheckResult:
    result = CheckResult("job records")
    current = list_records(s3, bucket)
    export = read_export(s3, bucket) or {}
    exported = {job.get("id"): job for job in export.get("jobs", []) if isinstance(job, dict)}
    known = export.get("record_etags", {})

    jobs: dict[str, Job] = {}
    unchanged = [i for i, etag in current.items() if known.get(i) == etag and i in exported]
    for job_id in unchanged:
        _accept(result, jobs, job_id, layout.job_key(job_id), lambda j=job_id: exported[j])
    changed = [job_id for job_id in current if job_id not in jobs and job_id not in unchanged]
    for job_id, body in zip(changed, _bodies(s3, bucket, changed), strict=True):
        _accept(result, jobs, job_id, layout.job_key(job_id), lambda b=body: json.loads(b))

    _no_repeats(result, jobs)
    _lookups_agree(result, s3, bucket, jobs)

    newest = max((job.updated_at for job in jobs.values()), default=None)
    exported_at = _time(export.get("exported_at"))
    stale = (
        not export
        or set(exported) != set(jobs)
        or exported_at is None
        or (newest is not None and newest > exported_at)
    )
    if stale and result.passed:
        report = rebuild_export(s3, bucket)
        result.notes.append(f"export rebuilt ({report.jobs} jobs, {report.read} records read)")
    elif stale:
        result.problems.append(
            f"the export {config.JOBS_KEY} disagrees with the records; not rebuilt while records "
            "are invalid (fix them, then run: python -m qdn.cli jobs export)"
        )
    # The canary (qdn.canary) is validated like any job but is no customer's: counted, it would
    # put a job that never moves into the per-status figures the alarms watch.
    result.counts = dict(
        Counter(job.status.value for job in jobs.values() if job.id != config.CANARY_JOB_ID)
    )
    for status in JobStatus:
        result.counts.setdefault(status.value, 0)
    canary = (
        " (the canary among them, left out of the counts)" if config.CANARY_JOB_ID in jobs else ""
    )
    result.notes.append(
        f"{len(jobs)} records valid{canary}, {len(changed)} read, {len(unchanged)} unchanged "
        "since the export"
    )
    return result


def _time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _accept(result: CheckResult, jobs: dict[str, Job], job_id: str, key: str, data: Any) -> None:
    try:
        job = Job.model_validate(data())
    except (ValueError, ValidationError) as exc:
        reason = (
            describe_validation_error(exc, key)
            if isinstance(exc, ValidationError)
            else f"{key} is not JSON"
        )
        result.problems.append(reason.replace("\n", " "))
        return
    if job.id != job_id:
        result.problems.append(f"{key} holds job {job.id}, not {job_id}")
        return
    jobs[job_id] = job


def _bodies(s3: Any, bucket: str, job_ids: list[str]) -> list[bytes]:
    def read(job_id: str) -> bytes:
        return s3.get_object(Bucket=bucket, Key=layout.job_key(job_id))["Body"].read()

    return parallel(read, job_ids)


def _no_repeats(result: CheckResult, jobs: dict[str, Job]) -> None:
    by_token: dict[str, list[str]] = {}
    for job in jobs.values():
        digest = hashlib.sha256(job.token.encode()).hexdigest()
        by_token.setdefault(digest, []).append(job.id)
    for ids in by_token.values():
        if len(ids) > 1:
            result.problems.append(f"jobs {', '.join(sorted(ids))} share one tracking token")


def _lookups_agree(result: CheckResult, s3: Any, bucket: str, jobs: dict[str, Job]) -> None:
    listed: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=config.JOB_TOKENS_PREFIX
    ):
        listed.update(item["Key"] for item in page.get("Contents", []))
    wanted = {layout.token_key(job.token): job.id for job in jobs.values()}
    for key, job_id in sorted(wanted.items(), key=lambda item: item[1]):
        if key not in listed:
            result.problems.append(f"job {job_id} has no token lookup: its tracking link fails")
    for key in sorted(listed - set(wanted)):
        result.problems.append(f"{key} is a token lookup for no job record")

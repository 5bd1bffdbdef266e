"""Archiving finished jobs: a completed or cancelled job untouched for the retention period
(``config.JOB_RETENTION_DAYS``) moves to ``data/archive/jobs/<id>.json``, its tracking link stops
answering (the track API's exact not-found message) and it leaves the dashboard and the export.

The candidates come from two listings, the completed and cancelled status indexes: each entry is
written when its job enters that status, so its LastModified is when the job finished, and only
entries older than the cutoff are read. The cost follows the jobs that finished in the period, not
the history. Each job's own ``updated_at`` then decides; an entry that is merely old is not enough.

Per job, in this order, each step idempotent so a rerun finishes what a crash left: copy the record
to the archive (create-only), delete the token lookup (the link stops working), delete the index
entries and the record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from qdn import config
from qdn.conditional_write import create_object
from qdn.jobs import layout
from qdn.jobs.model import TERMINAL_STATUSES, Job
from qdn.jobs.records import JobRecords, parse_job

log = logging.getLogger(__name__)


@dataclass
class ArchiveReport:
    cutoff: datetime
    archived: list[str] = field(default_factory=list)
    kept: int = 0  # finished before the cutoff by their index entry, changed since by the record

    def summary(self) -> str:
        return (
            f"archived {len(self.archived)} finished job(s) last changed before "
            f"{self.cutoff.isoformat()}; {self.kept} candidate(s) kept (changed since)"
        )


def archive_finished(
    s3: Any,
    bucket: str,
    *,
    retention_days: int = config.JOB_RETENTION_DAYS,
    now: datetime | None = None,
) -> ArchiveReport:
    if retention_days < 1:
        raise ValueError(
            f"retention_days must be at least 1, got {retention_days}: archiving a job the day it "
            "finishes would break the link a customer was just sent"
        )
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    report = ArchiveReport(cutoff)
    records = JobRecords(s3, bucket)
    for status in sorted(TERMINAL_STATUSES):
        prefix = layout.status_index(status)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["LastModified"] >= cutoff:
                    continue
                job_id = layout.job_id_of_order(item["Key"][len(prefix) :])
                job = records.get(job_id) or _archived_copy(s3, bucket, job_id)
                if job is None:
                    # Neither a record nor an archived copy: an orphan entry; drop it.
                    _delete(s3, bucket, [item["Key"]])
                    continue
                if job.status not in TERMINAL_STATUSES or job.updated_at >= cutoff:
                    report.kept += 1
                    continue
                archive_job(s3, bucket, job)
                report.archived.append(job.id)
    log.info("%s in s3://%s", report.summary(), bucket)
    return report


def archive_job(s3: Any, bucket: str, job: Job) -> None:
    create_object(s3, bucket, layout.archive_key(job.id), job.model_dump_json().encode())
    s3.delete_object(Bucket=bucket, Key=layout.token_key(job.token))
    _delete(s3, bucket, [*layout.all_index_keys(job), layout.job_key(job.id)])
    log.info("archived job %s (%s on %s)", job.id, job.status.value, job.updated_at.date())


def _archived_copy(s3: Any, bucket: str, job_id: str) -> Job | None:
    key = layout.archive_key(job_id)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return parse_job(body, key)


def _delete(s3: Any, bucket: str, keys: list[str]) -> None:
    s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
    )

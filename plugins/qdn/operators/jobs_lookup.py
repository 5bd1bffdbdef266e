"""Find jobs by id, so tokens never travel through XCom (the UI shows XCom to viewers)."""

from __future__ import annotations

from typing import Any

from qdn.jobs import layout
from qdn.jobs.model import Job
from qdn.jobs.records import JobRecords
from qdn.jobs.store import JobNotFound


def jobs_by_id(s3: Any, bucket: str, job_ids: list[str]) -> list[Job]:
    """Each job's record (one GET each, in parallel); a missing one is an error naming it."""
    found = JobRecords(s3, bucket).get_many(job_ids)
    missing = [job_id for job_id, job in zip(job_ids, found, strict=True) if job is None]
    if missing:
        keys = ", ".join(f"s3://{bucket}/{layout.job_key(job_id)}" for job_id in missing)
        raise JobNotFound(f"no job record at {keys} (never created, or archived)")
    return [job for job in found if job is not None]


def tokens_for(s3: Any, bucket: str, job_ids: list[str]) -> list[str]:
    return [job.token for job in jobs_by_id(s3, bucket, job_ids)]

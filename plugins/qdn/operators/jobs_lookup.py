"""Find jobs by id, so tokens never travel through XCom (the UI shows XCom to viewers)."""

from __future__ import annotations

from typing import Any

from qdn.jobs.model import Job
from qdn.jobs.store import JobNotFound, JobStore


def jobs_by_id(s3: Any, bucket: str, job_ids: list[str]) -> list[Job]:
    if not job_ids:
        return []
    store = JobStore(s3, bucket=bucket)
    document, _ = store.read()
    jobs = []
    for job_id in job_ids:
        job = document.find_by_id(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id} is not in {store.url}")
        jobs.append(job)
    return jobs


def tokens_for(s3: Any, bucket: str, job_ids: list[str]) -> list[str]:
    return [job.token for job in jobs_by_id(s3, bucket, job_ids)]

"""Find tokens by job id, so tokens never travel through XCom (the UI shows XCom to viewers)."""

from __future__ import annotations

from typing import Any

from qdn import config
from qdn.jobs.model import Job, JobsDocument


def jobs_by_id(s3: Any, bucket: str, job_ids: list[str]) -> list[Job]:
    if not job_ids:
        return []
    body = s3.get_object(Bucket=bucket, Key=config.JOBS_KEY)["Body"].read()
    doc = JobsDocument.from_json_bytes(body)
    jobs = []
    for job_id in job_ids:
        job = doc.find_by_id(job_id)
        if job is None:
            raise LookupError(f"job {job_id} is not in s3://{bucket}/{config.JOBS_KEY}")
        jobs.append(job)
    return jobs


def tokens_for(s3: Any, bucket: str, job_ids: list[str]) -> list[str]:
    return [job.token for job in jobs_by_id(s3, bucket, job_ids)]

"""``data/jobs.json`` as a derived export: every live job in one file, for ops who read it with
``aws s3 cp`` as in the old manual process. Never a write path: nothing reads it back as truth.

The export says what it is: ``exported_at`` (when it was built), ``source`` (the records it was
built from) and the S3 metadata ``x-amz-meta-qdn-export``, which is how the track API tells a
finished migration from a legacy document still to migrate. It also keeps each record's ETag, so
a rebuild reads again only the records that changed since the last one: a listing of the records
(one request per thousand) plus one GET per changed job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from qdn import config, headers
from qdn.jobs import layout
from qdn.jobs.model import iso_utc
from qdn.jobs.records import JobRecords
from qdn.parallel import parallel
from qdn.s3_errors import is_missing

EXPORT_METADATA_KEY = "qdn-export"
EXPORT_NOTE = (
    "Derived export of data/jobs/, rebuilt by `python -m qdn.cli jobs export`; editing it changes "
    "nothing (the records are the truth)."
)


class ExportError(RuntimeError):
    """The export could not be built; the message says which record and why."""


@dataclass(frozen=True)
class ExportReport:
    key: str
    exported_at: str
    jobs: int
    read: int  # records fetched because they are new or changed since the last export
    reused: int  # records taken from the last export, unchanged by ETag

    def summary(self) -> str:
        return (
            f"exported {self.jobs} job(s) to s3://…/{self.key} at {self.exported_at} "
            f"({self.read} record(s) read, {self.reused} unchanged since the last export)"
        )


def list_records(s3: Any, bucket: str) -> dict[str, str]:
    """``{job id: ETag}`` of every record, from the listing alone."""
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=config.JOBS_PREFIX
    ):
        for item in page.get("Contents", []):
            job_id = layout.job_id_of(item["Key"])
            if job_id is not None:
                found[job_id] = item["ETag"]
    return found


def jobs_json_state(s3: Any, bucket: str) -> Literal["absent", "export", "legacy"]:
    """What ``data/jobs.json`` is, from one HEAD: the export carries its metadata, a legacy
    single document (still to migrate) does not."""
    try:
        head = s3.head_object(Bucket=bucket, Key=config.JOBS_KEY)
    except ClientError as err:
        if is_missing(err):
            return "absent"
        raise
    return "export" if EXPORT_METADATA_KEY in head.get("Metadata", {}) else "legacy"


def read_export(s3: Any, bucket: str) -> dict[str, Any] | None:
    """The current export as plain JSON, or None when ``data/jobs.json`` is absent or legacy."""
    if jobs_json_state(s3, bucket) != "export":
        return None
    body = s3.get_object(Bucket=bucket, Key=config.JOBS_KEY)["Body"].read()
    return json.loads(body)


def rebuild_export(
    s3: Any, bucket: str, *, now: datetime | None = None, order: list[str] | None = None
) -> ExportReport:
    """Rebuild the export from the records.

    Jobs keep the order they had in the last export (or ``order``, the legacy document's, on the
    migration's first export), so an export diffs cleanly against the one before; jobs new since
    are appended oldest first.
    """
    current = list_records(s3, bucket)
    previous = read_export(s3, bucket) or {}
    old_etags: dict[str, str] = previous.get("record_etags", {})
    old_jobs = {job["id"]: job for job in previous.get("jobs", []) if isinstance(job, dict)}
    keep = {
        job_id: old_jobs[job_id]
        for job_id, etag in current.items()
        if old_etags.get(job_id) == etag and job_id in old_jobs
    }
    wanted = [job_id for job_id in current if job_id not in keep]
    records = JobRecords(s3, bucket)
    etags = dict(current)
    fresh: dict[str, Any] = {}
    for job_id, found in zip(wanted, parallel(records.get_with_etag, wanted), strict=True):
        if found is None:  # archived between the listing and the read
            etags.pop(job_id)
            continue
        job, etag = found
        fresh[job_id] = json.loads(job.model_dump_json())
        etags[job_id] = etag
    known = order if order is not None else [job["id"] for job in previous.get("jobs", [])]
    position = {job_id: index for index, job_id in enumerate(known)}
    jobs = sorted(
        {**keep, **fresh}.values(),
        key=lambda job: (position.get(job["id"], len(position)), job["created_at"], job["id"]),
    )
    exported_at = iso_utc(now or datetime.now(UTC))
    body = _document_bytes(
        {
            "schema_version": 1,
            "exported_at": exported_at,
            "source": f"s3://{bucket}/{config.JOBS_PREFIX}",
            "note": EXPORT_NOTE,
            "count": len(jobs),
            "record_etags": {job["id"]: etags[job["id"]] for job in jobs},
        },
        jobs,
    )
    s3.put_object(
        Bucket=bucket,
        Key=config.JOBS_KEY,
        Body=body,
        ContentType="application/json",
        CacheControl=headers.PRIVATE_CACHE_CONTROL,
        Metadata={EXPORT_METADATA_KEY: exported_at},
    )
    return ExportReport(config.JOBS_KEY, exported_at, len(jobs), len(fresh), len(keep))


def _document_bytes(head: dict[str, Any], jobs: list[dict[str, Any]]) -> bytes:
    """One job per line: readable and greppable (``aws s3 cp … - | grep QDN-…``)."""
    opening = json.dumps(head, separators=(",", ":"), ensure_ascii=False)[:-1] + ',"jobs":['
    if not jobs:
        return (opening + "]}\n").encode()
    lines = ",\n".join(json.dumps(job, separators=(",", ":"), ensure_ascii=False) for job in jobs)
    return (opening + "\n" + lines + "\n]}\n").encode()

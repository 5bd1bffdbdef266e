"""Moving a legacy ``data/jobs.json`` (every job in one document) to one record per job, once.

The order keeps every job findable at every moment, by whichever track API is running:

1. the legacy document is validated whole (an invalid one is refused, nothing written) and kept
   as ``data/migrated/jobs-<sha256>.json``;
2. each job gets its record, its token lookup and its index entries, all create-only
   or idempotent, while the legacy document stays in place (an old track API keeps reading it, and
   the new one falls back to it until step 4);
3. the result is proven: as many records as jobs, each record's SHA-256 equal to its job's in the
   document, each token lookup naming its job;
4. only then ``data/jobs.json`` is replaced by the derived export, which marks the migration done.

Running it again is safe: after step 4 it finds an export and does nothing; after a crash it
redoes the create-only writes (finding them done) and finishes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from qdn import config
from qdn.conditional_write import create_object, read_with_etag
from qdn.jobs.export import ExportReport, jobs_json_state, rebuild_export
from qdn.jobs.legacy_document import JobsDocument, JobsDocumentError
from qdn.jobs.model import Job
from qdn.jobs.records import JobRecords
from qdn.jobs.store import import_job
from qdn.parallel import parallel

MIGRATED_PREFIX = config.DATA_PREFIX + "migrated/"


class MigrationError(RuntimeError):
    """The migration stopped; the message says what differs and that the legacy file is intact."""


@dataclass(frozen=True)
class MigrationReport:
    migrated: bool  # False: nothing to migrate (already done, or no legacy document)
    jobs: int = 0
    digest: str = ""  # SHA-256 over every job's own SHA-256, in document order
    backup: str = ""
    export: ExportReport | None = None

    def summary(self) -> str:
        if not self.migrated:
            return f"s3://…/{config.JOBS_KEY} is already the export (or absent): nothing to migrate"
        return (
            f"migrated {self.jobs} job(s) from the legacy {config.JOBS_KEY}: every record's "
            f"sha256 equals its job's, every token lookup names its job (digest "
            f"{self.digest[:16]}…); original kept at {self.backup}; {config.JOBS_KEY} is now the "
            "derived export"
        )


def job_digest(job: Job) -> str:
    return hashlib.sha256(job.model_dump_json().encode()).hexdigest()


def needs_migration(s3: Any, bucket: str) -> bool:
    return jobs_json_state(s3, bucket) == "legacy"


def migrate(s3: Any, bucket: str) -> MigrationReport:
    if not needs_migration(s3, bucket):
        return MigrationReport(migrated=False)
    body, _ = read_with_etag(s3, bucket, config.JOBS_KEY)
    if body is None:
        return MigrationReport(migrated=False)
    try:
        document = JobsDocument.from_json_bytes(body)
    except JobsDocumentError as err:
        raise MigrationError(
            f"s3://{bucket}/{config.JOBS_KEY} cannot be migrated: {err}\nNothing was written; fix "
            "the named fields (or restore its last good version), then run the migration again."
        ) from None
    backup = f"{MIGRATED_PREFIX}jobs-{hashlib.sha256(body).hexdigest()}.json"
    create_object(s3, bucket, backup, body)
    parallel(lambda job: import_job(s3, bucket, job), document.jobs)
    digests = _prove(s3, bucket, document.jobs)
    export = rebuild_export(s3, bucket, order=[job.id for job in document.jobs])
    if export.jobs < len(document.jobs):
        raise MigrationError(
            f"the export holds {export.jobs} jobs, the legacy document {len(document.jobs)}; "
            f"the original is kept at s3://{bucket}/{backup}"
        )
    digest = hashlib.sha256("".join(digests).encode()).hexdigest()
    return MigrationReport(True, len(document.jobs), digest, backup, export)


def _prove(s3: Any, bucket: str, jobs: list[Job]) -> list[str]:
    """Each job's digest, after checking its record and token lookup hold it exactly."""
    records = JobRecords(s3, bucket)

    def check(job: Job) -> str | None:
        stored = records.get(job.id)
        if stored is None:
            return f"{job.id}: record missing"
        # A record the new store changed since step 2 (a status change) is newer, not lost: it
        # must still be the same job, with the same token and creation.
        same_job = (stored.token, stored.created_at) == (job.token, job.created_at)
        if job_digest(stored) != job_digest(job) and not same_job:
            return f"{job.id}: record differs"
        if records.job_id_for_token(job.token) != job.id:
            return f"{job.id}: token lookup missing or naming another job"
        return None

    problems = [p for p in parallel(check, jobs) if p is not None]
    if problems:
        shown = "; ".join(problems[:20]) + (
            f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        )
        raise MigrationError(
            f"{len(problems)} of {len(jobs)} jobs did not migrate intact: {shown}. The legacy "
            f"s3://{bucket}/{config.JOBS_KEY} is untouched; run the migration again."
        )
    return [job_digest(job) for job in jobs]

"""Write the release's customer job into ``jobs.json``, exactly once per run."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook

from qdn import config, release_manifest
from qdn.jobs.model import redact_token
from qdn.jobs.store import AuditIncomplete, JobStore, JobStoreConflict, run_idempotency_key
from qdn.operators.base import BucketOperator, release_params, retry_only_transient


class UpsertJobOperator(BucketOperator):
    """Create the job from the release's params with a conditional write; a retry of the same run
    finds the job it already wrote (same id, same token) instead of minting a second one."""

    def execute(self, context: Any) -> dict[str, Any]:
        params = release_params(context)
        if params.job is None:
            self.log.info("no job in this release: jobs.json left as it is")
            return {"job_ids": []}
        if params.dry_run:
            self.log.info(
                "dry run: would create a %s job at %s on %s (%s %s); nothing written",
                params.job.status.value, params.job.location, params.job.service_date,
                params.job.price, params.job.currency,
            )  # fmt: skip
            return {"job_ids": [], "dry_run": True}
        ti = context["ti"]
        key = run_idempotency_key(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
        # A lost race or a missing audit event can succeed on the next try; nothing else here can.
        with retry_only_transient("upload_job", retryable=(AuditIncomplete, JobStoreConflict)):
            logs = AwsLogsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name).conn
            store = JobStore(self.hook.get_conn(), logs, bucket=self.bucket)
            result = store.create(params.job, idempotency_key=key)
            change = {
                "job_id": result.job.id,
                "token_hint": redact_token(result.job.token),
                "action": "created",
            }
            release_manifest.add_section(
                self.hook.get_conn(), self.bucket, ti.run_id, "jobs", {"changes": [change]}
            )
        job = result.job
        verb = "created" if result.created else "found (already written by this run)"
        self.log.info(
            "%s job %s (token %s, %s, %s) in s3://%s/%s, ETag %s",
            verb, job.id, redact_token(job.token), job.status.value, job.service_date,
            self.bucket, config.JOBS_KEY, result.etag,
        )  # fmt: skip
        return {
            "job_ids": [job.id],
            "token_hints": [redact_token(job.token)],
            "created": result.created,
        }

"""Write the release's customer job as its own record, exactly once per run."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook

from qdn import config, release_manifest
from qdn.jobs import layout
from qdn.jobs.model import NewJob, redact_token
from qdn.jobs.store import AuditIncomplete, JobStore, JobStoreConflict, run_idempotency_key
from qdn.operators.base import BucketOperator, release_params, retry_only_transient
from qdn.plan import Action, Plan, execute, executor_for


class UpsertJobOperator(BucketOperator):
    """Create the job from the release's params with a conditional write; a retry of the same run
    finds the job it already wrote (same id, same token) instead of minting a second one."""

    def execute(self, context: Any) -> dict[str, Any]:
        params = release_params(context)
        if params.job is None:
            self.log.info("no job in this release: no job record written")
            return {"job_ids": []}
        job = params.job
        plan = Plan(
            self.task_id,
            (
                Action(
                    "create_job",
                    f"create a {job.status.value} job at {job.location} on {job.service_date} "
                    f"({job.price} {job.currency}) as s3://{self.bucket}/{config.JOBS_PREFIX}"
                    "<id>.json, with its token lookup, index entries and an audit event",
                    {"job": job},
                ),
            ),
        )
        results = execute(
            plan,
            executor_for(
                params.dry_run, {"create_job": lambda job: self._create(context["ti"], job)}
            ),
        )
        if params.dry_run:
            return {"job_ids": [], "dry_run": True}
        return results[0]

    def _create(self, ti: Any, new_job: NewJob) -> dict[str, Any]:
        key = run_idempotency_key(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
        # A lost race or a missing audit event can succeed on the next try; nothing else here can.
        with retry_only_transient("upload_job", retryable=(AuditIncomplete, JobStoreConflict)):
            logs = AwsLogsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name).conn
            store = JobStore(self.hook.get_conn(), logs, bucket=self.bucket)
            result = store.create(new_job, idempotency_key=key)
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
            "%s job %s (token %s, %s, %s) at s3://%s/%s, ETag %s",
            verb, job.id, redact_token(job.token), job.status.value, job.service_date,
            self.bucket, layout.job_key(job.id), result.etag,
        )  # fmt: skip
        return {
            "job_ids": [job.id],
            "token_hints": [redact_token(job.token)],
            "created": result.created,
        }

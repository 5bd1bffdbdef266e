"""Write the release's customer job as its own record, exactly once per run."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook
from airflow.sdk.exceptions import AirflowFailException

from qdn import config, release_manifest
from qdn.jobs import layout
from qdn.jobs.audit import JOB_REFUSED, JOB_WRITE_FAILED, AuditLog, FailureEvent
from qdn.jobs.audit import Action as AuditAction
from qdn.jobs.model import NewJob, redact_token
from qdn.jobs.store import (
    AuditIncomplete,
    IdempotencyKeyReused,
    InvalidJobInput,
    JobStore,
    JobStoreConflict,
    run_idempotency_key,
)
from qdn.operators.base import BucketOperator, release_params, retry_only_transient
from qdn.plan import Action, Plan, execute, executor_for
from qdn.release_params import JOB_PREFIX, ReleaseParams, ReleaseParamsError

# Refusals of what the run asked for: the same input is refused however often it is retried.
REFUSALS = (InvalidJobInput, IdempotencyKeyReused)


class UpsertJobOperator(BucketOperator):
    """Create the job from the release's params with a conditional write; a retry of the same run
    finds the job it already wrote (same id, same token) instead of minting a second one.

    A job input refused, or a write failed for a reason no retry fixes, is also an audit event
    (``job.refused``, ``job.write_failed``): the audit log group's metric filters count them and
    a failed write alarms (``qdn.monitoring``). A transient failure is left to Airflow's retry.
    """

    def __init__(self, *, log_group: str = config.AUDIT_LOG_GROUP, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log_group = log_group

    def execute(self, context: Any) -> dict[str, Any]:
        ti = context["ti"]
        key = run_idempotency_key(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
        with audit_failures(self._logs, self.log_group, key, self.log):
            params = release_params(context)
            if params.job is None:
                self.log.info("no job in this release: no job record written")
                return {"job_ids": [], "changed_job_ids": []}
            job = params.job
            key = params.job_key(key)
            self.log.info("job idempotency key %s (%s)", key, _key_origin(params))
            plan = Plan(
                self.task_id,
                (
                    Action(
                        "create_job",
                        f"create a {job.status.value} job at {job.location} on "
                        f"{job.service_date} ({job.price} {job.currency}) as "
                        f"s3://{self.bucket}/{config.JOBS_PREFIX}<id>.json, with its token "
                        "lookup, index entries and an audit event",
                        {"job": job},
                    ),
                ),
            )
            results = execute(
                plan,
                executor_for(
                    params.dry_run,
                    {"create_job": lambda job: self._create(context, job, key)},
                ),
            )
        if params.dry_run:
            return {"job_ids": [], "changed_job_ids": [], "dry_run": True}
        return results[0]

    def _logs(self) -> Any:
        return AwsLogsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name).conn

    def _create(self, context: Any, new_job: NewJob, key: str) -> dict[str, Any]:
        ti = context["ti"]
        # A lost race or a missing audit event can succeed on the next try; nothing else here can.
        with retry_only_transient("upload_job", retryable=(AuditIncomplete, JobStoreConflict)):
            store = JobStore(
                self.hook.get_conn(), self._logs(), bucket=self.bucket, log_group=self.log_group
            )
            result = store.create(new_job, idempotency_key=key)
            job = result.job
            # The key outlives the run, so "already there" is either this run's own job (a retry
            # after a crash, which must still invalidate and record it) or an earlier run's
            # (a re-trigger, which must change nothing). The job's creation time tells which.
            ours = result.created or _created_by_this_run(job.created_at, context)
            if ours:
                change = {
                    "job_id": job.id,
                    "token_hint": redact_token(job.token),
                    "action": "created",
                }
                release_manifest.add_section(
                    self.hook.get_conn(), self.bucket, ti.run_id, "jobs", {"changes": [change]}
                )
        if result.created:
            verb = "created"
        elif ours:
            verb = "found (already written by this run)"
        else:
            verb = (
                "already there (created by an earlier run with the same key): nothing written, "
                "nothing to invalidate; set allow_duplicate_job for a deliberate second job -"
            )
        self.log.info(
            "%s job %s (token %s, %s, %s) at s3://%s/%s, ETag %s",
            verb, job.id, redact_token(job.token), job.status.value, job.service_date,
            self.bucket, layout.job_key(job.id), result.etag,
        )  # fmt: skip
        return {
            "job_ids": [job.id],
            # What invalidate evicts: only a job this run wrote can have a cached "not found".
            "changed_job_ids": [job.id] if ours else [],
            "token_hints": [redact_token(job.token)],
            "created": result.created,
            "existed": not ours,
        }


def _key_origin(params: ReleaseParams) -> str:
    if params.allow_duplicate_job:
        return "allow_duplicate_job: this run's own key, a deliberate second job"
    if params.order_reference:
        return f"from order_reference {params.order_reference}"
    return "derived from the job's normalised customer, location, date, price and status"


def _created_by_this_run(created_at: datetime, context: Any) -> bool:
    """A job created once this run had started is this run's (a retry found it); an earlier one
    belongs to another run. Both times come from the same deployment's clocks, and a re-trigger
    starts after the earlier run's job was written, never within the same instant."""
    started = getattr(context.get("dag_run"), "start_date", None)
    return started is None or created_at >= started


@contextlib.contextmanager
def audit_failures(
    logs: Callable[[], Any], log_group: str, key: str, log: logging.Logger
) -> Iterator[None]:
    """Audit a failure that fails the task at once, then let that failure end the task.

    Only ``AirflowFailException`` is audited: it is how a task says "no retry can fix this"
    (``retry_only_transient`` keeps the cause; ``release_params`` raises it ``from None``, which
    leaves the refusal as its context). ``key`` is the job's idempotency key, so the event names
    the job the run meant to write. Writing the event must never hide why the task failed, so a
    failure to write it is logged and the original is re-raised.
    """
    try:
        yield
    except AirflowFailException as err:
        cause = err.__cause__ or err.__context__ or err
        action = _failure_action(cause)
        if action is not None:
            try:
                event = FailureEvent.of(action, cause, idempotency_key=key, at=datetime.now(UTC))
                outcome = AuditLog(logs(), log_group=log_group).record_failure(event)
                log.info("%s: %s", action, outcome.describe())
            except Exception as audit_err:  # the task's own error is raised below
                log.error(
                    "could not write the %s audit event for idempotency key %s (%s); the "
                    "task fails for the reason below, record it by hand if it matters",
                    action, key, audit_err,
                )  # fmt: skip
        raise


def _failure_action(cause: BaseException) -> AuditAction | None:
    """``job.refused`` for a refused job input, ``job.write_failed`` for any other failure of
    the write, None for release parameters refused for something other than the job (no job
    input was refused and nothing was written)."""
    if isinstance(cause, ReleaseParamsError):
        lines = str(cause).splitlines()[1:]
        return JOB_REFUSED if any(line.strip().startswith(JOB_PREFIX) for line in lines) else None
    return JOB_REFUSED if isinstance(cause, REFUSALS) else JOB_WRITE_FAILED

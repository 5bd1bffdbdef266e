"""Publish the CloudFront Function: the release's first step, since it routes everything after."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ClientError

from qdn import config, release_manifest
from qdn.function_cases import FunctionCaseError, load_cases
from qdn.function_release import (
    FunctionFacts,
    FunctionReleaseError,
    Publisher,
    plan_publish,
    sha256_hex,
)
from qdn.hooks.cloudfront import CloudFrontHook
from qdn.jobs.store import run_idempotency_key
from qdn.live_pointer import PointerError
from qdn.operators.base import live_pointer, release_params, retry_only_transient, s3_client
from qdn.operators.jobs import audit_failures
from qdn.plan import Action, Plan, execute, executor_for
from qdn.s3_errors import is_missing


class PublishFunctionOperator(AwsBaseOperator[CloudFrontHook]):
    """Update DEVELOPMENT if the code differs, gate it with ``TestFunction`` on every case in
    ``cf/``, publish it with ``IfMatch`` — or do nothing when LIVE already runs it.

    The code is the repo's (``code_path``, with the build live now compiled in as the fallback),
    or, in a rollback, the code the ``target_task_id`` task names by hash, kept in
    ``releases/functions/<sha256>.js`` by the release that ran it. Every code LIVE ever ran is kept
    there, so any release can be rolled back to. It also validates every release parameter first,
    because it is the first task to write.
    """

    aws_hook_class = CloudFrontHook
    template_fields: Sequence[str] = aws_template_fields("function_name", "code_path", "cf_dir")

    def __init__(
        self,
        *,
        code_path: str,
        cf_dir: str,
        function_name: str = config.FUNCTION_NAME,
        bucket: str = config.BUCKET,
        target_task_id: str | None = None,
        job_task_id: str = "upload_job",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_task_id = job_task_id
        self.code_path = code_path
        self.cf_dir = cf_dir
        self.function_name = function_name
        self.bucket = bucket
        self.target_task_id = target_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        ti = context["ti"]
        # A refused job field stops the run here, before the job task runs: audit it here, under
        # the job's own idempotency key, so the refused-inputs metric counts it.
        job_key = run_idempotency_key(ti.dag_id, ti.run_id, self.job_task_id, ti.map_index)
        logs = AwsLogsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        with audit_failures(lambda: logs.conn, config.AUDIT_LOG_GROUP, job_key, self.log):
            params = release_params(context)
        with retry_only_transient(self.task_id):
            s3 = s3_client(self.aws_conn_id, self.region_name)
            try:
                pointer = live_pointer(self.aws_conn_id, self.region_name)
                code = self._rollback_code(context, s3)
                cases = load_cases(Path(self.cf_dir))  # refuses an empty set
                plan, facts = plan_publish(
                    self.hook,
                    code,
                    source=None if code is not None else Path(self.code_path).read_bytes(),
                    cases=cases,
                    live_build=pointer.value,
                    kvs_arn=pointer.kvs_arn,
                    name=self.function_name,
                    step=self.task_id,
                )
                plan = self._with_kept_code(plan, facts)
                publisher = Publisher(self.hook, facts, cases)
                handlers = {**publisher.handlers(), "keep_code": lambda **a: self._keep(s3, **a)}
                execute(plan, executor_for(params.dry_run, handlers, self.log))
            except (FunctionReleaseError, FunctionCaseError, PointerError) as err:
                raise AirflowFailException(str(err)) from None
            facts.dry_run = params.dry_run
            if facts.published:
                self._record(s3, context["run_id"], facts)
        self.log.info(facts.summary())
        return facts.to_dict()

    def _rollback_code(self, context: Any, s3: Any) -> bytes | None:
        """The code a rollback restores, or None for the repo's (a release, or no change)."""
        if self.target_task_id is None:
            return None
        target = context["ti"].xcom_pull(task_ids=self.target_task_id) or {}
        sha = target.get("function_sha256")
        live_code, _ = self.hook.get_function_code(self.function_name, "LIVE")
        if not sha or sha == sha256_hex(live_code):
            self.log.info("the rollback target ran the function LIVE runs now; it stays")
            return live_code
        key = release_manifest.function_code_key(sha)
        try:
            return s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as err:
            if not is_missing(err):
                raise
            raise FunctionReleaseError(
                f"the rollback target ran function code {sha[:12]}, but s3://{self.bucket}/{key} "
                "is gone; roll back to another release, or restore the object from its versions"
            ) from None

    def _with_kept_code(self, plan: Plan, facts: FunctionFacts) -> Plan:
        """Keep, by hash, the code LIVE runs before the publish and the code it runs after."""
        if plan.is_noop:
            return plan

        def keep(sha256: str, when: str) -> Action:
            key = release_manifest.function_code_key(sha256)
            return Action(
                "keep_code",
                f"keep the code LIVE runs {when} at s3://{self.bucket}/{key}",
                {"sha256": sha256},
            )

        return Plan(
            plan.step,
            (
                keep(facts.previous_live_sha256, "now"),
                *plan.actions,
                keep(facts.code_sha256, "after the publish"),
            ),
            plan.checked,
        )

    def _keep(self, s3: Any, sha256: str) -> None:
        code, _ = self.hook.get_function_code(self.function_name, "LIVE")
        if sha256_hex(code) != sha256:
            raise FunctionReleaseError(
                f"{self.function_name} LIVE changed while the release ran (sha256 "
                f"{sha256_hex(code)[:12]}, planned {sha256[:12]}); someone else published — "
                "rerun the release"
            )
        release_manifest.keep_function_code(s3, self.bucket, code)

    def _record(self, s3: Any, run_id: str, facts: FunctionFacts) -> None:
        release_manifest.add_section(
            s3,
            self.bucket,
            run_id,
            "function",
            {
                "name": facts.name,
                "published": facts.published,
                "previous_live_etag": facts.previous_live_etag,
                "previous_live_sha256": facts.previous_live_sha256,
                "new_live_etag": facts.live_etag,
                "live_sha256": facts.code_sha256,
                "fallback_build": facts.fallback_build,
            },
        )

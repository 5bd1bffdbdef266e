"""Make the release's build live: verify it, then write the pointer (a dry run prints the plan)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException

from qdn import staging
from qdn.live_pointer import PointerConflict, PointerError
from qdn.operators.base import (
    BucketOperator,
    kvs_client,
    live_store_arn,
    release_params,
    retry_only_transient,
)
from qdn.plan import execute, executor_for
from qdn.switch import Switcher, SwitchError, plan_switch


class PromoteContentOperator(BucketOperator):
    """Switch the live pointer to the build: ``params.build_id``, or ``builds/LATEST``, or — for a
    rollback — the build the ``target_task_id`` task resolved.

    The build must be complete (its manifest and one listing of its folder agree); the switch is
    one PutKey with IfMatch, recorded in ``releases/<run-id>.json`` and ``releases/HISTORY.json``.
    Nothing is copied and nothing needs invalidating: the new build has its own cache keys.
    """

    template_fields: Sequence[str] = aws_template_fields("bucket")

    def __init__(
        self,
        *,
        function_task_id: str = "publish_function",
        target_task_id: str | None = None,
        kind: str = "release",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.function_task_id = function_task_id
        self.target_task_id = target_task_id
        self.kind = kind

    def execute(self, context: Any) -> dict[str, Any]:
        params = release_params(context)
        ti = context["ti"]
        if not params.promote and self.target_task_id is None:
            self.log.info("promotion is off for this release: the live build is left as it is")
            return {"promoted": False, "build_id": None}
        function = ti.xcom_pull(task_ids=self.function_task_id) or {}
        # A lost race on the pointer can succeed on the next try, after a fresh read.
        with retry_only_transient(self.task_id, retryable=(PointerConflict,)):
            s3 = self.hook.get_conn()
            kvs = kvs_client(self.aws_conn_id, self.region_name)
            try:
                build_id = self._target(ti, s3, params.build_id)
                plan, facts = plan_switch(
                    s3,
                    kvs,
                    self.bucket,
                    kvs_arn=live_store_arn(self.aws_conn_id, self.region_name),
                    run_id=context["run_id"],
                    build_id=build_id,
                    kind="rollback" if self.kind == "rollback" else "release",
                    function_sha256=function.get("code_sha256"),
                    fallback_build=function.get("fallback_build"),
                    step=self.task_id,
                )
            except PointerConflict:
                raise
            except (SwitchError, staging.StagingError, PointerError) as err:
                raise AirflowFailException(str(err)) from None
            switcher = Switcher(s3, kvs, self.bucket, facts)
            execute(plan, executor_for(params.dry_run, switcher.handlers(), self.log))
        if params.dry_run:
            self.log.info(
                "dry run: %d action(s) planned for %s; nothing written", len(plan.actions), build_id
            )
            return {"promoted": False, "dry_run": True, "build_id": build_id, "plan": plan.lines()}
        self.log.info("%s", facts.summary())
        return {"promoted": facts.switched, **facts.to_dict()}

    def _target(self, ti: Any, s3: Any, requested: str) -> str:
        if self.target_task_id is not None:
            target = (ti.xcom_pull(task_ids=self.target_task_id) or {}).get("build_id")
            if not target:
                raise SwitchError(f"{self.target_task_id} resolved no build to make live")
            return target
        if requested:
            return requested
        latest = staging.read_latest(s3, self.bucket)
        if latest is None:
            raise SwitchError(
                "nothing has been staged (builds/LATEST is missing): run the stage command, "
                "or give build_id"
            )
        return latest

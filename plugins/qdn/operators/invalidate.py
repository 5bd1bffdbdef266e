"""Invalidate the track API paths of the run's jobs on every distribution; wait in the triggerer."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowException

from qdn import config, release_manifest
from qdn.hooks.cloudfront import CloudFrontHook
from qdn.invalidation_paths import invalidation_paths
from qdn.operators.base import release_params, retry_only_transient, s3_client
from qdn.operators.jobs_lookup import tokens_for
from qdn.plan import Action, Plan, execute, executor_for
from qdn.triggers.cloudfront import (
    DEFAULT_WAITER_DELAY,
    DEFAULT_WAITER_MAX_ATTEMPTS,
    CloudFrontInvalidationsCompletedTrigger,
)


def caller_reference(run_id: str, distribution_id: str, paths: list[str]) -> str:
    """Same run, distribution and paths -> same reference, so a retry returns the same invalidation
    instead of paying for a second one; other paths (a changed plan) get a new one."""
    digest = hashlib.sha256("\n".join(paths).encode()).hexdigest()[:16]
    return f"qdn/{run_id}/{distribution_id}/{digest}"


class InvalidateOperator(AwsBaseOperator[CloudFrontHook]):
    """One invalidation per distribution for the track API path of every job the run wrote (a
    404 cached before the job existed is what broke the seed's release), then the wait.

    Content needs none: the pages and assets of each build have their own cache keys.
    """

    aws_hook_class = CloudFrontHook
    template_fields: Sequence[str] = aws_template_fields("bucket", "waiter_delay")

    def __init__(
        self,
        *,
        job_task_id: str = "upload_job",
        bucket: str = config.BUCKET,
        deferrable: bool = True,
        waiter_delay: int | str = DEFAULT_WAITER_DELAY,
        waiter_max_attempts: int = DEFAULT_WAITER_MAX_ATTEMPTS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_task_id = job_task_id
        self.bucket = bucket
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Any) -> dict[str, Any]:
        params = release_params(context)
        self.waiter_delay = int(self.waiter_delay)  # templated from a Variable in the DAG
        jobs = context["ti"].xcom_pull(task_ids=self.job_task_id) or {}
        with retry_only_transient("invalidate"):
            s3 = s3_client(self.aws_conn_id, self.region_name)
            # Only the jobs this run wrote: a job an earlier run created is served already.
            changed = jobs.get("changed_job_ids", [])
            paths = invalidation_paths(tokens_for(s3, self.bucket, changed))
            shown = paths.for_logs()
            if not paths.paths:
                existing = [j for j in jobs.get("job_ids", []) if j not in changed]
                self.log.info(
                    "no job changed%s and content needs no invalidation: none created",
                    f" (job {', '.join(existing)} already existed)" if existing else "",
                )
                return self._finish([])
            targets = self._distribution_ids(params.distributions)
            plan = Plan(
                self.task_id,
                tuple(
                    Action(
                        "invalidate",
                        f"invalidate {len(paths.paths)} path(s) on {dist_id} ({alias}): "
                        + " ".join(shown),
                        {"alias": alias, "dist_id": dist_id},
                    )
                    for alias, dist_id in targets.items()
                ),
            )
            created: list[dict[str, Any]] = []

            def invalidate(alias: str, dist_id: str) -> None:
                ref = caller_reference(context["run_id"], dist_id, paths.paths)
                inv = self.hook.create_invalidation(dist_id, paths.paths, ref)
                release_manifest.record_invalidation(
                    s3, self.bucket, context["run_id"], dist_id, inv["Id"]
                )
                created.append(
                    {
                        "alias": alias,
                        "distribution_id": dist_id,
                        "invalidation_id": inv["Id"],
                        "paths": shown,
                    }
                )
                self.log.info(
                    "invalidation %s on %s (%s): %s", inv["Id"], dist_id, alias, inv.get("Status")
                )

            execute(plan, executor_for(params.dry_run, {"invalidate": invalidate}, self.log))
            if params.dry_run:
                return {"dry_run": True, "paths": shown, "invalidations": []}
        if self.deferrable:
            self.defer(
                trigger=CloudFrontInvalidationsCompletedTrigger(
                    # The event hands these back to execute_complete, aliases and the redacted
                    # paths included, so nothing depends on state kept across the deferral.
                    invalidations=created,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                ),
                method_name="execute_complete",
                # The waiter's own bound, plus a minute of slack for the triggerer to pick it up.
                timeout=timedelta(seconds=self.waiter_delay * self.waiter_max_attempts + 60),
            )
        with retry_only_transient("invalidate (wait)"):
            waiter = self.hook.get_waiter("invalidation_completed")
            for c in created:
                waiter.wait(
                    DistributionId=c["distribution_id"],
                    Id=c["invalidation_id"],
                    WaiterConfig={
                        "Delay": self.waiter_delay,
                        "MaxAttempts": self.waiter_max_attempts,
                    },
                )
        return self.execute_complete(context, {"status": "success", "invalidations": created})

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        created = (event or {}).get("invalidations", [])
        paths = created[0]["paths"] if created else []
        if not event or event.get("status") != "success":
            raise AirflowException(
                f"waiting for the invalidations failed: {(event or {}).get('message')}; "
                f"the invalidations were {created}. Check them with "
                "`aws cloudfront get-invalidation`; the task can be cleared to wait again"
            )
        for c in created:
            self.log.info(
                "invalidation %s on %s (%s) Completed",
                c["invalidation_id"], c["distribution_id"], c["alias"],
            )  # fmt: skip
        return self._finish(created, paths)

    def _finish(
        self, created: list[dict[str, Any]], paths: list[str] | None = None
    ) -> dict[str, Any]:
        ids = ", ".join(f"{c['invalidation_id']} on {c['distribution_id']}" for c in created)
        self.log.info(
            "invalidated %d track API path(s) on %d distribution(s)%s; no content invalidated "
            "(each build has its own cache keys)",
            len(paths or []), len(created), f" ({ids})" if ids else "",
        )  # fmt: skip
        invalidations = [{k: v for k, v in c.items() if k != "paths"} for c in created]
        return {"invalidations": invalidations, "paths": paths or []}

    def _distribution_ids(self, aliases: Sequence[str]) -> dict[str, str]:
        found = {}
        for item in self.hook.list_distributions():
            for alias in (item.get("Aliases") or {}).get("Items") or []:
                found[alias] = item["Id"]
        missing = [a for a in aliases if a not in found]
        if missing:
            raise AirflowException(
                f"no distribution has the alias {', '.join(missing)}; run the bootstrap or fix "
                "the distributions parameter"
            )
        return {a: found[a] for a in aliases}

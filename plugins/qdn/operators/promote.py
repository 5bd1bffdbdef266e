"""Promote a staged build into production: plan, then apply (a dry run stops after the plan)."""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from qdn.operators.base import BucketOperator, release_params, retry_only_transient
from qdn.promotion import PromotionError, apply_promotion, describe, plan_promotion


class PromoteContentOperator(BucketOperator):
    """Copy what changed from ``staging/<build-id>/`` to ``site/`` (assets before HTML), record the
    replaced versions in ``releases/<run-id>.json``, and leave deletions for after invalidation."""

    def execute(self, context: Any) -> dict[str, Any]:
        params = release_params(context)
        if not params.promote:
            self.log.info("promotion is off for this release: production content left as it is")
            return {"promoted": False, "changed_keys": [], "deleted_keys": []}
        with retry_only_transient("promote_content"):
            s3 = self.hook.get_conn()
            try:
                # No build id: the planner promotes the one staging/LATEST names.
                plan = plan_promotion(
                    s3,
                    self.bucket,
                    params.build_id or None,
                    delete_cap=params.delete_cap,
                    allow_mass_delete=params.allow_mass_delete,
                )
            except PromotionError as err:
                raise AirflowFailException(str(err)) from None
            for line in describe(plan, run_id=context["run_id"]):
                self.log.info(("dry run: " if params.dry_run else "plan: ") + line)
            if params.dry_run:
                self.log.info("dry run: %s; nothing copied", plan.summary())
                return {"promoted": False, "dry_run": True, **_keys(plan)}
            result = apply_promotion(s3, self.bucket, plan, run_id=context["run_id"])
        self.log.info("%s", result.summary())
        return {"promoted": True, **_keys(plan), **result.to_xcom()}


def _keys(plan: Any) -> dict[str, Any]:
    return {
        "build_id": plan.build_id,
        "changed_keys": plan.changed_keys(),
        "deleted_keys": plan.deleted_keys(),
    }

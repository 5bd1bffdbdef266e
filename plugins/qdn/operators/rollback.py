"""Resolve a rollback's target before anything is written: the first task of ``qdn_rollback``."""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from qdn import release_manifest
from qdn.live_pointer import PointerError
from qdn.operators.base import (
    BucketOperator,
    live_pointer,
    release_params,
    retry_only_transient,
)
from qdn.rollback import RollbackError, recent, resolve
from qdn.switch import SwitchError, verify_build


class ResolveRollbackOperator(BucketOperator):
    """Turn the form's ``target`` (empty: the previous release; a run id or a build id) into the
    build and function to restore, and refuse at once if that build is missing or incomplete."""

    def execute(self, context: Any) -> dict[str, Any]:
        release_params(context)  # dry_run and distributions, validated as for a release
        target_text = str(context["params"].get("target") or "")
        with retry_only_transient(self.task_id):
            s3 = self.hook.get_conn()
            try:
                history = release_manifest.read_history(s3, self.bucket)
                for line in recent(history):
                    self.log.info("on record: %s", line)
                live = live_pointer(self.aws_conn_id, self.region_name).value
                target = resolve(history, live, target_text)
                manifest = verify_build(s3, self.bucket, target.build_id)
            except (RollbackError, SwitchError, PointerError) as err:
                raise AirflowFailException(f"rollback refused, nothing changed: {err}") from None
        self.log.info(
            "rollback target: %s (%s), %d files verified; function %s; live now %s",
            target.build_id, target.why, len(manifest.files),
            (target.function_sha256 or "unchanged")[:12], live,
        )  # fmt: skip
        return target.to_dict()

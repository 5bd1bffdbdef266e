"""Wait for CloudFront invalidations in the triggerer, so no worker slot is held while they run.

CloudFront takes minutes to complete an invalidation and botocore's ``invalidation_completed``
waiter polls every 20 s. A release invalidates both distributions at once and waits for both here:
the wait costs about the slower of the two, not their sum, and costs no worker at all.
The class lives in ``plugins/`` because a triggerer must import it by its module path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.providers.amazon.aws.utils.waiter_with_logging import async_wait
from airflow.triggers.base import TriggerEvent

from qdn.hooks.cloudfront import CloudFrontHook

# botocore's own waiter: Delay 20, MaxAttempts 30, i.e. up to 10 minutes per invalidation.
DEFAULT_WAITER_DELAY = 20
DEFAULT_WAITER_MAX_ATTEMPTS = 30


class CloudFrontInvalidationsCompletedTrigger(AwsBaseWaiterTrigger):
    """Fires once every listed invalidation is ``Completed``.

    :param invalidations: ``[{"distribution_id": ..., "invalidation_id": ...}, ...]``
    """

    aws_hook_class = CloudFrontHook

    def __init__(
        self,
        *,
        invalidations: list[dict[str, str]],
        waiter_delay: int = DEFAULT_WAITER_DELAY,
        waiter_max_attempts: int = DEFAULT_WAITER_MAX_ATTEMPTS,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            serialized_fields={"invalidations": invalidations},
            waiter_name="invalidation_completed",
            waiter_args={},
            failure_message="CloudFront invalidation failed",
            status_message="CloudFront invalidation status",
            status_queries=["Invalidation.Status"],
            return_key="invalidations",
            return_value=invalidations,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            **kwargs,
        )
        self.invalidations = invalidations

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.hook()
        async with await hook.get_async_conn() as client:
            waiter = hook.get_waiter(self.waiter_name, deferrable=True, client=client)
            for item in self.invalidations:
                where = f"{item['distribution_id']} {item['invalidation_id']}"
                try:
                    await async_wait(
                        waiter,
                        self.waiter_delay,
                        self.attempts,
                        {"DistributionId": item["distribution_id"], "Id": item["invalidation_id"]},
                        f"{self.failure_message} ({where})",
                        f"{self.status_message} {where}",
                        self.status_queries,
                    )
                except Exception as error:  # the task side turns this into a clear failure
                    yield TriggerEvent(
                        {
                            "status": "error",
                            "message": str(error),
                            "invalidations": self.invalidations,
                        }
                    )
                    return
        yield TriggerEvent({"status": "success", "invalidations": self.invalidations})

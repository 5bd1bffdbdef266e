"""A thin CloudFront hook: one AWS call a method, plain values back.

The Amazon provider ships no CloudFront hook. This one follows its thin-hook style so the operators
read as the release steps, not as boto3 plumbing, and so the same calls reach the local CloudFront
(``service_config.cloudfront.endpoint_url`` on the connection) or real AWS unchanged.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from qdn.hooks.function_calls import FunctionCalls


class CloudFrontHook(FunctionCalls, AwsBaseHook):
    """Interact with Amazon CloudFront: functions (``FunctionCalls``), distributions and
    invalidations."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "cloudfront"
        super().__init__(*args, **kwargs)

    # Distributions -----------------------------------------------------------------------------

    def list_distributions(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.conn.get_paginator("list_distributions").paginate():
            items.extend(page.get("DistributionList", {}).get("Items", []) or [])
        return items

    def get_distribution(self, distribution_id: str) -> dict[str, Any]:
        return self.conn.get_distribution(Id=distribution_id)["Distribution"]

    # Invalidations -----------------------------------------------------------------------------

    def create_invalidation(
        self, distribution_id: str, paths: list[str], caller_reference: str
    ) -> dict[str, Any]:
        """The invalidation (``Id``, ``Status``); a repeated reference returns the same one."""
        resp = self.conn.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": paths},
                "CallerReference": caller_reference,
            },
        )
        return resp["Invalidation"]

    def get_invalidation(self, distribution_id: str, invalidation_id: str) -> dict[str, Any]:
        return self.conn.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)[
            "Invalidation"
        ]

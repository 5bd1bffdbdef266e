"""A thin CloudFront hook: one AWS call a method, plain values back.

The Amazon provider ships no CloudFront hook. This one follows its thin-hook style so the operators
read as the release steps, not as boto3 plumbing, and so the same calls reach the local CloudFront
(``service_config.cloudfront.endpoint_url`` on the connection) or real AWS unchanged.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


class CloudFrontHook(AwsBaseHook):
    """Interact with Amazon CloudFront: functions, stores, distributions and invalidations."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "cloudfront"
        super().__init__(*args, **kwargs)

    # Functions ---------------------------------------------------------------------------------

    def describe_function(self, name: str, stage: str) -> tuple[dict[str, Any], str]:
        """The function's summary and the stage's ETag (the ``IfMatch`` for the next write)."""
        resp = self.conn.describe_function(Name=name, Stage=stage)
        return resp["FunctionSummary"], resp["ETag"]

    def get_function_code(self, name: str, stage: str) -> tuple[bytes, str]:
        resp = self.conn.get_function(Name=name, Stage=stage)
        return resp["FunctionCode"].read(), resp["ETag"]

    def update_function(
        self, name: str, code: bytes, function_config: dict[str, Any], if_match: str
    ) -> str:
        """Replace DEVELOPMENT's code and config; returns the new DEVELOPMENT ETag."""
        resp = self.conn.update_function(
            Name=name, IfMatch=if_match, FunctionConfig=function_config, FunctionCode=code
        )
        return resp["ETag"]

    def test_function(self, name: str, if_match: str, event: bytes) -> dict[str, Any]:
        """Run DEVELOPMENT on one event; returns AWS's ``TestResult``."""
        resp = self.conn.test_function(
            Name=name, IfMatch=if_match, Stage="DEVELOPMENT", EventObject=event
        )
        return resp["TestResult"]

    def publish_function(self, name: str, if_match: str) -> dict[str, Any]:
        """Copy DEVELOPMENT to LIVE; returns the function summary."""
        return self.conn.publish_function(Name=name, IfMatch=if_match)["FunctionSummary"]

    # KeyValueStores (control plane) -------------------------------------------------------------

    def describe_key_value_store(self, name: str) -> dict[str, Any]:
        """The store (``ARN``, ``Status``…) by name."""
        return self.conn.describe_key_value_store(Name=name)["KeyValueStore"]

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

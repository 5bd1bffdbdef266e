"""The CloudFront Function calls a publish makes: one AWS call a method, plain values back.

The release reaches them through ``CloudFrontHook`` (an Airflow connection); the bootstrap runs
without Airflow and reaches them through ``FunctionClient`` on a plain boto3 client. Both are the
methods below, so the publish plan and its gate see one behaviour. No Airflow import here.
"""

from __future__ import annotations

from typing import Any


class FunctionCalls:
    """The calls, on ``self.conn`` (a boto3 CloudFront client)."""

    conn: Any

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


class FunctionClient(FunctionCalls):
    """The same calls on a boto3 client made elsewhere."""

    def __init__(self, client: Any) -> None:
        self.conn = client

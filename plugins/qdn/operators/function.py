"""Publish the CloudFront Function: the release's first step, since it routes everything after."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ClientError

from qdn import config, release_manifest
from qdn.function_cases import FunctionCaseError
from qdn.function_release import FunctionOutcome, FunctionReleaseError, release_function
from qdn.hooks.cloudfront import CloudFrontHook
from qdn.operators.base import release_params, retry_only_transient, s3_client
from qdn.s3_errors import is_conflict


class PublishFunctionOperator(AwsBaseOperator[CloudFrontHook]):
    """Update DEVELOPMENT if the repo's code differs, gate it with ``TestFunction`` on every case in
    ``cf/``, publish it with ``IfMatch`` — or do nothing when LIVE already runs the repo's code.

    The previous LIVE code is kept at ``releases/<run-id>/function-previous.js`` for rollback.
    It also validates every release parameter first, because it is the first task to write.
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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.code_path = code_path
        self.cf_dir = cf_dir
        self.function_name = function_name
        self.bucket = bucket

    def execute(self, context: Any) -> dict[str, Any]:
        params = release_params(context)
        with retry_only_transient("publish_function"):
            try:
                outcome = release_function(
                    self.hook,
                    Path(self.code_path),
                    Path(self.cf_dir),
                    name=self.function_name,
                    dry_run=params.dry_run,
                    log=self.log,
                    keep_previous=lambda code: self._keep_previous(context, code),
                )
            except (FunctionReleaseError, FunctionCaseError) as err:
                raise AirflowFailException(str(err)) from None
            if not params.dry_run:
                self._record(context["run_id"], outcome)
        self.log.info(outcome.summary())
        return outcome.to_dict()

    def _record(self, run_id: str, outcome: FunctionOutcome) -> None:
        """The manifest's function section; a retry that finds LIVE already published keeps the
        first attempt's record (it alone knows the code that LIVE ran before)."""
        s3 = s3_client(self.aws_conn_id, self.region_name)
        stored = release_manifest.read_manifest(s3, self.bucket, run_id)
        if not outcome.published and stored and stored.manifest.function:
            return
        section = {
            "name": outcome.name,
            "published": outcome.published,
            "previous_live_etag": outcome.previous_live_etag,
            "previous_live_sha256": outcome.previous_live_sha256,
            "new_live_etag": outcome.live_etag,
            "repo_sha256": outcome.repo_sha256,
        }
        if outcome.published:
            section["previous_code_key"] = previous_code_key(run_id)
        release_manifest.add_section(s3, self.bucket, run_id, "function", section)

    def _keep_previous(self, context: Any, code: bytes) -> None:
        key = previous_code_key(context["run_id"])
        s3 = s3_client(self.aws_conn_id, self.region_name)
        try:
            s3.put_object(
                Bucket=self.bucket, Key=key, Body=code, ContentType="text/javascript",
                IfNoneMatch="*",
            )  # fmt: skip
        except ClientError as err:
            # A retry of this run already kept it: the first attempt's copy is the right one.
            if not is_conflict(err):
                raise
        self.log.info("kept the previous LIVE code at s3://%s/%s", self.bucket, key)


def previous_code_key(run_id: str) -> str:
    return f"{config.RELEASES_PREFIX}{run_id}/function-previous.js"

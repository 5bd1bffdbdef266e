"""The nightly verification's Airflow plumbing: one task per check, then the report.

A check task runs one function of ``qdn.verify.checks.CHECKS`` against production and fails
when that check found drift; its verdict goes to XCom either way, so the report task (which runs
whatever the checks did) can say what every check found, write the run's report and leave one
line for on-call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import TriggerRule
from airflow.sdk.exceptions import AirflowFailException

from qdn import config
from qdn.hooks.cloudfront import CloudFrontHook
from qdn.operators.base import BucketOperator, kvs_client, retry_only_transient
from qdn.operators.smoke import parse_site_urls
from qdn.verify.checks import CHECKS, METRICS, Production
from qdn.verify.metrics import put_failed_checks
from qdn.verify.report import build_report, write_report
from qdn.verify.result import SHOWN

# The XCom key of a check's verdict: pushed before the task fails, so a failed check still
# tells the report what it found.
VERDICT_KEY = "verdict"


class ChecksFailed(AirflowFailException):
    """The report's own failure: some check failed (each failed check already alerted)."""


def aws_clients(aws_conn_id: str | None, region_name: str | None) -> Callable[[str], Any]:
    """boto3 clients of one connection by service name, each made once per task."""
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            if service == "cloudfront-keyvaluestore":
                made[service] = kvs_client(aws_conn_id, region_name)
            elif service == "cloudfront":
                made[service] = CloudFrontHook(
                    aws_conn_id=aws_conn_id, region_name=region_name
                ).conn
            else:
                made[service] = AwsBaseHook(
                    aws_conn_id=aws_conn_id, client_type=service, region_name=region_name
                ).get_conn()
        return made[service]

    return client


class VerifyCheckOperator(BucketOperator):
    """Run one named check; fail, naming the drift, when it found any."""

    template_fields: Sequence[str] = aws_template_fields(
        "bucket", "site_urls", "cf_dir", "api_origin"
    )

    def __init__(
        self,
        *,
        check: str,
        site_urls: str | dict[str, str] | None = None,
        cf_dir: str | Path,
        api_origin: str = "",
        **kwargs: Any,
    ) -> None:
        if check not in CHECKS:
            raise ValueError(f"no check named {check!r}; the checks are {', '.join(CHECKS)}")
        kwargs.setdefault("task_id", check)
        super().__init__(**kwargs)
        self.check = check
        self.site_urls = site_urls
        self.cf_dir = cf_dir
        self.api_origin = api_origin

    def execute(self, context: Any) -> dict[str, Any]:
        production = Production(
            clients=aws_clients(self.aws_conn_id, self.region_name),
            bucket=self.bucket,
            region=self.region_name or self.hook.conn_region_name or "us-east-1",
            site_urls=parse_site_urls(self.site_urls),
            cf_dir=Path(self.cf_dir),
            api_origin=self.api_origin.strip() or config.TRACK_API_ORIGIN_DOMAIN,
        )
        with retry_only_transient(f"the {self.check} check"):
            result = CHECKS[self.check](production)
        for problem in result.problems[:SHOWN]:
            self.log.error("%s: %s", result.name, problem)
        for warning in result.warnings:
            self.log.warning("%s: %s", result.name, warning)
        if self.check in METRICS and result.counts:
            with retry_only_transient(f"putting the {self.check} metrics"):
                METRICS[self.check](production.clients("cloudwatch"), result.counts)
            self.log.info("counts put to CloudWatch: %s", result.counts)
        verdict = result.as_json()
        context["ti"].xcom_push(key=VERDICT_KEY, value=verdict)
        self.log.info("%s", result.summary())
        if not result.passed:
            raise AirflowFailException(result.summary())
        return verdict


class VerifyReportOperator(BucketOperator):
    """Collect every check's verdict, write ``reports/verify/<date>/<run-id>.json`` and end the
    run with the one-line summary; fails the run when any check failed."""

    def __init__(self, *, checks: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(**kwargs)
        self.checks = list(checks)

    def execute(self, context: Any) -> dict[str, Any]:
        ti = context["ti"]
        verdicts = {t: ti.xcom_pull(task_ids=t, key=VERDICT_KEY) for t in self.checks}
        states = ti.get_task_states(
            dag_id=ti.dag_id, task_ids=self.checks, run_ids=[ti.run_id]
        ).get(ti.run_id, {})
        report = build_report(
            ti.dag_id, ti.run_id, datetime.now(UTC), self.checks, verdicts, states
        )
        with retry_only_transient("writing the verification report"):
            key = write_report(self.hook.get_conn(), self.bucket, report)
            cloudwatch = aws_clients(self.aws_conn_id, self.region_name)("cloudwatch")
            put_failed_checks(cloudwatch, len(report.failed))
        self.log.info(
            "report written to s3://%s/%s; %s = %d put to CloudWatch",
            self.bucket, key, config.VERIFICATION_FAILED_METRIC, len(report.failed),
        )  # fmt: skip
        summary = report.summary()
        self.log.info("%s", summary)
        if not report.passed:
            raise ChecksFailed(summary)
        return {"report": key, "summary": summary}

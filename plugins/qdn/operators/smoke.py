"""The release's last word: the customer's tracking link works on every distribution."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException

from qdn import config
from qdn.jobs.model import redact_token
from qdn.operators.base import live_pointer, release_params, retry_only_transient
from qdn.operators.jobs_lookup import jobs_by_id
from qdn.smoke import DEFAULT_DEADLINE, Expectation, smoke_check


def default_site_urls() -> dict[str, str]:
    return {alias: f"https://{alias}" for alias in config.DISTRIBUTION_ALIASES}


def parse_site_urls(value: str | dict[str, str] | None) -> dict[str, str]:
    """The ``qdn_site_urls`` Variable (JSON alias -> URL), or each alias's own https URL."""
    urls = json.loads(value) if isinstance(value, str) and value.strip() else value
    return dict(urls) if urls else default_site_urls()


class SmokeCheckOperator(AwsBaseOperator[S3Hook]):
    """GET the tracking page, the track API, the booking page and a private path through each edge,
    until every edge serves the build the pointer names (each edge follows a pointer write within
    the store's propagation time) or the deadline passes.

    ``site_urls`` maps each alias to the URL a customer opens (``https://<alias>`` in production;
    the local stack's edges locally, through the ``qdn_site_urls`` Variable).
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("site_urls", "bucket", "deadline")

    def __init__(
        self,
        *,
        site_urls: str | dict[str, str] | None = None,
        job_task_id: str = "upload_job",
        bucket: str = config.BUCKET,
        deadline: float | str = DEFAULT_DEADLINE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.site_urls = site_urls
        self.job_task_id = job_task_id
        self.bucket = bucket
        self.deadline = deadline

    def execute(self, context: Any) -> dict[str, Any]:
        params = release_params(context)
        jobs = context["ti"].xcom_pull(task_ids=self.job_task_id) or {}
        with retry_only_transient("smoke_check"):
            s3 = self.hook.get_conn()
            # The build the pointer names now: the release's own, or whatever is live when the
            # release promoted nothing.
            build_id = live_pointer(self.aws_conn_id, self.region_name).value
            found = jobs_by_id(s3, self.bucket, jobs.get("job_ids", []))
        job = found[0] if found else None
        expect = Expectation(
            build_id=build_id,
            token=job.token if job else None,
            job=job.public_view() if job else None,
        )
        urls = parse_site_urls(self.site_urls)
        results = {}
        failures = []
        for alias in params.distributions:
            base = urls.get(alias)
            if not base:
                raise AirflowFailException(f"no site URL for {alias}; set it in qdn_site_urls")
            report = smoke_check(base, expect, deadline=float(self.deadline), log=self.log)
            results[alias] = {"ok": report.ok, "attempts": report.attempts}
            if report.ok:
                self.log.info(
                    "%s: %d checks passed in %d attempt(s)",
                    base,
                    len(report.passed),
                    report.attempts,
                )
            else:
                failures.extend(f"{base}: {f}" for f in report.failures)
        if failures:
            raise AirflowFailException(
                "smoke check failed — what a customer sees is not this release:\n  "
                + "\n  ".join(failures)
            )
        what = (
            f"tracking link /track/{redact_token(job.token)} for job {job.id}" if job else "no job"
        )
        self.log.info(
            "smoke check passed on %s: build %s live, %s works, /book/ serves the shell, "
            "private data refused",
            ", ".join(urls[a] for a in params.distributions), build_id, what,
        )  # fmt: skip
        return {"build_id": build_id, "job_id": job.id if job else None, "sites": results}

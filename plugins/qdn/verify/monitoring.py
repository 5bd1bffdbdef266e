"""The nightly check that production is still watched: the alerts topic with someone subscribed,
the audit log group with its retention, the metric filters on it, every alarm and the canary job,
as ``qdn.monitoring`` defines them.

It is :func:`qdn.monitoring.ensure_monitoring` in its read-only mode, the same function the
bootstrap creates them with, so the check cannot drift from what is created.
"""

from __future__ import annotations

from typing import Any

from qdn import config
from qdn.distribution_spec import distributions_by_alias
from qdn.monitoring import SPEC, MonitoringChange, ensure_monitoring
from qdn.verify.result import CheckResult

RECREATE = "run `make bootstrap` (or deploy the stack) to recreate it"


def check_monitoring(
    sns: Any, logs: Any, cloudwatch: Any, cloudfront: Any, s3: Any, bucket: str
) -> CheckResult:
    result = CheckResult("monitoring")
    listed = distributions_by_alias(cloudfront)
    # A distribution that is gone is the distributions check's to name; its alarm is moot.
    dists = {a: listed[a]["Id"] for a in config.DISTRIBUTION_ALIASES if a in listed}
    found = ensure_monitoring(
        sns, logs, cloudwatch, distributions=dists, canary_in=(s3, bucket), dry_run=True
    )
    for change in found.drift:
        result.problems.append(_problem(change, found.topic_arn))
    kinds = [c.kind for c in found.changes if not c.drifted]
    result.counts = {
        "alarms": kinds.count("alarm"),
        "metric_filters": kinds.count("metric filter"),
    }
    result.notes.append(
        f"{result.counts['alarms']} of {len(SPEC.alarms) + len(dists)} alarms and "
        f"{result.counts['metric_filters']} of {len(SPEC.filters)} metric filters as defined"
    )
    return result


def _problem(change: MonitoringChange, topic_arn: str | None) -> str:
    if change.kind == "subscription":
        topic = topic_arn or SPEC.topic
        return (
            f"SNS topic {topic} has no confirmed subscription ({change.detail}): no alarm reaches "
            f"anyone. Subscribe on-call (`aws sns subscribe --topic-arn {topic} --protocol email "
            "--notification-endpoint <address>`, then confirm), or on the local stack run "
            "`make bootstrap`"
        )
    if change.state == "missing":
        return f"{change.describe()} is missing: {RECREATE}"
    return f"{change.describe()} differs from qdn.monitoring: {RECREATE}"

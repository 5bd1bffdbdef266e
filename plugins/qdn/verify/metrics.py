"""What the verification tells CloudWatch: the number of failed checks (one alarm covers every
check, qdn.monitoring) and the jobs per status (a dashboard's graph, and a sudden drop is visible
without reading a report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qdn import config

# The job-records check's counts are jobs per status; this names them in CloudWatch.
JOBS_METRIC = "Jobs"
STATUS_DIMENSION = "Status"


def put_failed_checks(cloudwatch: Any, failed: int) -> None:
    cloudwatch.put_metric_data(
        Namespace=config.METRICS_NAMESPACE,
        MetricData=[{"MetricName": config.VERIFICATION_FAILED_METRIC, "Value": float(failed)}],
    )


def put_job_counts(cloudwatch: Any, counts: Mapping[str, int]) -> None:
    """One datum per status in one call (PutMetricData takes up to 1,000; there are 7 statuses)."""
    if not counts:
        return
    cloudwatch.put_metric_data(
        Namespace=config.METRICS_NAMESPACE,
        MetricData=[
            {
                "MetricName": JOBS_METRIC,
                "Dimensions": [{"Name": STATUS_DIMENSION, "Value": status}],
                "Value": float(count),
            }
            for status, count in sorted(counts.items())
        ],
    )

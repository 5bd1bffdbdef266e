"""Every nightly check, by name, with what it needs from production.

The DAG makes one task per entry (the key is its task id) and the report lists them in this
order, so a new check is one line here (and its module); the operator never learns which client
each check wants.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdn import config
from qdn.verify.canary import check_canary
from qdn.verify.content import check_content
from qdn.verify.distributions import check_distributions
from qdn.verify.exposure import check_exposure
from qdn.verify.freshness import check_freshness
from qdn.verify.function import check_function
from qdn.verify.job_records import check_job_records
from qdn.verify.metrics import put_job_counts
from qdn.verify.monitoring import check_monitoring
from qdn.verify.result import CheckResult


@dataclass(frozen=True)
class Production:
    """Where the checks look: boto3 clients by service name, the bucket, the public site URLs
    (alias -> URL a customer opens) and the repo's ``cf/`` to compare the function with."""

    clients: Callable[[str], Any]
    bucket: str
    region: str
    site_urls: Mapping[str, str]
    cf_dir: Path
    # The track API function URL's host, the /api/* origin (qdn.distribution_spec).
    api_origin: str = config.TRACK_API_ORIGIN_DOMAIN


Check = Callable[[Production], CheckResult]


def _site(p: Production) -> tuple[Any, Any, Any, str]:
    """What the checks through the edge read first: S3, CloudFront, the store, the bucket."""
    return p.clients("s3"), p.clients("cloudfront"), p.clients("cloudfront-keyvaluestore"), p.bucket


CHECKS: dict[str, Check] = {
    "function": lambda p: check_function(
        p.clients("cloudfront"), p.clients("s3"), p.bucket, p.cf_dir
    ),
    "distributions": lambda p: check_distributions(
        p.clients("cloudfront"), p.bucket, p.region, p.api_origin
    ),
    "content": lambda p: check_content(*_site(p)),
    "job_records": lambda p: check_job_records(p.clients("s3"), p.bucket),
    "canary": lambda p: check_canary(*_site(p), p.site_urls),
    "freshness": lambda p: check_freshness(*_site(p), p.site_urls),
    "exposure": lambda p: check_exposure(p.clients("s3"), p.bucket, p.site_urls),
    "monitoring": lambda p: check_monitoring(
        p.clients("sns"),
        p.clients("logs"),
        p.clients("cloudwatch"),
        p.clients("cloudfront"),
        p.clients("s3"),
        p.bucket,
    ),
}

# Checks whose counts go to CloudWatch, and how.
METRICS: dict[str, Callable[[Any, Mapping[str, int]], None]] = {"job_records": put_job_counts}

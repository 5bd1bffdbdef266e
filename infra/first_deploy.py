"""``python -m infra.first_deploy``: what a new production needs once, between the stack and the
first release.

CloudFormation creates the KeyValueStore empty and the bucket with no data. The release compiles
the live build into the function as its fallback (``qdn.function_release``), so it refuses to run
while no build is live; the nightly verification wants a release history, the canary job and the
job export. On the rehearsal stack the bootstrap makes all of them; this runs the bootstrap's own
steps (``ensure_jobs_document``, ``ensure_pointer``, ``qdn.canary.ensure_canary``) with the
account's credentials, making the newest staged build live. A second run finds everything there
and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from localaws.bootstrap import BootstrapReport, ensure_jobs_document, ensure_pointer
from qdn import config, staging
from qdn.canary import ensure_canary
from qdn.live_pointer import PointerError, kvs_arn

# The Region every resource of the stack is in (CloudFront publishes its metrics only there).
REGION = "us-east-1"


class FirstDeployError(RuntimeError):
    """Production cannot be seeded yet; the message says what to do first."""


def first_deploy(
    clients: Callable[[str], Any], *, bucket: str = config.BUCKET, store: str = config.KVS_NAME
) -> BootstrapReport:
    """Seed the job export, the live pointer (the newest staged build) with its history entry,
    and the canary; each only where missing."""
    s3 = clients("s3")
    staged = staging.read_latest(s3, bucket)
    if staged is None:
        raise FirstDeployError(
            f"no build is staged in s3://{bucket} ({config.LATEST_KEY} is missing): stage the "
            "site first with python -m qdn.cli stage, then run this again"
        )
    try:
        arn = kvs_arn(clients("cloudfront"), store)
    except PointerError:
        raise FirstDeployError(
            f"the KeyValueStore {store!r} does not exist: deploy infra/quickdumpnow.yaml first "
            "(docs/production.md), in the Region given with --region"
        ) from None
    report = BootstrapReport()
    ensure_jobs_document(s3, report, bucket)
    ensure_pointer(s3, clients("cloudfront-keyvaluestore"), report, bucket, arn, staged)
    canary = ensure_canary(s3, bucket)
    if canary.written:
        report.did(f"canary job {canary.job.id} ({', '.join(canary.written)})")
    else:
        report.saw(f"canary job {canary.job.id}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.first_deploy", description=__doc__)
    parser.add_argument("--region", default=REGION)
    args = parser.parse_args(argv)
    import boto3

    session = boto3.Session(region_name=args.region)
    try:
        report = first_deploy(session.client)
    except FirstDeployError as err:
        print(f"first deploy: {err}", file=sys.stderr)
        return 1
    print("\n".join(report.lines))
    print(f"{report.changed} change(s); now trigger qdn_release (docs/production.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

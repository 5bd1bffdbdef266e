"""``python -m qdn.cli``: the operator's commands.

- ``stage [--source DIR]`` — upload the site as a new immutable staged build;
- ``jobs migrate`` — move a legacy ``data/jobs.json`` to one record per job, once (the bootstrap
  runs it too);
- ``jobs export`` — rebuild the derived ``data/jobs.json`` from the records;
- ``jobs archive [--retention-days N]`` — archive finished jobs older than the retention.

Not ``qdn/__main__.py``: Airflow imports every file under ``plugins/`` by its stem, and a module
named ``__main__`` would run its CLI inside the scheduler.

It uses the ambient AWS configuration (``AWS_ENDPOINT_URL`` for the local stack, or a real
profile), exactly as ``aws s3`` would.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import boto3

from qdn import config, staging
from qdn.jobs.archive import archive_finished
from qdn.jobs.export import rebuild_export
from qdn.jobs.migration import MigrationError, migrate

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "site" / "public"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qdn.cli", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--bucket", default=config.BUCKET)
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("stage", help="stage site/public as the build builds/<build-id>/")
    st.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    jobs = sub.add_parser("jobs", help="job records: migrate, export, archive")
    jobs_sub = jobs.add_subparsers(dest="action", required=True)
    jobs_sub.add_parser("migrate", help="move a legacy data/jobs.json to one record per job")
    jobs_sub.add_parser("export", help="rebuild the derived data/jobs.json from the records")
    archive = jobs_sub.add_parser("archive", help="archive finished jobs past the retention")
    archive.add_argument("--retention-days", type=int, default=config.JOB_RETENTION_DAYS)
    args = parser.parse_args(argv)
    s3 = boto3.client("s3")
    try:
        if args.command == "stage":
            print(staging.stage(s3, args.source, args.bucket).summary())
        elif args.action == "migrate":
            print(migrate(s3, args.bucket).summary())
        elif args.action == "export":
            print(rebuild_export(s3, args.bucket).summary())
        else:
            print(archive_finished(s3, args.bucket, retention_days=args.retention_days).summary())
    except (staging.StagingError, MigrationError, ValueError) as err:
        print(f"{args.command} refused: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

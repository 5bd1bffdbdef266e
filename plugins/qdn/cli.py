"""``python -m qdn.cli stage [--source DIR]``: upload the site as a new immutable staged build.

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

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "site" / "public"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qdn.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("stage", help="stage site/public as the build builds/<build-id>/")
    st.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    st.add_argument("--bucket", default=config.BUCKET)
    args = parser.parse_args(argv)
    try:
        result = staging.stage(boto3.client("s3"), args.source, args.bucket)
    except staging.StagingError as err:
        print(f"stage refused: {err}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())

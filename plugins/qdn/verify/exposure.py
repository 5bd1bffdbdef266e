"""The nightly check that nothing private is public: job data, release records and the build
pointer refused on every distribution, the bucket's public access block fully on and no bucket
policy that makes it public.

The edge is asked exactly as a stranger would ask it (a plain GET of each path on each site URL);
the bucket's settings are read from S3 itself, not from what the bootstrap meant to set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from qdn import config
from qdn.s3_errors import error_code
from qdn.smoke import Response, http_get, refused_problem
from qdn.verify.result import CheckResult

# One path of each kind of private data: the old root export, the export, a record, a token
# lookup, the dashboard index, the canary's token, the release history, the verification
# reports, the old staging area and the build pointer.
PRIVATE_PATHS: tuple[str, ...] = (
    "/jobs.json",
    "/" + config.JOBS_KEY,
    "/" + config.JOBS_PREFIX + "QDN-AAAAAAAAAA.json",
    "/" + config.JOB_TOKENS_PREFIX + "0" * 64 + ".json",
    "/" + config.JOB_INDEX_PREFIX,
    "/" + config.CANARY_KEY,
    "/" + config.RELEASES_PREFIX + "HISTORY.json",
    "/" + config.REPORTS_PREFIX,
    "/" + config.LEGACY_STAGING_PREFIX,
    "/" + config.LATEST_KEY,
)
# The four settings of a public access block, each of which must be on.
BLOCK_SETTINGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


def check_exposure(
    s3: Any,
    bucket: str,
    site_urls: Mapping[str, str],
    *,
    get: Callable[[str], Response] = http_get,
) -> CheckResult:
    result = CheckResult("exposure")
    for alias, base in sorted(site_urls.items()):
        for path in PRIVATE_PATHS:
            problem = refused_problem(get(base.rstrip("/") + path), f"{alias} GET {path}")
            if problem:
                result.problems.append(f"{problem}: private data reachable through the edge")
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as err:
        block = {}
        if error_code(err) != "NoSuchPublicAccessBlockConfiguration":
            raise
    off = [name for name in BLOCK_SETTINGS if not block.get(name)]
    if off:
        result.problems.append(
            f"s3://{bucket}'s public access block is off for {', '.join(off)}: turn it back on "
            "(the bootstrap sets all four)"
        )
    try:
        public = s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"]
    except ClientError as err:
        if error_code(err) != "NoSuchBucketPolicy":
            raise
        public = False
    if public:
        result.problems.append(f"s3://{bucket} has a bucket policy that makes it public")
    result.notes.append(
        f"{len(PRIVATE_PATHS)} private paths refused on {len(site_urls)} site(s); bucket private"
    )
    return result

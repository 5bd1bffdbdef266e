"""The site bucket: private, versioned, TLS only, readable by the two distributions alone.

The public access block is the one the local bootstrap sets (tests compare them on the running
stack). Lifecycle: old builds expire by per-build rules the release itself rewrites on every
switch (``qdn.retention``, which keeps every rule that is not its own), so the template carries
the release's non-current-versions rule for ``builds/`` as the release writes it, plus how long
overwritten job records and release history stay restorable.
"""

from __future__ import annotations

from typing import Any

from infra.cloudfront import distribution_id
from infra.intrinsics import ACCOUNT_ID, ref, sub
from qdn import config, retention

BUCKET = "SiteBucket"
BUCKET_ARN = f"arn:aws:s3:::{config.BUCKET}"
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# Prefixes whose objects are overwritten in place (job records, token lookups, the history):
# their earlier versions are the way back from a bad write, kept for VersionRetentionDays.
VERSIONED_DATA_PREFIXES = (config.DATA_PREFIX, config.RELEASES_PREFIX)
# The oldest TLS the bucket answers (S3 still accepts 1.0 and 1.1 unless told).
MINIMUM_TLS_VERSION = "1.2"


def lifecycle_rules() -> list[dict[str, Any]]:
    """The release's own rule for builds (``qdn.retention``), then one per data prefix."""
    # The release's own rule, called rather than restated so the two can never differ (the
    # release replaces it by ID on every switch; CloudFormation names the filter Prefix).
    builds = retention.noncurrent_rule()
    rules = [
        {
            "Id": builds["ID"],
            "Prefix": builds["Filter"]["Prefix"],
            "Status": builds["Status"],
            "NoncurrentVersionExpiration": {
                "NoncurrentDays": builds["NoncurrentVersionExpiration"]["NoncurrentDays"]
            },
            "AbortIncompleteMultipartUpload": {
                "DaysAfterInitiation": builds["AbortIncompleteMultipartUpload"][
                    "DaysAfterInitiation"
                ]
            },
        }
    ]
    for prefix in VERSIONED_DATA_PREFIXES:
        rules.append(
            {
                "Id": "qdn-noncurrent-" + prefix.rstrip("/"),
                "Prefix": prefix,
                "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": ref("VersionRetentionDays")},
            }
        )
    return rules


def bucket_policy() -> dict[str, Any]:
    """Deny anything but TLS 1.2+; let the two distributions read builds, and nothing else."""
    everything = [BUCKET_ARN, f"{BUCKET_ARN}/*"]
    distributions = [
        sub(f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/${{{distribution_id(alias)}}}")
        for alias in config.DISTRIBUTION_ALIASES
    ]
    from_our_distributions = {"StringEquals": {"AWS:SourceArn": distributions}}
    edge = {"Service": "cloudfront.amazonaws.com"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyPlainHttp",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": everything,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Sid": "DenyOldTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": everything,
                "Condition": {"NumericLessThan": {"s3:TlsVersion": MINIMUM_TLS_VERSION}},
            },
            # The origin path is /builds: the edge can ask for nothing else, and may read
            # nothing else either (data/ stays private even if the function were bypassed).
            {
                "Sid": "EdgeReadsBuilds",
                "Effect": "Allow",
                "Principal": edge,
                "Action": "s3:GetObject",
                "Resource": f"{BUCKET_ARN}/{config.BUILDS_PREFIX}*",
                "Condition": from_our_distributions,
            },
            # Without it a missing file answers 403, not the 404 the rehearsal shows; with the
            # origin path, no request through the edge can reach a listing.
            {
                "Sid": "EdgeTellsMissingFromForbidden",
                "Effect": "Allow",
                "Principal": edge,
                "Action": "s3:ListBucket",
                "Resource": BUCKET_ARN,
                "Condition": from_our_distributions,
            },
        ],
    }


def resources() -> dict[str, Any]:
    return {
        BUCKET: {
            "Type": "AWS::S3::Bucket",
            # Customer job records and every build live here: never deleted with the stack.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketName": config.BUCKET,
                "VersioningConfiguration": {"Status": "Enabled"},
                "PublicAccessBlockConfiguration": dict(PUBLIC_ACCESS_BLOCK),
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                "LifecycleConfiguration": {"Rules": lifecycle_rules()},
            },
        },
        "SiteBucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {"Bucket": ref(BUCKET), "PolicyDocument": bucket_policy()},
        },
    }


def parameters() -> dict[str, Any]:
    return {
        "VersionRetentionDays": {
            "Type": "Number",
            "Default": 90,
            "MinValue": 1,
            "Description": (
                f"Days an overwritten or deleted object under {', '.join(VERSIONED_DATA_PREFIXES)}"
                " (job records, token lookups, release history) stays restorable as a previous "
                "version. Builds are never overwritten; their expiry is the release's."
            ),
        }
    }

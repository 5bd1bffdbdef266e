"""The least-privilege IAM policies the pipeline and the track API need, built from ``qdn.config``.

Built rather than written out so a renamed bucket, prefix, function or log group can never leave
the policy granting the old name. ``python -m qdn.iam pipeline|track-api|stage`` prints one as
JSON, ready for ``aws iam put-role-policy --policy-document file://...``.

Each statement is one job of one step; nothing grants ``*`` on a data action:
- the release and the rollback (Airflow's ``aws_default``) read builds, write the live pointer in
  the KeyValueStore, manifests and job records, set the builds' expiry rules, delete no build
  and no record (only a job's stale dashboard index entries, and an archived job's pieces), and
  work only their own function;
- the track API reads job records, their token lookups and the dashboard index, and creates
  bookings, nothing else;
- staging (ops, from a workstation or CI) lists, reads and writes only under ``builds/``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from qdn import config, monitoring

S3 = "arn:aws:s3:::"
# What a job is made of (qdn.jobs.layout): its record, token lookup and index entries.
JOB_RECORD_PREFIXES = (config.JOBS_PREFIX, config.JOB_TOKENS_PREFIX, config.JOB_INDEX_PREFIX)


def _object_arns(*prefixes: str) -> list[str]:
    return [
        f"{S3}{config.BUCKET}/{p}*" if p.endswith("/") else f"{S3}{config.BUCKET}/{p}"
        for p in prefixes
    ]


def _statement(sid: str, actions: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def pipeline_policy(account_id: str = "ACCOUNT_ID", region: str = "us-east-1") -> dict[str, Any]:
    """What ``qdn_release`` (and the nightly check) call, and nothing more."""
    list_prefixes = [
        config.BUILDS_PREFIX + "*",
        config.RELEASES_PREFIX + "*",
        config.DATA_PREFIX + "*",
    ]
    stores = f"arn:aws:cloudfront::{account_id}:key-value-store/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement(
                "ListTheSiteBucket",
                ["s3:ListBucket", "s3:ListBucketVersions"],
                [f"{S3}{config.BUCKET}"],
                Condition={"StringLike": {"s3:prefix": list_prefixes}},
            ),
            # Manifests and builds/LATEST; the files themselves are verified from listings.
            _statement(
                "ReadBuilds",
                ["s3:GetObject", "s3:GetObjectVersion"],
                _object_arns(config.BUILDS_PREFIX),
            ),
            _statement(
                "RecordReleasesAndJobs",
                ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                _object_arns(config.RELEASES_PREFIX, *JOB_RECORD_PREFIXES, config.JOBS_KEY),
            ),
            # A job's index entries of earlier statuses go when it moves on; an archived job
            # leaves its record, lookup and entries.
            _statement(
                "TidyAndArchiveJobs",
                ["s3:DeleteObject"],
                _object_arns(*JOB_RECORD_PREFIXES),
            ),
            _statement(
                "KeepArchivedJobs",
                ["s3:GetObject", "s3:PutObject"],
                _object_arns(config.JOB_ARCHIVE_PREFIX),
            ),
            # The nightly check reads that the bucket is still private.
            _statement(
                "VerifyTheBucketIsPrivate",
                ["s3:GetBucketPublicAccessBlock", "s3:GetBucketPolicyStatus"],
                [f"{S3}{config.BUCKET}"],
            ),
            # The canary and freshness checks open the canary's tracking link with the token its
            # note keeps; the bootstrap writes the note, the pipeline only reads it.
            _statement("ReadTheCanaryNote", ["s3:GetObject"], _object_arns(config.CANARY_KEY)),
            # Old builds expire by lifecycle rules the release rewrites; it deletes nothing.
            _statement(
                "ExpireOldBuilds",
                ["s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration"],
                [f"{S3}{config.BUCKET}"],
            ),
            _statement(
                "SwitchTheLivePointer",
                [
                    "cloudfront:DescribeKeyValueStore",
                    "cloudfront-keyvaluestore:DescribeKeyValueStore",
                    "cloudfront-keyvaluestore:GetKey",
                    "cloudfront-keyvaluestore:PutKey",
                ],
                [stores],
            ),
            _statement(
                "PublishTheRewriteFunction",
                [
                    "cloudfront:DescribeFunction",
                    "cloudfront:GetFunction",
                    "cloudfront:UpdateFunction",
                    "cloudfront:TestFunction",
                    "cloudfront:PublishFunction",
                ],
                [f"arn:aws:cloudfront::{account_id}:function/{config.FUNCTION_NAME}"],
            ),
            # ListDistributions has no resource-level permissions in AWS.
            _statement("FindDistributions", ["cloudfront:ListDistributions"], ["*"]),
            _statement(
                "InvalidateAndWait",
                [
                    "cloudfront:CreateInvalidation",
                    "cloudfront:GetInvalidation",
                    "cloudfront:GetDistribution",
                ],
                [f"arn:aws:cloudfront::{account_id}:distribution/*"],
            ),
            # The nightly check compares each distribution's config with qdn.distribution_spec.
            _statement(
                "VerifyTheFunctionAndDistributions",
                ["cloudfront:GetDistributionConfig"],
                [f"arn:aws:cloudfront::{account_id}:distribution/*"],
            ),
            _statement(
                "AuditJobChanges",
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:FilterLogEvents"],
                [
                    f"arn:aws:logs:{region}:{account_id}:log-group:{config.AUDIT_LOG_GROUP}",
                    f"arn:aws:logs:{region}:{account_id}:log-group:{config.AUDIT_LOG_GROUP}:*",
                ],
            ),
            _statement(
                "AlertOnFailure",
                ["sns:Publish"],
                [f"arn:aws:sns:{region}:{account_id}:{config.ALERTS_TOPIC}"],
            ),
            # The nightly monitoring check reads what qdn.monitoring defines (it never writes it:
            # the bootstrap or the stack's deployment does, with the infrastructure's rights).
            # DescribeLogGroups is authorised on the account's log groups, not on one group.
            _statement(
                "FindTheAuditLogGroup",
                ["logs:DescribeLogGroups"],
                [f"arn:aws:logs:{region}:{account_id}:log-group:*"],
            ),
            _statement(
                "VerifyAuditMetricFilters",
                ["logs:DescribeMetricFilters"],
                [f"arn:aws:logs:{region}:{account_id}:log-group:{config.AUDIT_LOG_GROUP}"],
            ),
            _statement(
                "VerifyMonitoringAlarms",
                ["cloudwatch:DescribeAlarms"],
                [
                    f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{alarm.name}"
                    for alarm in monitoring.SPEC.alarms
                ]
                # One per distribution, named after its alias.
                + [
                    f"arn:aws:cloudwatch:{region}:{account_id}:alarm:"
                    f"{monitoring.EDGE_5XX_ALARM_PREFIX}*"
                ],
            ),
            _statement(
                "VerifyAlertSubscriptions",
                ["sns:ListSubscriptionsByTopic"],
                [f"arn:aws:sns:{region}:{account_id}:{config.ALERTS_TOPIC}"],
            ),
            # ListTopics has no resource-level permissions in AWS; it finds the topic's ARN.
            _statement("FindTheAlertsTopic", ["sns:ListTopics"], ["*"]),
            # PutMetricData has no resource-level permissions either: the condition keeps it to
            # our namespace (the nightly report puts the number of failed checks).
            _statement(
                "PutOurMetrics",
                ["cloudwatch:PutMetricData"],
                ["*"],
                Condition={"StringEquals": {"cloudwatch:namespace": config.METRICS_NAMESPACE}},
            ),
        ],
    }


def track_api_policy() -> dict[str, Any]:
    """The Lambda behind ``/api/*``: read the job records, create booking requests."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            # The export only by HEAD: its metadata says whether the migration is done.
            _statement(
                "ReadJobRecords",
                ["s3:GetObject"],
                _object_arns(*JOB_RECORD_PREFIXES, config.JOBS_KEY),
            ),
            _statement(
                "ListDashboardPages",
                ["s3:ListBucket"],
                [f"{S3}{config.BUCKET}"],
                Condition={"StringLike": {"s3:prefix": [config.JOB_INDEX_PREFIX + "*"]}},
            ),
            # PutObject with IfNoneMatch: a booking never overwrites another.
            _statement("CreateBookings", ["s3:PutObject"], _object_arns(config.BOOKINGS_PREFIX)),
        ],
    }


def stage_policy() -> dict[str, Any]:
    """``python -m qdn.cli stage``: new immutable builds and the LATEST pointer, nothing else.

    CopyObject (unchanged files come from the previous build) needs GetObject on the source and
    PutObject on the target, both under ``builds/``.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            _statement(
                "ListBuilds",
                ["s3:ListBucket"],
                [f"{S3}{config.BUCKET}"],
                Condition={"StringLike": {"s3:prefix": [config.BUILDS_PREFIX + "*"]}},
            ),
            _statement(
                "UploadBuilds",
                ["s3:PutObject", "s3:GetObject"],
                _object_arns(config.BUILDS_PREFIX),
            ),
        ],
    }


POLICIES = {"pipeline": pipeline_policy, "track-api": track_api_policy, "stage": stage_policy}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in POLICIES:
        print(f"usage: python -m qdn.iam {'|'.join(POLICIES)}", file=sys.stderr)
        return 2
    print(json.dumps(POLICIES[args[0]](), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

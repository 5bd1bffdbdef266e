"""The written-down IAM policies grant every AWS call the code makes, on the right resources.

The calls are found by reading the source (every ``client.operation(`` and paginator name that
is an operation of S3, CloudFront, CloudWatch, CloudWatch Logs or SNS), so a new call without a
grant fails here instead of in production with AccessDenied.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import botocore.session

from qdn import config, iam

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICES = {
    "s3": "s3",
    "cloudfront": "cloudfront",
    "cloudfront-keyvaluestore": "cloudfront-keyvaluestore",
    "logs": "logs",
    "sns": "sns",
    "cloudwatch": "cloudwatch",
}
# S3 operations whose IAM action is not "s3:<Operation>".
S3_ACTIONS = {
    "HeadObject": ["s3:GetObject"],
    "ListObjectsV2": ["s3:ListBucket"],
    "ListObjectVersions": ["s3:ListBucketVersions"],
    "CopyObject": ["s3:GetObject", "s3:PutObject"],
    "DeleteObjects": ["s3:DeleteObject"],
    "GetBucketLifecycleConfiguration": ["s3:GetLifecycleConfiguration"],
    "PutBucketLifecycleConfiguration": ["s3:PutLifecycleConfiguration"],
    "GetPublicAccessBlock": ["s3:GetBucketPublicAccessBlock"],
}
# Run by the bootstrap with the infrastructure's own credentials, never by the release.
NOT_THE_RELEASE = {"iam.py", "cli.py", "layout_migration.py"}
# qdn.monitoring writes only when the bootstrap (or the stack's deployment) runs it, with the
# infrastructure's rights; the nightly check runs the same function read-only, so these are not
# the pipeline's to have.
MONITORING_WRITES = {
    "sns:CreateTopic",
    "logs:CreateLogGroup",
    "logs:PutRetentionPolicy",
    "logs:PutMetricFilter",
    "cloudwatch:PutMetricAlarm",
}
# AWS actions without resource-level permissions: "*" is the only resource they take.
UNSCOPED = (
    ["cloudfront:ListDistributions"],
    ["sns:ListTopics"],
    ["cloudwatch:PutMetricData"],
)
CALL = re.compile(r"\.([a-z][a-z0-9_]+)\(")
PAGINATOR = re.compile(r"get_paginator\(\"([a-z0-9_]+)\"\)")


def _operations() -> dict[str, set[str]]:
    session = botocore.session.get_session()
    ops: dict[str, set[str]] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        ops[service] = {_snake(name) for name in model.operation_names}
    return ops


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _camel(service: str, snake: str) -> str:
    model = botocore.session.get_session().get_service_model(service)
    return next(n for n in model.operation_names if _snake(n) == snake)


def actions_called(paths: list[Path]) -> set[str]:
    ops = _operations()
    found: set[str] = set()
    for path in paths:
        text = path.read_text()
        for name in [*CALL.findall(text), *PAGINATOR.findall(text)]:
            owners = [s for s, names in ops.items() if name in names]
            # Names like "publish" or "list" are everyday methods too; only AWS-shaped ones count.
            if len(owners) != 1 or "_" not in name:
                continue
            service = owners[0]
            op = _camel(service, name)
            actions = S3_ACTIONS.get(op, [f"s3:{op}"]) if service == "s3" else [f"{service}:{op}"]
            found.update(actions)
    return found


def granted(policy: dict) -> set[str]:
    return {a for st in policy["Statement"] for a in st["Action"]}


def test_pipeline_policy_grants_every_call_of_the_release():
    monitoring = REPO_ROOT / "plugins" / "qdn" / "monitoring.py"
    code = [
        p
        for p in (REPO_ROOT / "plugins" / "qdn").rglob("*.py")
        if p.name not in NOT_THE_RELEASE and p != monitoring
    ]
    monitoring_calls = actions_called([monitoring])
    assert monitoring_calls >= MONITORING_WRITES  # the list names writes that are there
    called = actions_called(code) | (monitoring_calls - MONITORING_WRITES)
    assert {"logs:DescribeMetricFilters", "cloudwatch:DescribeAlarms"} <= called
    assert {
        "s3:PutObject",
        "cloudfront:PublishFunction",
        "logs:PutLogEvents",
        "cloudfront-keyvaluestore:PutKey",
        "s3:PutLifecycleConfiguration",
    } <= called
    missing = called - granted(iam.pipeline_policy())
    assert not missing, f"the pipeline calls these without a grant: {sorted(missing)}"


def test_track_api_policy_grants_every_call_of_the_handlers():
    called = actions_called(list((REPO_ROOT / "site" / "api").rglob("*.py")))
    assert called == {"s3:GetObject", "s3:PutObject"}
    assert called <= granted(iam.track_api_policy())


def test_data_actions_are_scoped_to_the_project_s_keys():
    def allows(policy: dict, action: str, resource: str) -> bool:
        return any(
            action in st["Action"] and any(fnmatch.fnmatchcase(resource, r) for r in st["Resource"])
            for st in policy["Statement"]
        )

    arn = f"arn:aws:s3:::{config.BUCKET}/"
    pipeline = iam.pipeline_policy()
    assert allows(pipeline, "s3:PutObject", arn + config.JOBS_KEY)
    # Builds are immutable to the release: it reads them and deletes nothing anywhere.
    assert allows(pipeline, "s3:GetObject", arn + config.BUILDS_PREFIX + "build-0/index.html")
    assert not allows(pipeline, "s3:PutObject", arn + config.BUILDS_PREFIX + "build-0/index.html")
    # It deletes nothing but a job's own pieces: never a build, a manifest or an archived job.
    for key in (
        config.BUILDS_PREFIX + "build-0/index.html",
        config.RELEASES_PREFIX + "HISTORY.json",
        config.JOB_ARCHIVE_PREFIX + "QDN-AAAAAAAAAA.json",
        config.JOBS_KEY,
    ):
        assert not allows(pipeline, "s3:DeleteObject", arn + key), key
    assert allows(pipeline, "s3:DeleteObject", arn + config.JOB_INDEX_PREFIX + "status/booked/x")
    assert not allows(pipeline, "s3:PutObject", arn + config.LATEST_KEY)
    api = iam.track_api_policy()
    assert not allows(api, "s3:PutObject", arn + config.JOBS_KEY)
    assert not allows(api, "s3:PutObject", arn + config.JOBS_PREFIX + "QDN-AAAAAAAAAA.json")
    assert not allows(api, "s3:DeleteObject", arn + config.JOB_TOKENS_PREFIX + "ab.json")
    assert allows(api, "s3:GetObject", arn + config.JOB_TOKENS_PREFIX + "ab.json")
    assert not allows(api, "s3:GetObject", arn + config.JOB_ARCHIVE_PREFIX + "QDN-AAAAAAAAAA.json")
    assert not allows(api, "s3:GetObject", arn + config.BUILDS_PREFIX + "build-0/index.html")
    stage = iam.stage_policy()
    assert allows(stage, "s3:PutObject", arn + config.BUILDS_PREFIX + "build-0/index.html")
    assert not allows(stage, "s3:PutObject", arn + config.RELEASES_PREFIX + "HISTORY.json")
    assert not allows(stage, "s3:PutObject", arn + config.JOBS_KEY)
    for policy in (pipeline, api, stage):
        for st in policy["Statement"]:
            if st["Resource"] == ["*"]:
                assert st["Action"] in UNSCOPED, st["Sid"]
    (put_metrics,) = [s for s in pipeline["Statement"] if "cloudwatch:PutMetricData" in s["Action"]]
    assert put_metrics["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": config.METRICS_NAMESPACE}
    }

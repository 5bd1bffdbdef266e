"""Create QuickDumpNow's infrastructure on the local stack, idempotently.

Every step looks before it writes, so a second run reports "exists" for everything and changes
nothing: the bucket (versioned, public access blocked), the private job records (moving a root-level
``jobs.json`` left by the old manual process into ``data/`` and migrating it to one record per job,
once; then the derived export), the site staged from
``site/public`` as a build, the KeyValueStore with the live pointer (set to that build on the very
first run, so the edges have a site to serve), the CloudFront Function reading it, both
distributions, and the monitoring (``qdn.monitoring``: the alerts topic with a local subscriber,
the audit log group, its metric filters and the alarms), which the nightly check reads back.

A stack that still has the copy-promotion layout (production in ``site/``, origin path ``/site``)
is moved to immutable builds once (``qdn.layout_migration``), without a moment where the edge
serves anything else.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from qdn import config, function_cases, headers, layout_migration, release_manifest, staging
from qdn.distribution_spec import distribution_config, distributions_by_alias
from qdn.function_release import Publisher, plan_publish, render
from qdn.hooks.function_calls import FunctionClient
from qdn.jobs import migration
from qdn.jobs.export import rebuild_export
from qdn.live_pointer import read_pointer, write_pointer
from qdn.monitoring import Subscriber, ensure_monitoring
from qdn.plan import ApplyExecutor, execute
from qdn.s3_errors import error_code, is_missing

REPO_ROOT = Path(__file__).resolve().parent.parent
SITE_SOURCE = REPO_ROOT / "site" / "public"
FUNCTION_SOURCE = REPO_ROOT / "cf" / f"{config.FUNCTION_NAME}.js"

# The history names the bootstrap's first build (and a migrated one) after this run id.
BOOTSTRAP_RUN_ID = "bootstrap"
CF_DIR = FUNCTION_SOURCE.parent


@dataclass
class BootstrapReport:
    lines: list[str] = field(default_factory=list)
    changed: int = 0

    def did(self, line: str) -> None:
        self.lines.append("created: " + line)
        self.changed += 1

    def saw(self, line: str) -> None:
        self.lines.append("exists:  " + line)


def _missing(call: Callable[[], Any]) -> bool:
    """True when the HEAD ``call`` says the thing is not there; other errors propagate."""
    try:
        call()
    except ClientError as err:
        if is_missing(err) or error_code(err) == "NoSuchBucket":
            return True
        raise
    return False


def ensure_bucket(s3: Any, report: BootstrapReport, bucket: str) -> None:
    if _missing(lambda: s3.head_bucket(Bucket=bucket)):
        s3.create_bucket(Bucket=bucket)
        report.did(f"bucket s3://{bucket}")
    else:
        report.saw(f"bucket s3://{bucket}")
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        report.did(f"versioning on s3://{bucket} (rollback restores versions)")
    else:
        report.saw(f"versioning on s3://{bucket}")
    block = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    try:
        current = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError:
        current = {}
    if current != block:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
        report.did(f"public access block on s3://{bucket} (only the edge reads the site)")
    else:
        report.saw(f"public access block on s3://{bucket}")


def ensure_jobs_document(s3: Any, report: BootstrapReport, bucket: str) -> None:
    has_private = not _missing(lambda: s3.head_object(Bucket=bucket, Key=config.JOBS_KEY))
    has_legacy = not _missing(lambda: s3.head_object(Bucket=bucket, Key=config.LEGACY_JOBS_KEY))
    if has_legacy and not has_private:
        # Server-side copy, then delete: the records never leave S3 and never pass through here.
        s3.copy_object(
            Bucket=bucket,
            Key=config.JOBS_KEY,
            CopySource={"Bucket": bucket, "Key": config.LEGACY_JOBS_KEY},
            CacheControl=headers.PRIVATE_CACHE_CONTROL,
            ContentType="application/json",
            MetadataDirective="REPLACE",
        )
        s3.delete_object(Bucket=bucket, Key=config.LEGACY_JOBS_KEY)
        report.did(f"moved legacy s3://{bucket}/{config.LEGACY_JOBS_KEY} to {config.JOBS_KEY}")
    elif has_legacy:
        report.lines.append(
            f"WARNING: both {config.LEGACY_JOBS_KEY} and {config.JOBS_KEY} exist; the root copy "
            "was left alone — compare them and delete the root one by hand"
        )
    if migration.needs_migration(s3, bucket):
        report.did(migration.migrate(s3, bucket).summary())
    elif _missing(lambda: s3.head_object(Bucket=bucket, Key=config.JOBS_KEY)):
        export = rebuild_export(s3, bucket)
        report.did(f"job records export at s3://{bucket}/{config.JOBS_KEY} ({export.jobs} jobs)")
    else:
        report.saw(
            f"job records under s3://{bucket}/{config.JOBS_PREFIX}, export {config.JOBS_KEY}"
        )


def ensure_site(s3: Any, report: BootstrapReport, bucket: str, source: Path) -> str:
    result = staging.stage(s3, source, bucket)
    if result.complete_before:
        report.saw(f"staged build {result.build_id}")
    else:
        report.did(result.summary())
    return result.build_id


def ensure_store(cf: Any, report: BootstrapReport) -> str:
    try:
        arn = cf.describe_key_value_store(Name=config.KVS_NAME)["KeyValueStore"]["ARN"]
        report.saw(f"KeyValueStore {config.KVS_NAME} ({arn})")
        return arn
    except ClientError as err:
        if error_code(err) != "EntityNotFound":
            raise
    arn = cf.create_key_value_store(
        Name=config.KVS_NAME, Comment="QuickDumpNow live build pointer"
    )["KeyValueStore"]["ARN"]
    report.did(f"KeyValueStore {config.KVS_NAME} ({arn})")
    return arn


def ensure_pointer(
    s3: Any, kvs: Any, report: BootstrapReport, bucket: str, arn: str, staged: str
) -> str:
    """The live pointer: the migrated production's build, or the first staged one."""
    pointer = read_pointer(kvs, arn, config.LIVE_POINTER_KEY)
    legacy = layout_migration.find_legacy_site(s3, bucket)
    if legacy is not None:
        manifest = layout_migration.copy_into_builds(s3, bucket, legacy)
        report.did(
            f"production of s3://{bucket}/{config.LEGACY_SITE_PREFIX} as build "
            f"{legacy.build_id} ({len(manifest.files)} files) under {config.BUILDS_PREFIX}"
        )
    if pointer.value is not None:
        report.saw(f"live pointer {config.LIVE_POINTER_KEY} = {pointer.value}")
        return pointer.value
    live = legacy.build_id if legacy else staged
    staging.check_build_id(live)
    write_pointer(kvs, pointer, live)
    release_manifest.record_switch(
        s3,
        bucket,
        release_manifest.HistoryEntry(run_id=BOOTSTRAP_RUN_ID, build_id=live),
    )
    report.did(f"live pointer {config.LIVE_POINTER_KEY} = {live} in {arn}")
    return live


def ensure_function(
    cf: Any, s3: Any, report: BootstrapReport, bucket: str, source: bytes, arn: str, live: str
) -> str:
    """The function in LIVE, reading the store: created, or brought up to date through the same
    plan and gate a release uses (a stack from before atomic releases gets its first such code)."""
    try:
        described = cf.describe_function(Name=config.FUNCTION_NAME, Stage="LIVE")
    except ClientError as err:
        if error_code(err) != "NoSuchFunctionExists":
            raise
        created = cf.create_function(
            Name=config.FUNCTION_NAME,
            FunctionConfig={
                "Comment": "QuickDumpNow routes, served from the live build",
                "Runtime": config.FUNCTION_RUNTIME,
                "KeyValueStoreAssociations": {
                    "Quantity": 1,
                    "Items": [{"KeyValueStoreARN": arn}],
                },
            },
            FunctionCode=render(source, live),
        )
        cf.publish_function(Name=config.FUNCTION_NAME, IfMatch=created["ETag"])
        described = cf.describe_function(Name=config.FUNCTION_NAME, Stage="LIVE")
        report.did(f"function {config.FUNCTION_NAME} reading {config.KVS_NAME}, published to LIVE")
    else:
        api = FunctionClient(cf)
        associated = (
            described["FunctionSummary"]["FunctionConfig"].get("KeyValueStoreAssociations") or {}
        )
        if associated.get("Quantity"):
            report.saw(f"function {config.FUNCTION_NAME} (LIVE, reading {config.KVS_NAME})")
        else:
            cases = function_cases.load_cases(CF_DIR)
            plan, facts = plan_publish(
                api, None, source=source, cases=cases, live_build=live, kvs_arn=arn
            )
            execute(plan, ApplyExecutor(Publisher(api, facts, cases).handlers()))
            report.did(f"function {config.FUNCTION_NAME}: {facts.summary()}")
    code, _ = FunctionClient(cf).get_function_code(config.FUNCTION_NAME, "LIVE")
    release_manifest.keep_function_code(s3, bucket, code)
    return described["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]


def ensure_distributions(
    cf: Any, report: BootstrapReport, function_arn: str, bucket: str, region: str
) -> dict[str, str]:
    existing = distributions_by_alias(cf)
    ids = {}
    for alias in config.DISTRIBUTION_ALIASES:
        if alias in existing:
            ids[alias] = existing[alias]["Id"]
            if _move_origin_path(cf, ids[alias]):
                report.did(
                    f"distribution {ids[alias]} for {alias}: origin path {config.ORIGIN_PATH}"
                )
            else:
                report.saw(f"distribution {ids[alias]} for {alias}")
            continue
        created = cf.create_distribution(
            DistributionConfig=distribution_config(alias, function_arn, bucket, region)
        )
        ids[alias] = created["Distribution"]["Id"]
        report.did(f"distribution {ids[alias]} for {alias}")
    return ids


def _move_origin_path(cf: Any, dist_id: str) -> bool:
    """The site origin of a distribution from before atomic releases reads /site: point it at
    /builds (the live build's folder is then chosen by the function). True if it changed."""
    got = cf.get_distribution_config(Id=dist_id)
    dist_config = got["DistributionConfig"]
    changed = False
    for origin in dist_config["Origins"]["Items"]:
        if origin["Id"] == config.SITE_ORIGIN_ID and origin.get("OriginPath") != config.ORIGIN_PATH:
            origin["OriginPath"] = config.ORIGIN_PATH
            changed = True
    if changed:
        cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=dist_config)
    return changed


def ensure_alerts(
    clients: Callable[[str], Any],
    report: BootstrapReport,
    bucket: str,
    distributions: dict[str, str],
) -> str:
    """The monitoring as ``qdn.monitoring`` defines it (what the nightly check reads), delivered
    to the local queue ``config.ALERTS_LOCAL_QUEUE`` (read back by the rehearsal and the tests)
    and to ``QDN_ALERT_EMAIL`` when set. Returns the alerts topic's ARN."""
    sqs = clients("sqs")
    try:
        url = sqs.get_queue_url(QueueName=config.ALERTS_LOCAL_QUEUE)["QueueUrl"]
        report.saw(f"SQS queue {config.ALERTS_LOCAL_QUEUE}")
    except sqs.exceptions.QueueDoesNotExist:
        url = sqs.create_queue(QueueName=config.ALERTS_LOCAL_QUEUE)["QueueUrl"]
        report.did(f"SQS queue {config.ALERTS_LOCAL_QUEUE} (receives the alerts locally)")
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscribers = [Subscriber("sqs", queue_arn)]
    email = os.environ.get("QDN_ALERT_EMAIL", "").strip()
    if email:
        subscribers.append(Subscriber("email", email))
    found = ensure_monitoring(
        clients("sns"),
        clients("logs"),
        clients("cloudwatch"),
        subscribers=subscribers,
        distributions=distributions,
        canary_in=(clients("s3"), bucket),
    )
    for change in found.changes:
        if change.state == "exists":
            report.saw(change.describe())
        elif change.drifted:
            report.lines.append(f"WARNING: {change.describe()} is {change.state}")
        else:
            report.did(f"{change.describe()} ({change.state})")
    if found.topic_arn is None:
        raise RuntimeError(f"the alerts topic {config.ALERTS_TOPIC} was neither found nor created")
    return found.topic_arn


def bootstrap(
    clients: Callable[[str], Any],
    *,
    bucket: str = config.BUCKET,
    region: str = "us-east-1",
    site_source: Path = SITE_SOURCE,
    function_source: Path = FUNCTION_SOURCE,
) -> BootstrapReport:
    """Run every step; ``clients(service)`` returns a boto3 client for the stack."""
    report = BootstrapReport()
    s3 = clients("s3")
    ensure_bucket(s3, report, bucket)
    ensure_jobs_document(s3, report, bucket)
    staged = ensure_site(s3, report, bucket, site_source)
    cf = clients("cloudfront")
    arn = ensure_store(cf, report)
    live = ensure_pointer(s3, clients("cloudfront-keyvaluestore"), report, bucket, arn, staged)
    function_arn = ensure_function(cf, s3, report, bucket, function_source.read_bytes(), arn, live)
    distributions = ensure_distributions(cf, report, function_arn, bucket, region)
    # Only now is nothing served from site/ any more (new function, origin path /builds).
    removed = layout_migration.delete_legacy(s3, bucket)
    if removed:
        report.did(
            f"removed {removed} object(s) of the old s3://{bucket}/{config.LEGACY_SITE_PREFIX}"
        )
    ensure_alerts(clients, report, bucket, distributions)
    return report

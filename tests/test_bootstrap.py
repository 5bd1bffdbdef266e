"""The bootstrap builds QuickDumpNow on the local stack, and a second run changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from localaws.bootstrap import BOOTSTRAP_RUN_ID, bootstrap
from qdn import config, headers, release_manifest, staging
from qdn.function_release import fallback_of
from qdn.jobs.export import EXPORT_METADATA_KEY
from qdn.jobs.legacy_document import JobsDocument
from qdn.jobs.model import Job, NewJob
from qdn.jobs.records import JobRecords
from qdn.live_pointer import read_pointer
from qdn.smoke import http_get


def test_bootstrap_twice_changes_nothing(bootstrapped):
    report = bootstrap(bootstrapped.client)
    assert report.changed == 0, report.lines
    assert all(line.startswith("exists:") for line in report.lines)


def test_bucket_is_versioned_and_private(bootstrapped):
    s3 = bootstrapped.client("s3")
    assert s3.get_bucket_versioning(Bucket=config.BUCKET)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=config.BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    jobs = s3.head_object(Bucket=config.BUCKET, Key=config.JOBS_KEY)
    assert jobs["CacheControl"] == headers.PRIVATE_CACHE_CONTROL
    assert EXPORT_METADATA_KEY in jobs["Metadata"]  # the derived export, never a write path


def test_the_function_reads_the_live_pointer_from_its_store(bootstrapped):
    cf = bootstrapped.client("cloudfront")
    store = cf.describe_key_value_store(Name=config.KVS_NAME)["KeyValueStore"]
    summary = cf.describe_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionSummary"]
    assoc = summary["FunctionConfig"]["KeyValueStoreAssociations"]["Items"]
    assert assoc == [{"KeyValueStoreARN": store["ARN"]}]
    live = read_pointer(bootstrapped.client("cloudfront-keyvaluestore"), store["ARN"], "live")
    assert live.value and staging.read_build_manifest(bootstrapped.client("s3"), live.value)
    code = cf.get_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionCode"].read()
    assert fallback_of(code) is not None  # a build to serve should the store be unreadable
    history = release_manifest.read_history(bootstrapped.client("s3"), config.BUCKET)
    assert history.releases[-1].run_id == BOOTSTRAP_RUN_ID


def test_distributions_route_through_the_function_and_origin_path(bootstrapped):
    cf = bootstrapped.client("cloudfront")
    items = cf.list_distributions()["DistributionList"]["Items"]
    by_alias = {a: d for d in items for a in d["Aliases"].get("Items", [])}
    assert set(config.DISTRIBUTION_ALIASES) <= set(by_alias)
    arn = cf.describe_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionSummary"][
        "FunctionMetadata"
    ]["FunctionARN"]
    for alias in config.DISTRIBUTION_ALIASES:
        dist_config = cf.get_distribution_config(Id=by_alias[alias]["Id"])["DistributionConfig"]
        assoc = dist_config["DefaultCacheBehavior"]["FunctionAssociations"]["Items"]
        assert assoc == [{"FunctionARN": arn, "EventType": "viewer-request"}]
        site = next(o for o in dist_config["Origins"]["Items"] if o["Id"] == config.SITE_ORIGIN_ID)
        assert site["OriginPath"] == config.ORIGIN_PATH
        patterns = [b["PathPattern"] for b in dist_config["CacheBehaviors"]["Items"]]
        assert patterns == [config.API_PATH_PREFIX + "*"]


def test_both_edges_serve_the_site_and_refuse_private_data(released_site):
    for alias in config.DISTRIBUTION_ALIASES:
        base = released_site.url(alias)
        shell = http_get(base + "/track/" + "x" * 32)
        assert shell.status == 200 and released_site.build_id.encode() in shell.body
        build = released_site.build_id
        for private in (
            "/jobs.json",
            "/" + config.JOBS_KEY,
            "/releases/",
            "/" + config.LATEST_KEY,
            "/LATEST",
            f"/{build}.json",  # the live build's manifest sits beside its folder, out of reach
            f"/../{build}.json",
            f"/{build}/index.html",  # another build's folder is not reachable by its name
        ):
            refused = http_get(base + private)
            assert refused.status in (403, 404), (alias, private, refused.status)
            assert b"schema_version" not in refused.body


def test_legacy_root_jobs_file_is_moved_once(bootstrapped):
    s3 = bootstrapped.client("s3")
    current = s3.get_object(Bucket=config.BUCKET, Key=config.JOBS_KEY)["Body"].read()
    # Simulate the old manual process's leftover: the bootstrap must leave data/ alone and warn.
    s3.put_object(Bucket=config.BUCKET, Key=config.LEGACY_JOBS_KEY, Body=b'{"jobs": []}')
    try:
        report = bootstrap(bootstrapped.client)
        assert any("WARNING" in line for line in report.lines)
        assert s3.get_object(Bucket=config.BUCKET, Key=config.JOBS_KEY)["Body"].read() == current
    finally:
        s3.delete_object(Bucket=config.BUCKET, Key=config.LEGACY_JOBS_KEY)


def test_legacy_root_jobs_file_is_moved_and_migrated_once(aws_stack):
    bucket = "legacy-move-test"
    s3 = aws_stack.client("s3")
    s3.create_bucket(Bucket=bucket)
    job = Job.create(
        NewJob(customer_name="Ana", location="Elm Street", service_date="2026-12-10", price="90"),
        now=datetime.now(UTC),
        idempotency_key=None,
    )
    legacy = JobsDocument(jobs=[job]).to_json_bytes()
    s3.put_object(Bucket=bucket, Key=config.LEGACY_JOBS_KEY, Body=legacy)
    from localaws.bootstrap import BootstrapReport, ensure_jobs_document

    report = BootstrapReport()
    ensure_jobs_document(s3, report, bucket)
    assert any("migrated 1 job(s)" in line for line in report.lines), report.lines
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=config.LEGACY_JOBS_KEY)
    assert all(o["Key"] != config.LEGACY_JOBS_KEY for o in listed.get("Contents", []))
    head = s3.head_object(Bucket=bucket, Key=config.JOBS_KEY)
    assert head["CacheControl"] == headers.PRIVATE_CACHE_CONTROL
    assert EXPORT_METADATA_KEY in head["Metadata"]
    assert JobRecords(s3, bucket).find_by_token(job.token) == job
    again = BootstrapReport()
    ensure_jobs_document(s3, again, bucket)
    assert again.changed == 0, again.lines

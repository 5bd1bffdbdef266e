"""Release manifests on a real moto S3: conditional writes, concurrent sections, the history."""

from __future__ import annotations

import threading
import uuid

import boto3
import pytest
from botocore.config import Config
from pydantic import ValidationError

from qdn import release_manifest as rm
from qdn.jobs.model import new_token, redact_token


@pytest.fixture
def s3(moto_url):
    # Enough connections for every thread in the concurrency test to write at once.
    client = boto3.client("s3", endpoint_url=moto_url, config=Config(max_pool_connections=32))
    bucket = f"rel-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client, bucket


def test_missing_manifest_reads_as_none_and_first_write_creates_it(s3):
    client, bucket = s3
    assert rm.read_manifest(client, bucket, "run-a") is None
    rm.add_section(client, bucket, "run-a", "function", {"published": True, "new_live_etag": "E2"})
    stored = rm.read_manifest(client, bucket, "run-a")
    assert stored.manifest.function.new_live_etag == "E2"
    head = client.head_object(Bucket=bucket, Key="releases/run-a.json")
    assert head["ETag"] == stored.etag and head["ContentType"] == "application/json"


def test_sections_added_concurrently_all_survive(s3):
    client, bucket = s3
    run = "manual__2026-01-01T00:00:00+00:00"
    barrier = threading.Barrier(10)
    errors: list[BaseException] = []

    def invalidation(i: int) -> None:
        barrier.wait()
        rm.record_invalidation(client, bucket, run, f"DIST{i}", f"INV{i}")

    def function() -> None:
        barrier.wait()
        rm.add_section(
            client,
            bucket,
            run,
            "function",
            rm.FunctionSection(published=True, previous_live_etag="E1", new_live_etag="E2"),
        )

    def jobs() -> None:
        barrier.wait()
        hint = redact_token(new_token())
        rm.add_section(
            client, bucket, run, "jobs", {"changes": [{"job_id": "QDN-1", "token_hint": hint}]}
        )

    def content() -> None:
        barrier.wait()
        rm.add_section(
            client, bucket, run, "content", {"build_after": "build-b", "kvs_arn": "arn:kvs"}
        )

    def run_safely(fn, *args):
        try:
            fn(*args)
        except BaseException as err:  # surfaced below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=run_safely, args=(invalidation, i)) for i in range(7)]
    threads += [threading.Thread(target=run_safely, args=(f,)) for f in (function, jobs, content)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors

    manifest = rm.read_manifest(client, bucket, run).manifest
    assert manifest.invalidations == {f"DIST{i}": f"INV{i}" for i in range(7)}
    assert manifest.function.new_live_etag == "E2"
    assert manifest.jobs.changes[0].job_id == "QDN-1"
    assert manifest.content.build_after == "build-b"
    # Every write was conditional, so each one is a version of its own: nothing overwrote another.
    listed = client.list_object_versions(Bucket=bucket, Prefix=rm.manifest_key(run))
    assert len(listed["Versions"]) == 10


def test_update_retries_on_a_lost_race(s3):
    client, bucket = s3
    rm.add_section(client, bucket, "run-b", "invalidations", {"D1": "I1"})
    calls = 0

    def change(manifest: rm.ReleaseManifest) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # another writer lands between our read and our write
            rm.record_invalidation(client, bucket, "run-b", "D2", "I2")
        manifest.invalidations = {**(manifest.invalidations or {}), "D3": "I3"}

    rm.update_manifest(client, bucket, "run-b", change)
    assert calls == 2
    assert rm.read_manifest(client, bucket, "run-b").manifest.invalidations == {
        "D1": "I1",
        "D2": "I2",
        "D3": "I3",
    }


def test_an_unchanged_update_writes_nothing(s3):
    client, bucket = s3
    rm.record_invalidation(client, bucket, "run-c", "D1", "I1")
    rm.record_invalidation(client, bucket, "run-c", "D1", "I1")
    listed = client.list_object_versions(Bucket=bucket, Prefix=rm.manifest_key("run-c"))
    assert len(listed["Versions"]) == 1


def test_full_tokens_never_enter_a_manifest():
    token = new_token()
    with pytest.raises(ValidationError, match="full tokens never go into a manifest"):
        rm.JobChange(job_id="QDN-1", token_hint=token)
    assert rm.JobChange(job_id="QDN-1", token_hint=redact_token(token)).token_hint.endswith("…")


def test_bad_names_are_refused(s3):
    client, bucket = s3
    with pytest.raises(rm.ReleaseManifestError, match="unknown manifest section 'extra'"):
        rm.add_section(client, bucket, "run-d", "extra", {})
    with pytest.raises(rm.ReleaseManifestError, match="no slashes"):
        rm.manifest_key("../data/jobs")
    with pytest.raises(rm.ReleaseManifestError, match="distribution id -> invalidation id"):
        rm.add_section(client, bucket, "run-d", "invalidations", {"D1": 3})


def test_a_damaged_manifest_is_reported_not_overwritten(s3):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key=rm.manifest_key("run-e"), Body=b"{not json")
    with pytest.raises(rm.ReleaseManifestError, match="not a valid release manifest"):
        rm.record_invalidation(client, bucket, "run-e", "D1", "I1")
    body = client.get_object(Bucket=bucket, Key=rm.manifest_key("run-e"))["Body"].read()
    assert body == b"{not json"


def _entry(run: str, build: str, before: str | None = None) -> rm.HistoryEntry:
    return rm.HistoryEntry(run_id=run, build_id=build, previous_build=before)


def test_the_history_names_the_latest_switch(s3):
    client, bucket = s3
    assert rm.latest_release(client, bucket) is None
    for run in ("run-1", "run-2"):
        rm.add_section(
            client, bucket, run, "content", {"build_after": f"build-{run}", "kvs_arn": "arn:kvs"}
        )
    rm.record_switch(client, bucket, _entry("run-1", "build-run-1"))
    rm.record_switch(client, bucket, _entry("run-2", "build-run-2", "build-run-1"))
    assert rm.latest_release(client, bucket).content.build_after == "build-run-2"
    rm.record_switch(client, bucket, _entry("run-2", "build-run-2", "build-run-1"))  # a retry
    listed = client.list_object_versions(Bucket=bucket, Prefix=rm.HISTORY_KEY)
    assert len(listed["Versions"]) == 2
    assert [e.run_id for e in rm.read_history(client, bucket).releases] == ["run-2", "run-1"]

    rm.record_switch(client, bucket, _entry("run-gone", "build-x"))
    with pytest.raises(rm.ReleaseManifestError, match="does not exist"):
        rm.latest_release(client, bucket)


def test_the_history_is_bounded_and_survives_concurrent_switches(s3):
    client, bucket = s3
    runs = [f"run-{i}" for i in range(6)]
    threads = [
        threading.Thread(target=rm.record_switch, args=(client, bucket, _entry(r, "build-" + r)))
        for r in runs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = rm.read_history(client, bucket)
    assert sorted(e.run_id for e in history.releases) == runs  # none lost
    for i in range(rm.HISTORY_MAX_ENTRIES + 5):
        rm.record_switch(client, bucket, _entry(f"more-{i}", f"build-{i}"))
    assert len(rm.read_history(client, bucket).releases) == rm.HISTORY_MAX_ENTRIES


def test_a_damaged_history_is_reported(s3):
    client, bucket = s3
    client.put_object(Bucket=bucket, Key=rm.HISTORY_KEY, Body=b'{"releases": 3}')
    with pytest.raises(rm.ReleaseManifestError, match="restore its previous version"):
        rm.read_history(client, bucket)

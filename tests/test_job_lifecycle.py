"""The job records' life beyond one write, on a real moto server: the derived export, archiving
after the retention, and the one-time migration of a legacy ``data/jobs.json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from handlers_support import Api, close_api, event, new_job, open_api

from localaws import stack
from localaws.request_counter import RequestCounter
from qdn import config
from qdn.jobs import layout
from qdn.jobs.archive import archive_finished
from qdn.jobs.export import EXPORT_METADATA_KEY, rebuild_export
from qdn.jobs.legacy_document import JobsDocument
from qdn.jobs.migration import MigrationError, job_digest, migrate
from qdn.jobs.model import Job, JobStatus, NewJob
from qdn.jobs.records import JobRecords
from qdn.jobs.store import JobStore, import_job
from qdn_api.app import handler
from qdn_api.track import NOT_FOUND_MESSAGE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def api(moto_url: str) -> Iterator[Api]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield open_api(moto_url, monkeypatch)
        close_api()


def _jobs(count: int, *, start: datetime | None = None) -> list[Job]:
    start = start or datetime(2025, 6, 1, tzinfo=UTC)
    return [
        Job.create(
            NewJob(
                customer_name=f"Customer {n}",
                location=f"{n + 1} Elm Street",
                service_date=date(2025, 6, 10) + timedelta(days=n % 5),
                price=f"{100 + n}.00",
                status=["booked", "scheduled", "delivered"][n % 3],
            ),
            now=start + timedelta(seconds=n),
            idempotency_key=f"legacy-run-{n}/upload_job",
        )
        for n in range(count)
    ]


def _track(token: str) -> dict[str, Any]:
    return handler(event("GET", config.TRACK_API_PREFIX + token), None)


# --- the export -----------------------------------------------------------------------------------


def test_the_export_is_derived_labelled_and_rebuilt_from_changes_only(api: Api) -> None:
    jobs = _jobs(30)
    api.put_jobs(*jobs)
    first = rebuild_export(api.s3, api.bucket, now=datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    assert (first.jobs, first.read, first.reused) == (30, 30, 0)

    got = api.s3.get_object(Bucket=api.bucket, Key=config.JOBS_KEY)
    body = got["Body"].read()
    assert got["Metadata"][EXPORT_METADATA_KEY] == "2026-12-01T03:00:00Z"
    assert "no-store" in got["CacheControl"]
    export = json.loads(body)
    assert export["exported_at"] == "2026-12-01T03:00:00Z"
    assert export["source"] == f"s3://{api.bucket}/{config.JOBS_PREFIX}"
    assert "records are the truth" in export["note"]
    assert [Job.model_validate(j) for j in export["jobs"]] == jobs  # oldest first, unchanged
    # One job per line, as ops grep it.
    assert sum(1 for line in body.splitlines() if line.startswith(b'{"id":"QDN-')) == 30

    moved = jobs[4].transition(JobStatus.delivered, at=jobs[4].updated_at)
    api.s3.put_object(
        Bucket=api.bucket, Key=layout.job_key(moved.id), Body=moved.model_dump_json().encode()
    )
    counter = RequestCounter(api.s3)
    second = rebuild_export(api.s3, api.bucket)
    assert (second.jobs, second.read, second.reused) == (30, 1, 29)
    # The listing, the previous export (HEAD + GET), the one changed record, the new export.
    assert counter.counts == {"ListObjectsV2": 1, "HeadObject": 1, "GetObject": 2, "PutObject": 1}
    again = json.loads(api.s3.get_object(Bucket=api.bucket, Key=config.JOBS_KEY)["Body"].read())
    assert Job.model_validate(again["jobs"][4]) == moved
    assert JobRecords(api.s3, api.bucket).get(moved.id) == moved


def test_the_export_command_prints_what_it_did(api: Api, moto_url: str) -> None:
    api.put_jobs(*_jobs(3))
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_url,
        "PYTHONPATH": os.pathsep.join([f"{REPO}/plugins", REPO, f"{REPO}/site/api"]),
        **stack.FAKE_CREDENTIALS,
    }
    out = subprocess.run(
        [sys.executable, "-m", "qdn.cli", "--bucket", api.bucket, "jobs", "export"],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert "exported 3 job(s)" in out.stdout and "3 record(s) read" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "qdn.cli", "--bucket", api.bucket, "jobs", "archive",
         "--retention-days", "0"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 1 and "retention_days must be at least 1" in bad.stderr


# --- archiving ------------------------------------------------------------------------------------


def test_finished_jobs_past_the_retention_are_archived_and_stop_tracking(api: Api) -> None:
    done = new_job(customer_name="Done", status="scheduled")
    done = done.transition(JobStatus.completed, at=done.updated_at)
    gone = new_job(customer_name="Gone", status="booked")
    gone = gone.transition(JobStatus.cancelled, at=gone.updated_at)
    open_job = new_job(customer_name="Open", status="delivered")
    api.put_jobs(done, gone, open_job)
    now = datetime.now(UTC)

    assert archive_finished(api.s3, api.bucket, now=now).archived == []  # not old enough
    later = now + timedelta(days=config.JOB_RETENTION_DAYS + 1)
    report = archive_finished(api.s3, api.bucket, now=later)
    assert sorted(report.archived) == sorted([done.id, gone.id])

    for job in (done, gone):
        answer = _track(job.token)
        assert answer["statusCode"] == 404
        assert json.loads(answer["body"])["message"] == NOT_FOUND_MESSAGE
        archived = api.s3.get_object(Bucket=api.bucket, Key=layout.archive_key(job.id))
        assert Job.model_validate_json(archived["Body"].read()) == job
        for key in layout.all_index_keys(job):
            assert not _exists(api.s3, api.bucket, key), key
    assert _track(open_job.token)["statusCode"] == 200
    export = rebuild_export(api.s3, api.bucket)
    assert export.jobs == 1
    # A second run finds nothing left to do.
    assert archive_finished(api.s3, api.bucket, now=later).archived == []
    with pytest.raises(ValueError, match="at least 1"):
        archive_finished(api.s3, api.bucket, retention_days=0)


def _exists(s3: Any, bucket: str, key: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"))


# --- migration ------------------------------------------------------------------------------------


def test_migration_moves_every_job_once_and_proves_it(api: Api) -> None:
    jobs = _jobs(300)
    # Not in creation order, as a hand-edited file may be: the export keeps the file's order.
    jobs = jobs[150:] + jobs[:150]
    original = JobsDocument(jobs=jobs).to_json_bytes()
    api.put_legacy_jobs(original)
    sample = jobs[::37]

    # Every job stays findable through the track API at every moment of the migration: checked
    # after every 50th write the migration makes.
    writes = {"n": 0}
    missing: list[str] = []

    def check_tracking(**_: Any) -> None:
        writes["n"] += 1
        if writes["n"] % 50 == 0:
            missing.extend(j.id for j in sample if _track(j.token)["statusCode"] != 200)

    migrating = boto3.session.Session().client("s3", endpoint_url=api.s3.meta.endpoint_url)
    migrating.meta.events.register("after-call.s3.PutObject", check_tracking)
    report = migrate(migrating, api.bucket)

    assert writes["n"] > 300 and missing == []
    assert report.migrated and report.jobs == 300
    records = JobRecords(api.s3, api.bucket)
    for job in jobs:
        assert records.find_by_token(job.token) == job
        assert job_digest(records.get(job.id)) == job_digest(job)
    export = json.loads(api.s3.get_object(Bucket=api.bucket, Key=config.JOBS_KEY)["Body"].read())
    assert export["jobs"] == json.loads(original)["jobs"]  # the same jobs, in the same order
    kept = api.s3.get_object(Bucket=api.bucket, Key=report.backup)["Body"].read()
    assert kept == original

    # Once is enough: a second run writes nothing.
    counter = RequestCounter(api.s3)
    assert not migrate(api.s3, api.bucket).migrated
    assert counter.counts == {"HeadObject": 1}
    # A retried release run of before the migration finds its job by its key.
    logs = boto3.client("logs", endpoint_url=api.s3.meta.endpoint_url)
    group = f"/qdn/test-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    store = JobStore(api.s3, logs, bucket=api.bucket, log_group=group)
    assert store.records.get(jobs[0].id) == jobs[0]


def test_an_invalid_legacy_document_is_refused_and_nothing_is_written(api: Api) -> None:
    document = json.loads(JobsDocument(jobs=_jobs(3)).to_json_bytes())
    document["jobs"][2]["price"] = "-5.00"
    api.put_legacy_jobs(json.dumps(document).encode())
    with pytest.raises(MigrationError, match=r"jobs\[2\]\.price") as raised:
        migrate(api.s3, api.bucket)
    assert "Nothing was written" in str(raised.value)
    listed = api.s3.list_objects_v2(Bucket=api.bucket)["Contents"]
    assert [item["Key"] for item in listed] == [config.JOBS_KEY]


def test_a_migration_cut_short_is_finished_by_the_next_run(api: Api) -> None:
    jobs = _jobs(40)
    api.put_legacy_jobs(JobsDocument(jobs=jobs).to_json_bytes())
    dying = boto3.session.Session().client("s3", endpoint_url=api.s3.meta.endpoint_url)
    count = {"n": 0}

    def die(**_: Any) -> None:
        count["n"] += 1
        if count["n"] == 60:
            raise RuntimeError("the migrating process was killed")

    dying.meta.events.register("before-call.s3.PutObject", die)
    with pytest.raises(RuntimeError, match="killed"):
        migrate(dying, api.bucket)
    # Not finished: data/jobs.json is still the legacy document, and still serves the API.
    assert _track(jobs[-1].token)["statusCode"] == 200
    report = migrate(api.s3, api.bucket)
    assert report.migrated and report.jobs == 40
    assert all(JobRecords(api.s3, api.bucket).find_by_token(j.token) == j for j in jobs)


def test_a_record_changed_during_the_migration_is_kept_not_reverted(api: Api) -> None:
    jobs = _jobs(5)
    api.put_legacy_jobs(JobsDocument(jobs=jobs).to_json_bytes())
    moved = jobs[1].transition(JobStatus.delivered, at=jobs[1].updated_at + timedelta(minutes=1))
    import_job(api.s3, api.bucket, moved)  # the new store changed it before the migration ran
    migrate(api.s3, api.bucket)
    assert JobRecords(api.s3, api.bucket).get(moved.id) == moved

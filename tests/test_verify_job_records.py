"""The nightly job-records check on a real moto server: a clean history passes, and each planted
fault fails it with a message naming the record, never a token."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from localaws.request_counter import RequestCounter
from qdn import config
from qdn.jobs import layout
from qdn.jobs.export import read_export, rebuild_export
from qdn.jobs.model import Job, JobStatus, NewJob
from qdn.jobs.store import import_job
from qdn.verify.job_records import check_job_records


@pytest.fixture
def bucket(moto_url: str) -> Iterator[tuple[object, str]]:
    s3 = boto3.client("s3", endpoint_url=moto_url)
    name = f"qdn-verify-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    yield s3, name


def _jobs(count: int) -> list[Job]:
    start = datetime.now(UTC) - timedelta(days=2)
    return [
        Job.create(
            NewJob(
                customer_name=f"Customer {n}",
                location=f"{n + 1} Elm Street",
                service_date="2026-12-10",
                price="90",
                status=["booked", "scheduled"][n % 2],
            ),
            now=start + timedelta(minutes=n),
            idempotency_key=None,
        )
        for n in range(count)
    ]


def _planted(s3, name: str, count: int = 12) -> list[Job]:
    jobs = _jobs(count)
    for job in jobs:
        import_job(s3, name, job)
    rebuild_export(s3, name)
    return jobs


def test_a_clean_history_passes_reading_only_what_changed(bucket) -> None:
    s3, name = bucket
    jobs = _planted(s3, name)
    counter = RequestCounter(s3)
    result = check_job_records(s3, name)
    assert result.passed, result.summary()
    assert result.counts["booked"] == 6 and result.counts["scheduled"] == 6
    assert result.counts["completed"] == 0
    # Unchanged since the export: no record is read one by one.
    assert counter.counts.get("GetObject", 0) == 1  # the export itself
    moved = jobs[0].transition(JobStatus.delivered, at=datetime.now(UTC))
    s3.put_object(Bucket=name, Key=layout.job_key(moved.id), Body=moved.model_dump_json().encode())
    counter.reset()
    again = check_job_records(s3, name)
    assert again.passed, again.summary()
    # The export and the one changed record, for the check and again for the rebuild: none for
    # the eleven unchanged jobs.
    assert counter.counts["GetObject"] == 4
    assert any("export rebuilt" in note for note in again.notes)
    export = read_export(s3, name)
    assert {j["id"]: j["status"] for j in export["jobs"]}[moved.id] == "delivered"


def test_an_invalid_record_fails_naming_its_key(bucket) -> None:
    s3, name = bucket
    jobs = _planted(s3, name)
    key = layout.job_key(jobs[3].id)
    s3.put_object(Bucket=name, Key=key, Body=b"{not json")
    result = check_job_records(s3, name)
    assert not result.passed
    assert result.problems[0] == f"{key} is not JSON"
    assert "not rebuilt while records are invalid" in result.summary()


def test_a_duplicated_token_fails_naming_both_jobs(bucket) -> None:
    s3, name = bucket
    jobs = _planted(s3, name)
    twin = json.loads(jobs[1].model_dump_json())
    twin["token"] = jobs[0].token
    s3.put_object(Bucket=name, Key=layout.job_key(jobs[1].id), Body=json.dumps(twin).encode())
    result = check_job_records(s3, name)
    assert not result.passed
    ids = ", ".join(sorted([jobs[0].id, jobs[1].id]))
    assert f"jobs {ids} share one tracking token" in result.problems
    assert jobs[0].token not in result.summary()


def test_missing_and_orphan_lookups_fail(bucket) -> None:
    s3, name = bucket
    jobs = _planted(s3, name)
    s3.delete_object(Bucket=name, Key=layout.token_key(jobs[5].token))
    orphan = config.JOB_TOKENS_PREFIX + "0" * 64 + ".json"
    s3.put_object(Bucket=name, Key=orphan, Body=b'{"job_id": "QDN-AAAAAAAAAA"}\n')
    result = check_job_records(s3, name)
    assert f"job {jobs[5].id} has no token lookup: its tracking link fails" in result.problems
    assert f"{orphan} is a token lookup for no job record" in result.problems
    assert len(result.problems) == 2

"""The job store against a real moto server over HTTP: one object per job, races, crashes, audit.

Each test gets its own versioned bucket and its own audit log group, so object versions and audit
events belong to that test alone.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from qdn import config, headers
from qdn.jobs import layout
from qdn.jobs.audit import AuditEvent, AuditLog
from qdn.jobs.model import (
    ALLOWED_TRANSITIONS,
    InvalidTransitionError,
    Job,
    JobStatus,
    NewJob,
    job_id_for_key,
    new_token,
    redact_token,
)
from qdn.jobs.records import JobRecords
from qdn.jobs.store import (
    AuditIncomplete,
    IdempotencyKeyReused,
    InvalidJobInput,
    JobNotFound,
    JobStore,
    JobStoreConflict,
    JobStoreError,
    new_job_fields,
    run_idempotency_key,
)

JOB = {
    "customer_name": "Mark Ruiz",
    "customer_phone": "+1 555 010 0199",
    "customer_email": "mark@example.com",
    "location": "12 Soderblom Ave",
    "city": "Springfield",
    "postal_code": "62701",
    "service_date": "2026-12-10",
    "price": "600",
    "currency": "USD",
    "status": "scheduled",
    "notes": "gate code at the office",
}


class Crash(RuntimeError):
    """Stands for the worker dying: not an error the store knows how to handle."""


@dataclass
class Env:
    moto_url: str
    bucket: str
    log_group: str
    s3: Any
    logs: Any

    def client(self, service: str) -> Any:
        # A session each: boto3's default session is not safe to share across threads.
        return boto3.session.Session().client(service, endpoint_url=self.moto_url)

    def store(self, *, s3: Any = None, logs: Any = None, **kwargs: Any) -> JobStore:
        return JobStore(
            s3 or self.s3, logs or self.logs, bucket=self.bucket, log_group=self.log_group, **kwargs
        )

    def jobs(self) -> list[Job]:
        """Every record, by listing: what the export and the nightly check see."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=config.JOBS_PREFIX)
        ids = [layout.job_id_of(item["Key"]) for item in listed.get("Contents", [])]
        return [job for job in JobRecords(self.s3, self.bucket).get_many(ids) if job]

    def versions(self) -> int:
        """Every object version and delete marker under data/: any write at all shows here."""
        listed = self.s3.list_object_versions(Bucket=self.bucket, Prefix=config.DATA_PREFIX)
        return len(listed.get("Versions", [])) + len(listed.get("DeleteMarkers", []))

    def keys(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for item in listed.get("Contents", [])]

    def audit_events(self) -> list[dict[str, Any]]:
        events = self.logs.filter_log_events(logGroupName=self.log_group)["events"]
        return [json.loads(e["message"]) for e in events]


@pytest.fixture
def env(moto_url: str) -> Env:
    s3 = boto3.client("s3", endpoint_url=moto_url)
    logs = boto3.client("logs", endpoint_url=moto_url)
    suffix = uuid.uuid4().hex[:12]
    bucket = f"qdn-jobs-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    log_group = f"{config.AUDIT_LOG_GROUP}/test-{suffix}"
    logs.create_log_group(logGroupName=log_group)
    return Env(moto_url, bucket, log_group, s3, logs)


def _on(client: Any, event: str, handler: Callable[..., Any]) -> None:
    client.meta.events.register(event, handler)


def _crash_on(client: Any, event: str, why: str, *, key_prefix: str = "") -> None:
    def die(params: dict[str, Any] | None = None, **_: Any) -> None:
        if not key_prefix or (params or {}).get("Key", "").startswith(key_prefix):
            raise Crash(why)

    _on(client, event, die)


def _count_calls(*clients: Any) -> list[str]:
    calls: list[str] = []
    for client in clients:
        _on(client, "before-call.*.*", lambda model, **_: calls.append(model.name))
    return calls


def _in_threads(count: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``work(i)`` for each i at once, released together by a barrier."""
    barrier = threading.Barrier(count, timeout=30)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


# --- create -----------------------------------------------------------------------------------


def test_create_writes_one_private_record_its_lookup_and_index_and_audits_it(env: Env) -> None:
    s3, logs = env.client("s3"), env.client("logs")
    calls = _count_calls(s3, logs)
    result = env.store(s3=s3, logs=logs).create(
        JOB, idempotency_key="qdn_release/manual__1/upload_job"
    )

    job = result.job
    assert result.created and result.attempts == 1
    assert job.customer.name == "Mark Ruiz" and job.status is JobStatus.scheduled
    assert len(job.token) >= 22  # at least 128 bits
    assert env.store().find(job.token) == job
    assert env.store().get(job.id) == job

    head = env.s3.head_object(Bucket=env.bucket, Key=layout.job_key(job.id))
    assert head["ETag"] == result.etag
    assert head["CacheControl"] == headers.PRIVATE_CACHE_CONTROL
    assert head["ContentType"] == "application/json"
    assert env.keys(config.JOB_TOKENS_PREFIX) == [layout.token_key(job.token)]
    assert job.id == job_id_for_key("qdn_release/manual__1/upload_job")
    assert sorted(env.keys(config.JOB_INDEX_PREFIX)) == sorted(layout.index_entries(job).present)
    # The day's first event creates its audit stream.
    assert sorted(calls) == sorted(
        ["PutObject"] * 4 + ["PutLogEvents", "CreateLogStream", "PutLogEvents"]
    )
    # Then the whole cost of a new job: four create-only or idempotent PUTs and the audit event;
    # no read, no listing, nothing that grows with the number of jobs.
    calls.clear()
    env.store(s3=s3, logs=logs).create(JOB, idempotency_key="qdn_release/manual__2/upload_job")
    assert sorted(calls) == sorted(["PutObject"] * 4 + ["PutLogEvents"])

    event = env.audit_events()[0]
    assert event == {
        "action": "job.created",
        "job_id": job.id,
        "token_hint": redact_token(job.token),
        "idempotency_key": "qdn_release/manual__1/upload_job",
        "status": "scheduled",
        "jobs_etag": result.etag,
        "at": job.created_at.isoformat().replace("+00:00", "Z"),
    }
    raw = json.dumps(event)
    for secret in (job.token, "Mark Ruiz", "555", "mark@example.com", "Soderblom", "62701"):
        assert secret not in raw


def test_same_key_returns_the_same_job_and_writes_nothing(env: Env) -> None:
    first = env.store().create(JOB, idempotency_key="run-1/upload_job")
    versions = env.versions()

    again = env.store().create(NewJob.model_validate(JOB), idempotency_key="run-1/upload_job")

    assert not again.created
    assert (again.job.id, again.job.token) == (first.job.id, first.job.token)
    assert again.etag == first.etag
    assert env.versions() == versions + 2  # the two index entries, rewritten as they were
    assert len(env.jobs()) == 1
    assert len(env.audit_events()) == 1


def test_same_key_with_a_different_job_is_refused(env: Env) -> None:
    env.store().create(JOB, idempotency_key="run-1/upload_job")
    versions = env.versions()

    with pytest.raises(IdempotencyKeyReused, match=r"different price") as raised:
        env.store().create({**JOB, "price": "650"}, idempotency_key="run-1/upload_job")

    assert "650" not in str(raised.value) and "600" not in str(raised.value)
    assert env.versions() == versions


def test_invalid_job_is_refused_before_any_aws_call(env: Env) -> None:
    s3, logs = env.client("s3"), env.client("logs")
    calls = _count_calls(s3, logs)
    store = env.store(s3=s3, logs=logs)

    bad = {**JOB, "price": "-5", "customer_name": "  "}
    with pytest.raises(InvalidJobInput) as raised:
        store.create(bad, idempotency_key="run-1/upload_job")
    assert "price" in str(raised.value) and "customer_name" in str(raised.value)
    with pytest.raises(InvalidJobInput, match=r"customer_name.*control character U\+0000"):
        store.create({**JOB, "customer_name": "Mark\u0000\u0007"}, idempotency_key="run-1/x")

    with pytest.raises(InvalidJobInput, match="idempotency_key"):
        store.create(JOB, idempotency_key='run "1"')
    with pytest.raises(InvalidJobInput, match="status 'lost' is not one of"):
        store.update_status("QDN-AAAAAAAAAA", "lost", idempotency_key="run-1/x")
    with pytest.raises(InvalidJobInput, match="note"):
        store.update_status("QDN-AAAAAAAAAA", "delivered", idempotency_key="k", note="x" * 495)
    with pytest.raises(InvalidJobInput, match="timezone-aware"):
        store.create(JOB, idempotency_key="run-1/upload_job", now=datetime(2026, 11, 1))
    with pytest.raises(InvalidJobInput, match="CloudWatch Logs refuses older events"):
        store.create(JOB, idempotency_key="run-1/upload_job", now=_now() - timedelta(days=15))
    with pytest.raises(InvalidJobInput, match="after now"):
        store.update_status(
            "QDN-AAAAAAAAAA", "delivered", idempotency_key="k", now=_now() + timedelta(hours=3)
        )
    unvalidated = NewJob.model_construct(**{**JOB, "price": "free"})
    with pytest.raises(InvalidJobInput, match="price"):
        store.create(unvalidated, idempotency_key="run-1/upload_job")

    assert calls == []
    assert env.versions() == 0


def test_a_reader_without_a_logs_client_cannot_write(env: Env) -> None:
    written = env.store().create(JOB, idempotency_key="run-1/upload_job")
    s3 = env.client("s3")
    calls = _count_calls(s3)
    reader = JobStore(s3, bucket=env.bucket)

    with pytest.raises(JobStoreError, match="audited"):
        reader.create(JOB, idempotency_key="run-2/upload_job")
    assert calls == []

    assert reader.find(written.job.token) == written.job
    assert reader.find(new_token()) is None


def test_the_stored_fields_map_back_to_every_new_job_field(env: Env) -> None:
    created = env.store().create(JOB, idempotency_key="run-1/upload_job")
    assert set(new_job_fields(created.job)) == set(NewJob.model_fields)
    assert NewJob.model_validate(new_job_fields(created.job)) == NewJob.model_validate(JOB)


# --- many writers ---------------------------------------------------------------------------------


def test_32_writers_of_new_jobs_never_wait_on_each_other(env: Env) -> None:
    # One client pair for all: boto3 clients are thread-safe, and 64 of them would take longer
    # to build than the writes take.
    stores = [env.store() for _ in range(32)]
    results, errors = _in_threads(
        32,
        lambda i: stores[i].create(
            {**JOB, "customer_name": f"Customer {i}"}, idempotency_key=f"race-{i}/upload_job"
        ),
    )
    assert not errors, errors
    jobs = env.jobs()
    assert len(jobs) == 32  # none lost
    assert len({job.id for job in jobs}) == len({job.token for job in jobs}) == 32  # none twice
    assert {job.customer.name for job in jobs} == {f"Customer {i}" for i in range(32)}
    assert all(r.created and r.attempts == 1 for r in results)
    records = JobRecords(env.s3, env.bucket)
    assert all(records.find_by_token(r.job.token) == r.job for r in results)
    assert len(env.audit_events()) == 32


def test_the_same_run_triggered_eight_times_at_once_makes_one_job(env: Env) -> None:
    stores = [env.store() for _ in range(8)]
    results, errors = _in_threads(
        8, lambda i: stores[i].create(JOB, idempotency_key="qdn_release/run-1/upload_job")
    )
    assert not errors, errors
    [job] = env.jobs()
    assert {(r.job.id, r.job.token) for r in results} == {(job.id, job.token)}
    assert sum(r.created for r in results) == 1
    assert len(env.keys(config.JOB_TOKENS_PREFIX)) == 1


def test_32_status_changes_of_one_job_are_each_recorded_or_refused_never_lost(env: Env) -> None:
    created = env.store().create({**JOB, "status": "booked"}, idempotency_key="run-1/upload_job")
    targets = [
        [JobStatus.scheduled, JobStatus.delivered, JobStatus.ready_for_pickup][i % 3]
        for i in range(32)
    ]
    stores = [env.store() for _ in range(32)]
    results, errors = _in_threads(
        32,
        lambda i: stores[i].update_status(
            created.job.id, targets[i], idempotency_key=f"dispatch-{i}"
        ),
    )
    for error in errors:
        # Refused with the model's reason (this job has moved past that status) or, for a writer
        # that lost every round, the conflict's own message; never silently.
        assert isinstance(error, InvalidTransitionError | JobStoreConflict), error
        assert "nothing was written" in str(error).lower() or "nothing was" in str(error)
    final = env.store().get(created.job.id)
    recorded = [entry.note for entry in final.history[1:]]
    succeeded = [i for i, result in enumerate(results) if result is not None]
    assert len(succeeded) + len(errors) == 32
    assert sorted(recorded) == sorted(f"[idempotency_key=dispatch-{i}]" for i in succeeded)
    for before, after in zip(final.history, final.history[1:], strict=False):
        assert after.status in ALLOWED_TRANSITIONS[before.status]
    # The dashboard's status index follows the record: one entry, the current status.
    statuses = [key.split("/")[3] for key in env.keys(layout.STATUS_INDEX)]
    assert statuses == [final.status.value]


def test_a_starved_writer_gives_up_and_writes_nothing(env: Env) -> None:
    created = env.store().create({**JOB, "status": "booked"}, idempotency_key="run-1/upload_job")
    other = env.client("s3")
    key = layout.job_key(created.job.id)

    def someone_else_writes_first(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key") == key:
            body = other.get_object(Bucket=env.bucket, Key=key)["Body"].read()
            # The same job with one more space: a new ETag, as another writer's change makes.
            other.put_object(Bucket=env.bucket, Key=key, Body=body + b" ")

    s3 = env.client("s3")
    _on(s3, "before-parameter-build.s3.PutObject", someone_else_writes_first)
    with pytest.raises(JobStoreConflict, match=r"each of 3 attempts") as raised:
        env.store(s3=s3, attempts=3).update_status(created.job.id, "delivered", idempotency_key="d")

    assert "retry" in str(raised.value)
    assert env.store().get(created.job.id).status is JobStatus.booked
    assert [e["action"] for e in env.audit_events()] == ["job.created"]


# --- crashes and retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "key_prefix"),
    [
        (
            "before-parameter-build.s3.PutObject",
            config.JOBS_PREFIX,
        ),  # after the claim, before the record
        (
            "before-parameter-build.s3.PutObject",
            config.JOB_TOKENS_PREFIX,
        ),  # record written, link not yet
        ("before-parameter-build.s3.PutObject", config.JOB_INDEX_PREFIX),
        ("before-call.logs.PutLogEvents", ""),  # everything in S3, no audit event
        ("after-call.logs.PutLogEvents", ""),  # all done, the worker dies before returning
    ],
)
def test_a_crash_at_any_step_then_a_retry_completes_one_job(
    env: Env, event: str, key_prefix: str
) -> None:
    s3, logs = env.client("s3"), env.client("logs")
    _crash_on(s3 if ".s3." in event else logs, event, "worker died", key_prefix=key_prefix)
    with pytest.raises(Crash):
        env.store(s3=s3, logs=logs).create(JOB, idempotency_key="run-7/upload_job")

    retried = env.store().create(JOB, idempotency_key="run-7/upload_job")

    [job] = env.jobs()
    assert (retried.job.id, retried.job.token) == (job.id, job.token)
    assert env.store().find(job.token) == job
    assert len(env.keys(config.JOB_TOKENS_PREFIX)) == 1
    assert sorted(env.keys(config.JOB_INDEX_PREFIX)) == sorted(layout.index_entries(job).present)
    [audit] = env.audit_events()
    assert audit["job_id"] == job.id and audit["action"] == "job.created"


def test_a_failed_audit_is_reported_and_the_retry_only_writes_the_event(env: Env) -> None:
    missing_group = env.log_group + "-not-bootstrapped"
    store = JobStore(
        env.client("s3"), env.client("logs"), bucket=env.bucket, log_group=missing_group
    )
    with pytest.raises(AuditIncomplete, match="bootstrap") as raised:
        store.create(JOB, idempotency_key="run-9/upload_job")
    [written] = env.jobs()
    message = str(raised.value)
    assert written.id in message and "Retry the task" in message
    assert written.token not in message

    env.logs.create_log_group(logGroupName=missing_group)
    retried = store.create(JOB, idempotency_key="run-9/upload_job")

    assert not retried.created and retried.job.token == written.token
    assert len(env.jobs()) == 1
    events = env.logs.filter_log_events(logGroupName=missing_group)["events"]
    assert [json.loads(e["message"])["job_id"] for e in events] == [written.id]


# --- status changes -----------------------------------------------------------------------------


def test_status_changes_follow_the_allowed_transitions_once_per_key(env: Env) -> None:
    created = env.store().create({**JOB, "status": "booked"}, idempotency_key="run-1/upload_job")
    job_id = created.job.id

    moved = env.store().update_status(
        job_id, JobStatus.scheduled, idempotency_key="dispatch-1", note="truck 4"
    )
    assert moved.created and moved.job.status is JobStatus.scheduled
    assert [c.status for c in moved.job.history] == [JobStatus.booked, JobStatus.scheduled]
    assert moved.job.history[-1].note == "truck 4 [idempotency_key=dispatch-1]"
    assert moved.job.token == created.job.token
    assert env.store().get(job_id) == moved.job
    assert env.keys(layout.status_index("scheduled")) == [
        layout.status_index("scheduled") + layout.order(moved.job)
    ]
    assert env.keys(layout.status_index("booked")) == []

    again = env.store().update_status(job_id, "scheduled", idempotency_key="dispatch-1")
    assert not again.created and again.job == moved.job

    with pytest.raises(IdempotencyKeyReused, match=r"already moved job .* to scheduled"):
        env.store().update_status(job_id, "delivered", idempotency_key="dispatch-1")

    env.store().update_status(job_id, "delivered", idempotency_key="dispatch-2")
    versions = env.versions()
    with pytest.raises(InvalidTransitionError, match="cannot go from delivered to booked"):
        env.store().update_status(job_id, "booked", idempotency_key="dispatch-3")
    with pytest.raises(JobNotFound, match="QDN-AAAAAAAAAA"):
        env.store().update_status("QDN-AAAAAAAAAA", "delivered", idempotency_key="dispatch-4")
    assert env.versions() == versions

    events = env.audit_events()
    assert [(e["action"], e["status"], e["idempotency_key"]) for e in events] == [
        ("job.created", "booked", "run-1/upload_job"),
        ("job.status_changed", "scheduled", "dispatch-1"),
        ("job.status_changed", "delivered", "dispatch-2"),
    ]


def test_a_status_change_costs_one_read_one_write_and_its_index_and_audit(env: Env) -> None:
    yesterday = _now() - timedelta(days=1)
    created = env.store().create(
        {**JOB, "status": "booked"}, idempotency_key="run-1/upload_job", now=yesterday
    )
    # Today's audit stream exists already, as it does after the day's first change.
    env.logs.create_log_stream(logGroupName=env.log_group, logStreamName=_now().date().isoformat())
    s3, logs = env.client("s3"), env.client("logs")
    calls = _count_calls(s3, logs)
    env.store(s3=s3, logs=logs).update_status(created.job.id, "scheduled", idempotency_key="d-1")
    # A job last changed a day ago has nobody else at work on it: no settling read.
    assert sorted(calls) == sorted(
        ["GetObject", "PutObject", "PutObject", "DeleteObjects", "PutLogEvents"]
    )
    calls.clear()
    # Changed a moment ago: someone may be at work on it, so the index is settled (one more GET).
    env.store(s3=s3, logs=logs).update_status(created.job.id, "delivered", idempotency_key="d-2")
    assert sorted(calls) == sorted(
        ["GetObject", "PutObject", "PutObject", "DeleteObjects", "PutLogEvents", "GetObject"]
    )


def test_a_status_change_retried_after_a_crash_is_applied_and_audited_once(env: Env) -> None:
    created = env.store().create({**JOB, "status": "booked"}, idempotency_key="run-1/upload_job")
    logs = env.client("logs")
    _crash_on(logs, "before-call.logs.PutLogEvents", "worker died")
    with pytest.raises(Crash):
        env.store(logs=logs).update_status(created.job.id, "delivered", idempotency_key="d-1")

    retried = env.store().update_status(created.job.id, "delivered", idempotency_key="d-1")

    assert not retried.created
    assert [c.status.value for c in retried.job.history] == ["booked", "delivered"]
    assert [e["action"] for e in env.audit_events()] == ["job.created", "job.status_changed"]


# --- logs ---------------------------------------------------------------------------------------


def test_logs_name_the_job_and_never_the_full_token(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="qdn")
    created = env.store().create({**JOB, "status": "booked"}, idempotency_key="run-1/upload_job")
    env.store().create({**JOB, "status": "booked"}, idempotency_key="run-1/upload_job")
    env.store().update_status(created.job.id, "delivered", idempotency_key="d-1")
    env.store().update_status(created.job.id, "delivered", idempotency_key="d-1")

    text = caplog.text
    token = created.job.token
    assert token not in text
    assert redact_token(token) in text
    hint = redact_token(token)
    assert f"created job {created.job.id} (token {hint}) at s3://" in text
    assert "booked -> delivered" in text and "after 1 attempt" in text
    assert "nothing written" in text and "missing pieces completed" in text
    assert "Mark Ruiz" not in text and "mark@example.com" not in text


# --- the parts ----------------------------------------------------------------------------------


def test_run_idempotency_key_is_stable_per_task_and_checked() -> None:
    key = run_idempotency_key("qdn_release", "manual__2026-11-26T10:00:00+00:00", "upload_job")
    assert key == "qdn_release/manual__2026-11-26T10:00:00+00:00/upload_job"
    assert run_idempotency_key("d", "r", "t", 3) == "d/r/t/3"
    with pytest.raises(InvalidJobInput):
        run_idempotency_key("d", "run with spaces", "t")


def test_audit_record_is_idempotent(env: Env) -> None:
    job = Job.create(NewJob.model_validate(JOB), now=_now(), idempotency_key="k-1")
    audit = AuditLog(env.logs, log_group=env.log_group)
    event = AuditEvent.created(job, idempotency_key="k-1", jobs_etag='"abc"')

    assert audit.record(event).written
    retry = AuditEvent.created(job, idempotency_key="k-1", jobs_etag='"later"')
    assert not audit.record(retry).written
    assert len(audit.find(event)) == 1
    other = AuditEvent.created(job, idempotency_key="k-2", jobs_etag='"abc"')
    assert audit.find(other) == []
    assert [e["idempotency_key"] for e in env.audit_events()] == ["k-1"]


def _now() -> datetime:
    return datetime.now(UTC)

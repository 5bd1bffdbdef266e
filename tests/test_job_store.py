"""The job store against a real moto server over HTTP: conditional writes, races, crashes, audit.

Each test gets its own versioned bucket seeded with an empty ``jobs.json`` and its own audit log
group, so version counts and audit events belong to that test alone.
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
from qdn.jobs.audit import AuditEvent, AuditLog
from qdn.jobs.model import (
    InvalidTransitionError,
    Job,
    JobsDocument,
    JobStatus,
    NewJob,
    new_token,
    redact_token,
)
from qdn.jobs.store import (
    DEFAULT_MAX_ATTEMPTS,
    AuditIncomplete,
    IdempotencyKeyReused,
    InvalidJobInput,
    JobNotFound,
    JobsDocumentInvalid,
    JobsDocumentMissing,
    JobStore,
    JobStoreConflict,
    JobStoreError,
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
EMPTY = json.dumps({"schema_version": 1, "jobs": []}).encode()


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
        # The shared clients carry no hooks; a test that injects one builds its own client.
        return JobStore(
            s3 or self.s3,
            logs or self.logs,
            bucket=self.bucket,
            key=config.JOBS_KEY,
            log_group=self.log_group,
            **kwargs,
        )

    def document(self) -> JobsDocument:
        body = self.s3.get_object(Bucket=self.bucket, Key=config.JOBS_KEY)["Body"].read()
        return JobsDocument.from_json_bytes(body)

    def versions(self) -> int:
        listed = self.s3.list_object_versions(Bucket=self.bucket, Prefix=config.JOBS_KEY)
        return len(listed.get("Versions", []))

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
    s3.put_object(
        Bucket=bucket,
        Key=config.JOBS_KEY,
        Body=EMPTY,
        ContentType="application/json",
        CacheControl=headers.PRIVATE_CACHE_CONTROL,
    )
    log_group = f"{config.AUDIT_LOG_GROUP}/test-{suffix}"
    logs.create_log_group(logGroupName=log_group)
    return Env(moto_url, bucket, log_group, s3, logs)


def _on(client: Any, event: str, handler: Callable[..., Any]) -> None:
    client.meta.events.register(event, handler)


def _crash_on(client: Any, event: str, why: str) -> None:
    def die(**_: Any) -> None:
        raise Crash(why)

    _on(client, event, die)


def _count_calls(*clients: Any) -> list[str]:
    calls: list[str] = []
    for client in clients:
        _on(client, "before-call.*.*", lambda model, **_: calls.append(model.name))
    return calls


# --- create -----------------------------------------------------------------------------------


def test_create_writes_the_job_privately_and_audits_it_once(env: Env) -> None:
    result = env.store().create(JOB, idempotency_key="qdn_release/manual__1/upload_job")

    assert result.created and result.attempts == 1
    stored = env.document().find_by_token(result.job.token)
    assert stored == result.job
    assert stored.customer.name == "Mark Ruiz" and stored.status is JobStatus.scheduled
    assert len(result.job.token) >= 22  # at least 128 bits

    head = env.s3.head_object(Bucket=env.bucket, Key=config.JOBS_KEY)
    assert head["ETag"] == result.etag
    assert head["CacheControl"] == headers.PRIVATE_CACHE_CONTROL
    assert "no-store" in head["CacheControl"] and "public" not in head["CacheControl"]
    assert head["ContentType"] == "application/json"

    [event] = env.audit_events()
    assert event == {
        "action": "job.created",
        "job_id": result.job.id,
        "token_hint": redact_token(result.job.token),
        "idempotency_key": "qdn_release/manual__1/upload_job",
        "status": "scheduled",
        "jobs_etag": result.etag,
        "at": result.job.created_at.isoformat().replace("+00:00", "Z"),
    }
    raw = json.dumps(event)
    for secret in (result.job.token, "Mark Ruiz", "555", "mark@example.com", "Soderblom", "62701"):
        assert secret not in raw


def test_same_key_returns_the_same_job_and_writes_nothing(env: Env) -> None:
    store = env.store()
    first = store.create(JOB, idempotency_key="run-1/upload_job")
    versions = env.versions()

    again = env.store().create(NewJob.model_validate(JOB), idempotency_key="run-1/upload_job")

    assert not again.created and again.attempts == 1
    assert (again.job.id, again.job.token) == (first.job.id, first.job.token)
    assert again.etag == first.etag
    assert env.versions() == versions
    assert len(env.document().jobs) == 1
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
    assert env.versions() == 1


def test_a_reader_without_a_logs_client_cannot_write(env: Env) -> None:
    written = env.store().create(JOB, idempotency_key="run-1/upload_job")
    s3 = env.client("s3")
    calls = _count_calls(s3)
    reader = JobStore(s3, bucket=env.bucket, key=config.JOBS_KEY)

    with pytest.raises(JobStoreError, match="audited"):
        reader.create(JOB, idempotency_key="run-2/upload_job")
    assert calls == []

    assert reader.find(written.job.token) == written.job
    assert reader.find(new_token()) is None


# --- races ------------------------------------------------------------------------------------


def _racers(env: Env, count: int) -> list[JobStore]:
    """Stores whose first PUT waits until every racer has read: they all hold the same ETag."""
    barrier = threading.Barrier(count, timeout=30)
    stores = []
    for _ in range(count):
        s3 = env.client("s3")
        first_put = threading.Event()

        def hold(first_put: threading.Event = first_put, **_: Any) -> None:
            if not first_put.is_set():
                first_put.set()
                barrier.wait()

        _on(s3, "before-call.s3.PutObject", hold)
        stores.append(env.store(s3=s3))
    return stores


def _race(stores: list[JobStore], prefix: str = "race") -> list[Any]:
    results: list[Any] = [None] * len(stores)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = stores[index].create(
                {**JOB, "customer_name": f"Customer {index}"},
                idempotency_key=f"{prefix}-{index}/upload_job",
            )
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("writers", [2, 8])
def test_racing_writers_all_survive(env: Env, writers: int) -> None:
    results = _race(_racers(env, writers))

    document = env.document()
    assert len(document.jobs) == writers
    for result in results:
        assert document.find_by_token(result.job.token) == result.job
    # All read the same ETag before anyone wrote, so exactly one could win the first round.
    attempts = sorted(r.attempts for r in results)
    assert attempts[0] == 1 and attempts[1] >= 2
    assert max(attempts) <= DEFAULT_MAX_ATTEMPTS
    assert len(env.audit_events()) == writers
    assert env.versions() == writers + 1


def test_a_starved_writer_gives_up_and_leaves_the_document_intact(env: Env) -> None:
    other = env.client("s3")

    def someone_else_writes_first(**_: Any) -> None:
        body = other.get_object(Bucket=env.bucket, Key=config.JOBS_KEY)["Body"].read()
        document = JobsDocument.from_json_bytes(body)
        intruder = Job.create(
            NewJob.model_validate(JOB), now=_now(), idempotency_key=f"other-{len(document.jobs)}"
        )
        other.put_object(
            Bucket=env.bucket, Key=config.JOBS_KEY, Body=document.with_job(intruder).to_json_bytes()
        )

    s3 = env.client("s3")
    _on(s3, "before-call.s3.PutObject", someone_else_writes_first)
    sleeps: list[float] = []
    store = env.store(
        s3=s3, max_attempts=3, backoff_base=0.1, backoff_cap=0.15, sleep=sleeps.append
    )

    with pytest.raises(JobStoreConflict, match=r"each of 3 attempts") as raised:
        store.create(JOB, idempotency_key="starved/upload_job")

    assert "retry the task" in str(raised.value)
    document = env.document()
    assert [job.idempotency_key for job in document.jobs] == ["other-0", "other-1", "other-2"]
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.15
    assert env.audit_events() == []


# --- crashes and retries ----------------------------------------------------------------------


def test_a_crash_between_the_s3_write_and_the_audit_then_a_retry_makes_one_job(env: Env) -> None:
    logs = env.client("logs")
    _crash_on(logs, "before-call.logs.PutLogEvents", "worker died after writing jobs.json")
    with pytest.raises(Crash):
        env.store(logs=logs).create(JOB, idempotency_key="run-7/upload_job")
    [written] = env.document().jobs
    assert env.audit_events() == []
    versions = env.versions()

    retried = env.store().create(JOB, idempotency_key="run-7/upload_job")

    assert not retried.created
    assert (retried.job.id, retried.job.token) == (written.id, written.token)
    assert len(env.document().jobs) == 1 and env.versions() == versions
    [event] = env.audit_events()
    assert event["job_id"] == written.id and event["action"] == "job.created"


def test_a_crash_after_the_audit_then_a_retry_writes_no_second_event(env: Env) -> None:
    logs = env.client("logs")
    _crash_on(logs, "after-call.logs.PutLogEvents", "worker died before returning")
    with pytest.raises(Crash):
        env.store(logs=logs).create(JOB, idempotency_key="run-8/upload_job")

    retried = env.store().create(JOB, idempotency_key="run-8/upload_job")

    assert not retried.created
    assert len(env.document().jobs) == 1
    assert len(env.audit_events()) == 1


def test_a_failed_audit_is_reported_and_the_retry_only_writes_the_event(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    missing_group = env.log_group + "-not-bootstrapped"
    store = JobStore(
        env.client("s3"),
        env.client("logs"),
        bucket=env.bucket,
        key=config.JOBS_KEY,
        log_group=missing_group,
    )
    with pytest.raises(AuditIncomplete, match="bootstrap") as raised:
        store.create(JOB, idempotency_key="run-9/upload_job")
    [written] = env.document().jobs
    message = str(raised.value)
    assert written.id in message and "Retry the task" in message
    assert written.token not in message
    versions = env.versions()

    env.logs.create_log_group(logGroupName=missing_group)
    retried = store.create(JOB, idempotency_key="run-9/upload_job")

    assert not retried.created and retried.job.token == written.token
    assert env.versions() == versions
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
    assert env.document().find_by_id(job_id) == moved.job
    versions = env.versions()

    again = env.store().update_status(job_id, "scheduled", idempotency_key="dispatch-1")
    assert not again.created and again.job == moved.job
    assert env.versions() == versions

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


def test_status_changes_race_with_new_jobs_without_losing_either(env: Env) -> None:
    created = env.store().create({**JOB, "status": "booked"}, idempotency_key="run-1/upload_job")
    stores = _racers(env, 2)
    errors: list[BaseException] = []

    def move() -> None:
        try:
            stores[0].update_status(created.job.id, "delivered", idempotency_key="d-1")
        except BaseException as exc:
            errors.append(exc)

    def add() -> None:
        try:
            stores[1].create(JOB, idempotency_key="run-2/upload_job")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=move), threading.Thread(target=add)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    document = env.document()
    assert len(document.jobs) == 2
    assert document.find_by_id(created.job.id).status is JobStatus.delivered


# --- reading ------------------------------------------------------------------------------------


def test_a_missing_document_says_to_run_the_bootstrap(env: Env) -> None:
    env.s3.delete_object(Bucket=env.bucket, Key=config.JOBS_KEY)
    with pytest.raises(JobsDocumentMissing, match="bootstrap"):
        env.store().read()
    with pytest.raises(JobsDocumentMissing, match="bootstrap"):
        env.store().create(JOB, idempotency_key="run-1/upload_job")


def test_an_invalid_document_names_the_field_and_is_never_rewritten(env: Env) -> None:
    broken = {"schema_version": 1, "jobs": [{"id": "QDN-AAAAAAAAAA", "token": "short"}]}
    env.s3.put_object(Bucket=env.bucket, Key=config.JOBS_KEY, Body=json.dumps(broken).encode())
    versions = env.versions()

    with pytest.raises(JobsDocumentInvalid, match=r"jobs\[0\]\.token") as raised:
        env.store().create(JOB, idempotency_key="run-1/upload_job")

    assert "Nothing was written" in str(raised.value)
    assert env.versions() == versions
    assert env.audit_events() == []


# --- logs ---------------------------------------------------------------------------------------


def test_logs_name_the_job_and_never_the_full_token(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="qdn")
    created = env.store().create({**JOB, "status": "booked"}, idempotency_key="run-1/upload_job")
    env.store().create({**JOB, "status": "booked"}, idempotency_key="run-1/upload_job")
    env.store().update_status(created.job.id, "delivered", idempotency_key="d-1")
    env.store().update_status(created.job.id, "delivered", idempotency_key="d-1")
    raced = _race(_racers(env, 2))

    tokens = [created.job.token] + [r.job.token for r in raced]
    text = caplog.text
    for token in tokens:
        assert token not in text
        assert redact_token(token) in text
    hint = redact_token(created.job.token)
    assert f"created job {created.job.id} (token {hint}) in s3://" in text
    assert "after 2 attempts" in text
    assert "delivered" in text and "nothing written" in text
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

"""The job store: ``jobs.json`` in S3, changed by read-modify-write with conditional writes.

S3 has no transactions, but it has ``IfMatch`` on PutObject: a write succeeds only if the object
still has the ETag it had when it was read, otherwise S3 answers 412. Every change here is read,
change in memory, write with ``IfMatch``; on 412 someone else wrote in between, so the store reads
again and re-applies the change to the newer document. Two writers racing therefore both land,
one after the other, instead of the second silently dropping the first one's job.

Every change is idempotent by a key the caller derives from its run (see
:func:`run_idempotency_key`): a retried task that already wrote its job finds it by the key and
returns it, with the same id and token, instead of minting a second job. The key also identifies
the change's audit event, so a retry after a crash between the S3 write and the audit write adds
only the missing event.

Nothing here logs or raises a full token; logs show :func:`qdn.jobs.model.redact_token`.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from qdn import config, headers
from qdn.jobs.audit import AuditError, AuditEvent, AuditLog, AuditOutcome, recordable_problem
from qdn.jobs.model import (
    Job,
    JobsDocument,
    JobsDocumentError,
    JobStatus,
    NewJob,
    StatusChange,
    describe_validation_error,
    redact_token,
)
from qdn.s3_errors import error_code, is_conflict, is_missing

__all__ = [
    "DEFAULT_BACKOFF_BASE",
    "DEFAULT_BACKOFF_CAP",
    "DEFAULT_MAX_ATTEMPTS",
    "IDEMPOTENCY_KEY_PATTERN",
    "AuditIncomplete",
    "IdempotencyKeyReused",
    "InvalidJobInput",
    "JobNotFound",
    "JobStore",
    "JobStoreConflict",
    "JobStoreError",
    "JobsDocumentInvalid",
    "JobsDocumentMissing",
    "UpsertResult",
    "run_idempotency_key",
]

log = logging.getLogger(__name__)

# Ten read-modify-write attempts. The writers of jobs.json are the release runs' upload tasks and
# an operator's status changes: a handful at once, each attempt one GET and one PUT (tens of ms).
# Writers that all read the same ETag and then write at once needed at most 4 attempts with eight
# of them and at most 6 with sixteen (measured against the local moto server; the tests race
# eight). A writer that loses ten times in a row is facing something that rewrites the file
# continuously; looping on would hold a worker slot forever, so it stops and says so, and the
# task's own retry (minutes later) is the next attempt.
DEFAULT_MAX_ATTEMPTS = 10
# Exponential backoff with full jitter (each wait uniform in [0, min(cap, base * 2**n)]): the
# jitter spreads writers that collided so they do not collide again in lockstep. 50 ms is about one
# round trip; the 2 s cap keeps the worst case of all attempts near ten seconds.
DEFAULT_BACKOFF_BASE = 0.05
DEFAULT_BACKOFF_CAP = 2.0

# Airflow's run ids and dag/task ids use these characters (its default allowed_run_id_pattern is
# [A-Za-z0-9_.~:+-]); "/" joins them. No quotes, spaces or "*": the key is searched for as a
# quoted term in CloudWatch Logs. 200 characters leave room in a 500-character history note.
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+/@=-]{1,200}$")


def _document_missing(err: ClientError) -> bool:
    """No jobs.json, or no bucket at all: both are fixed by the bootstrap."""
    return is_missing(err) or error_code(err) == "NoSuchBucket"


_BOOTSTRAP_HINT = (
    "run the bootstrap (`python -m localaws bootstrap` on the local stack) to create the empty job "
    "records, or move the legacy root jobs.json into place"
)


class JobStoreError(Exception):
    """Base of every refusal of the job store; the message says what is wrong and what to do."""


class InvalidJobInput(JobStoreError, ValueError):
    """The job, status, note, key or time given does not validate; nothing was read or written."""


class JobsDocumentMissing(JobStoreError):
    """``jobs.json`` (or its bucket) does not exist."""


class JobsDocumentInvalid(JobStoreError, JobsDocumentError):
    """``jobs.json`` exists but does not validate; it is never rewritten by the store."""


class JobStoreConflict(JobStoreError):
    """Every attempt lost the race to another writer; nothing was written."""


class JobNotFound(JobStoreError, LookupError):
    """No job with that id."""


class IdempotencyKeyReused(JobStoreError, ValueError):
    """The key already names a different change: a retry repeats a change, it never alters it."""


class AuditIncomplete(JobStoreError):
    """The change is saved in S3 but its audit event is missing; retrying writes only the event."""


@dataclass(frozen=True)
class UpsertResult:
    """What a change did.

    ``created`` is True when this call wrote the change, False when an earlier call with the same
    idempotency key already had (then nothing was written). ``attempts`` counts read-modify-write
    rounds; ``etag`` is the ETag of ``jobs.json`` holding the change.
    """

    job: Job
    created: bool
    attempts: int
    etag: str


def run_idempotency_key(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The key of one task of one run: the same on every retry, different for every other task."""
    parts = [dag_id, run_id, task_id]
    if map_index >= 0:
        parts.append(str(map_index))
    return _checked_key("/".join(parts))


@dataclass(frozen=True)
class _Step:
    """One attempt's plan: the job after the change, and the document to write (None: done)."""

    job: Job
    document: JobsDocument | None
    change: StatusChange
    previous: JobStatus | None = None


class JobStore:
    """``jobs.json`` in one bucket; writes need a CloudWatch Logs client for the audit trail."""

    def __init__(
        self,
        s3: Any,
        logs: Any = None,
        *,
        bucket: str = config.BUCKET,
        key: str = config.JOBS_KEY,
        log_group: str = config.AUDIT_LOG_GROUP,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_base: float = DEFAULT_BACKOFF_BASE,
        backoff_cap: float = DEFAULT_BACKOFF_CAP,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if backoff_base < 0 or backoff_cap < backoff_base:
            raise ValueError(
                f"backoff needs 0 <= base <= cap, got base={backoff_base} cap={backoff_cap}"
            )
        self._s3 = s3
        self._audit = AuditLog(logs, log_group=log_group) if logs is not None else None
        self.bucket = bucket
        self.key = key
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        # Jitter is not a secret, but SystemRandom needs no seeding and is safe across threads.
        self._rng = rng or random.SystemRandom()

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    # --- reading --------------------------------------------------------------------------------

    def read(self) -> tuple[JobsDocument, str]:
        """The document and its ETag; a missing or invalid document is an error, never replaced."""
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as err:
            if _document_missing(err):
                raise JobsDocumentMissing(
                    f"{self.url} does not exist ({error_code(err)}); {_BOOTSTRAP_HINT}"
                ) from err
            raise
        body = response["Body"].read()
        etag = response["ETag"]
        try:
            document = JobsDocument.from_json_bytes(body)
        except JobsDocumentError as err:
            version = response.get("VersionId", "unversioned")
            raise JobsDocumentInvalid(
                f"{self.url} (ETag {etag}, version {version}) cannot be used; {err}\n"
                "Nothing was written. Fix the named fields, or restore the last good version "
                "(the bucket is versioned), then retry."
            ) from None
        return document, etag

    def find(self, token: str) -> Job | None:
        """The job a tracking token belongs to, as the track API would find it."""
        document, _ = self.read()
        return document.find_by_token(token)

    # --- changing -------------------------------------------------------------------------------

    def create(
        self,
        new: NewJob | Mapping[str, Any],
        *,
        idempotency_key: str,
        now: datetime | None = None,
    ) -> UpsertResult:
        """Add a job, or return the one an earlier call with this key already added.

        Everything given is validated before S3 is touched. The id and token are generated once
        per call and kept across 412 retries, so the job written is the job this call returns.
        """
        new = _validated_new_job(new)
        key = _checked_key(idempotency_key)
        at = _aware(now)
        audit = self._writable("add a job")
        candidate = Job.create(new, now=at, idempotency_key=key)

        def change(document: JobsDocument) -> _Step:
            nonlocal candidate
            existing = document.find_by_idempotency_key(key)
            if existing is not None:
                _same_request_or_refuse(existing, new, key)
                return _Step(existing, None, existing.history[0])
            # 50 random bits of id and 192 of token make a clash practically impossible, but
            # with_job replaces a job with the same id, so a clash must never reach it.
            while (
                document.find_by_id(candidate.id) is not None
                or document.find_by_token(candidate.token) is not None
            ):
                candidate = Job.create(new, now=at, idempotency_key=key)
            return _Step(candidate, document.with_job(candidate), candidate.history[0])

        step, attempts, etag = self._apply(f"create job for key {key}", change)
        event = AuditEvent.created(step.job, idempotency_key=key, jobs_etag=etag)
        outcome = self._record(audit, event, step.job, etag)
        hint = redact_token(step.job.token)
        if step.document is not None:
            log.info(
                "created job %s (token %s) in %s etag %s after %s; %s",
                step.job.id,
                hint,
                self.url,
                etag,
                _attempts(attempts),
                outcome.describe(),
            )
        else:
            log.info(
                "job %s (token %s) already in %s etag %s for idempotency key %s, nothing "
                "written; %s",
                step.job.id,
                hint,
                self.url,
                etag,
                key,
                outcome.describe(),
            )
        return UpsertResult(step.job, step.document is not None, attempts, etag)

    def update_status(
        self,
        job_id: str,
        to: JobStatus | str,
        *,
        idempotency_key: str,
        note: str | None = None,
        now: datetime | None = None,
    ) -> UpsertResult:
        """Move a job to a new status, once per idempotency key.

        The key is kept in the history entry's note (``[idempotency_key=...]``), which is how a
        retry sees that its change already happened. An impossible transition is refused with the
        model's message and nothing is written.
        """
        key = _checked_key(idempotency_key)
        target = _status(to)
        at = _aware(now) if now is not None else None
        marker = _key_marker(key)
        text = f"{note.strip()} {marker}" if note and note.strip() else marker
        _check_note(target, text, at or datetime.now(UTC), marker)
        audit = self._writable("change a job's status")

        def change(document: JobsDocument) -> _Step:
            job = document.find_by_id(job_id)
            if job is None:
                raise JobNotFound(f"no job {job_id} in {self.url}; nothing was written")
            done = _change_made_by(job, marker)
            if done is not None:
                if done.status != target:
                    raise IdempotencyKeyReused(
                        f"idempotency key {key} already moved job {job_id} to "
                        f"{done.status.value}, not {target.value}; nothing was written. A retry "
                        "repeats the same change; a different change needs a new key."
                    )
                return _Step(job, None, done)
            # Without an explicit time, never before the job's last change: a writer whose clock
            # is a little behind the one that wrote last must not be refused for it.
            when = at if at is not None else max(datetime.now(UTC), job.updated_at)
            changed = job.transition(target, at=when, note=text)
            return _Step(changed, document.with_job(changed), changed.history[-1], job.status)

        step, attempts, etag = self._apply(f"move job {job_id} to {target.value}", change)
        event = AuditEvent.status_changed(
            step.job,
            status=step.change.status,
            at=step.change.at,
            idempotency_key=key,
            jobs_etag=etag,
        )
        outcome = self._record(audit, event, step.job, etag)
        hint = redact_token(step.job.token)
        if step.document is not None:
            assert step.previous is not None
            log.info(
                "job %s (token %s) %s -> %s in %s etag %s after %s; %s",
                step.job.id,
                hint,
                step.previous.value,
                target.value,
                self.url,
                etag,
                _attempts(attempts),
                outcome.describe(),
            )
        else:
            log.info(
                "job %s (token %s) already moved to %s by idempotency key %s in %s etag %s, "
                "nothing written; %s",
                step.job.id,
                hint,
                target.value,
                key,
                self.url,
                etag,
                outcome.describe(),
            )
        return UpsertResult(step.job, step.document is not None, attempts, etag)

    # --- the loop -------------------------------------------------------------------------------

    def _apply(self, what: str, change: Callable[[JobsDocument], _Step]) -> tuple[_Step, int, str]:
        for attempt in range(1, self.max_attempts + 1):
            document, etag = self.read()
            step = change(document)
            if step.document is None:
                return step, attempt, etag
            written = self._put_if_match(step.document, etag)
            if written is not None:
                return step, attempt, written
            if attempt < self.max_attempts:
                delay = self._backoff(attempt)
                log.info(
                    "%s: %s changed since it was read (attempt %d of %d); reading again in %.2f s",
                    what,
                    self.url,
                    attempt,
                    self.max_attempts,
                    delay,
                )
                self._sleep(delay)
        raise JobStoreConflict(
            f"gave up trying to {what}: {self.url} changed under each of {self.max_attempts} "
            "attempts (HTTP 412 on every IfMatch write), so another writer is rewriting it "
            "continuously. Nothing was written by this call. Find that writer (CloudTrail or S3 "
            "server access logs show who writes the key), then retry the task; a retry with the "
            "same idempotency key is safe."
        )

    def _put_if_match(self, document: JobsDocument, etag: str) -> str | None:
        """Write if ``jobs.json`` still has ``etag``: the new ETag, or None when it lost a race."""
        try:
            response = self._s3.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=document.to_json_bytes(),
                IfMatch=etag,
                ContentType="application/json",
                CacheControl=headers.PRIVATE_CACHE_CONTROL,
            )
        except ClientError as err:
            if is_conflict(err):
                return None
            if _document_missing(err):
                raise JobsDocumentMissing(
                    f"{self.url} disappeared while it was being changed "
                    f"({error_code(err)}); nothing was written. Restore it from its versions "
                    f"or {_BOOTSTRAP_HINT}, then retry."
                ) from err
            raise
        return response["ETag"]

    def _backoff(self, attempt: int) -> float:
        return self._rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    # --- audit ----------------------------------------------------------------------------------

    def _writable(self, what: str) -> AuditLog:
        if self._audit is None:
            raise JobStoreError(
                f"cannot {what}: this JobStore has no CloudWatch Logs client, and every job change "
                "must be audited; construct it with logs=<logs client>"
            )
        return self._audit

    def _record(self, audit: AuditLog, event: AuditEvent, job: Job, etag: str) -> AuditOutcome:
        try:
            return audit.record(event)
        except (AuditError, BotoCoreError, ClientError) as err:
            raise AuditIncomplete(
                f"job {job.id} (token {redact_token(job.token)}) is saved in {self.url} (ETag "
                f"{etag}) but its {event.action} audit event could not be recorded: {err}. Retry "
                "the task with the same idempotency key: the retry finds the saved change and "
                "writes only the missing audit event."
            ) from err


# --- validation before any call ----------------------------------------------------------------


def _validated_new_job(new: NewJob | Mapping[str, Any]) -> NewJob:
    # Re-validated even when given a NewJob: model_construct() builds one without validation.
    data = new.model_dump(warnings=False) if isinstance(new, NewJob) else new
    if not isinstance(data, Mapping):
        raise InvalidJobInput(f"a job must be a NewJob or a mapping of its fields, not {type(new)}")
    try:
        return NewJob.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidJobInput(
            describe_validation_error(exc, "the job") + "\nNothing was read or written."
        ) from None


def _checked_key(key: str) -> str:
    if not isinstance(key, str) or not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise InvalidJobInput(
            f"idempotency_key {key!r} is not usable: it must be 1-200 characters of letters, "
            "digits and _ . ~ : + / @ = - (derive it from the run with run_idempotency_key())"
        )
    return key


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidJobInput(f"now must be a timezone-aware datetime (UTC), got {now!r}")
    problem = recordable_problem(now, now=datetime.now(UTC))
    if problem:
        # The change's time is its audit event's time; refused now rather than after the write.
        raise InvalidJobInput(
            f"now={now.isoformat()} {problem}; give the current time. Nothing was read or written."
        )
    return now.astimezone(UTC)


def _status(to: JobStatus | str) -> JobStatus:
    try:
        return JobStatus(to)
    except ValueError:
        names = ", ".join(s.value for s in JobStatus)
        raise InvalidJobInput(f"status {to!r} is not one of: {names}") from None


def _key_marker(key: str) -> str:
    return f"[idempotency_key={key}]"


def _check_note(status: JobStatus, text: str, at: datetime, marker: str) -> None:
    # The model's own StatusChange decides what a note may be; checked here, before any call.
    try:
        StatusChange(status=status, at=at, note=text)
    except ValidationError as exc:
        raise InvalidJobInput(
            describe_validation_error(exc, "the status change")
            + f"\n(the note also carries the {len(marker) + 1}-character key marker)"
            + "\nNothing was read or written."
        ) from None


def _change_made_by(job: Job, marker: str) -> StatusChange | None:
    for entry in job.history[1:]:
        if entry.note is not None and entry.note.endswith(marker):
            return entry
    return None


def _same_request_or_refuse(existing: Job, new: NewJob, key: str) -> None:
    """A retry sends the same job; the same key with different details is a mistake, not a retry."""
    stored = {
        "customer_name": existing.customer.name,
        "customer_phone": existing.customer.phone,
        "customer_email": existing.customer.email,
        "location": existing.location.street,
        "city": existing.location.city,
        "postal_code": existing.location.postal_code,
        "service_date": existing.service_date,
        "price": existing.price,
        "currency": existing.currency,
        "status": existing.history[0].status,
        "notes": existing.notes,
    }
    different = [name for name, value in stored.items() if getattr(new, name) != value]
    if different:
        # Field names only: the values are customer data.
        raise IdempotencyKeyReused(
            f"idempotency key {key} already created job {existing.id} with different "
            f"{', '.join(different)}; nothing was written. A retried task sends the same job; a "
            "different job needs a new key, and a changed job needs an update."
        )


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"

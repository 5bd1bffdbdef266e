"""Writing job records: one object per job, so a write costs the same with ten jobs or a million.

A new job is written in this order, each step with :mod:`qdn.conditional_write`:

1. the **record** ``data/jobs/<id>.json``, create-only (``IfNoneMatch: *``). Its id is derived
   from the run's idempotency key (:func:`qdn.jobs.model.job_id_for_key`), so this one write is
   also the claim on the key: a retried task or a second trigger of the same run finds the record
   its key names and completes *that* job, never a second one;
2. then, at once: the **token lookup** (after the record, so a tracking link that works always
   finds its job), the dashboard's **index entries** and the **audit event**.

A crash anywhere leaves a record that the retry completes; every step is idempotent. A status
change is one ``IfMatch`` read-modify-write of that job's record alone: writers of different jobs
never meet, and writers of the same job are serialised by S3's conditions, each change applied to
the newest history or refused with the model's reason.

Nothing here logs or raises a full token; logs show :func:`qdn.jobs.model.redact_token`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from qdn import config
from qdn.conditional_write import ATTEMPTS, ConditionalWriteError, create_object, update_object
from qdn.jobs import layout
from qdn.jobs.audit import AuditError, AuditEvent, AuditLog, AuditOutcome, recordable_problem
from qdn.jobs.model import (
    InvalidTransitionError,
    Job,
    JobStatus,
    NewJob,
    StatusChange,
    describe_validation_error,
    job_id_for_key,
    redact_token,
)
from qdn.jobs.records import JobRecords, lookup_body, parse_job
from qdn.s3_errors import is_missing, is_not_modified

__all__ = [
    "IDEMPOTENCY_KEY_MAX",
    "IDEMPOTENCY_KEY_PATTERN",
    "ORDER_KEY_PREFIX",
    "AuditIncomplete",
    "IdempotencyKeyReused",
    "InvalidJobInput",
    "JobNotFound",
    "JobStore",
    "JobStoreConflict",
    "JobStoreError",
    "UpsertResult",
    "import_job",
    "job_idempotency_key",
    "normalised_job_fields",
    "order_reference_key",
    "run_idempotency_key",
]

log = logging.getLogger(__name__)

# Airflow's run ids and dag/task ids use these characters (its default allowed_run_id_pattern is
# [A-Za-z0-9_.~:+-]); "/" joins them. No quotes, spaces or "*": the key is searched for as a
# quoted term in CloudWatch Logs. 200 characters leave room in a 500-character history note.
IDEMPOTENCY_KEY_MAX = 200
IDEMPOTENCY_KEY_PATTERN = re.compile(rf"^[A-Za-z0-9_.~:+/@=-]{{1,{IDEMPOTENCY_KEY_MAX}}}$")
# A job keyed on the customer's order: this prefix and the reference, case-folded.
ORDER_KEY_PREFIX = "order/"

# A key's first candidate id clashes with another key's job with odds of one in 2**50 per job;
# three draws make a clash harmless without ever looping.
_ID_DRAWS = 3
# The writes after a record's (lookup, two index entries plus one delete, audit) run at once.
_FAN_OUT = 5
# A record changed less than this long before a status change read it means someone else is at
# work on the job: the change then settles its index. A minute is far beyond any round trip, yet
# a job's ordinary changes (delivered, picked up) are hours apart, so they skip the extra read.
_BUSY_WINDOW = timedelta(minutes=1)
# Rounds of re-reading a job whose status kept changing while it was indexed: each round follows
# one more concurrent change; a job changed five times within one round trip is a runaway loop.
_SETTLE_ROUNDS = 5


class JobStoreError(Exception):
    """Base of every refusal of the job store; the message says what is wrong and what to do."""


class InvalidJobInput(JobStoreError, ValueError):
    """The job, status, note, key or time given does not validate; nothing was read or written."""


class JobStoreConflict(JobStoreError):
    """Every attempt lost the race to another writer of the same job; nothing was written."""


class JobNotFound(JobStoreError, LookupError):
    """No job with that id (or it was archived)."""


class IdempotencyKeyReused(JobStoreError, ValueError):
    """The key already names a different change: a retry repeats a change, it never alters it."""


class AuditIncomplete(JobStoreError):
    """The change is saved in S3 but its audit event is missing; retrying writes only the event."""


@dataclass(frozen=True)
class UpsertResult:
    """What a change did.

    ``created`` is True when this call wrote the change, False when an earlier call with the same
    idempotency key already had (then only missing pieces were written). ``attempts`` counts the
    conditional-write rounds; ``etag`` is the ETag of the job's record holding the change.
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


# The fields that say "this is the same job" when no order reference is given: a customer is
# booked for one place, day, price and status once; a second identical booking must be asked for.
KEY_FIELDS = ("customer_name", "location", "service_date", "price", "status")
# 32 hex digits are 128 bits of SHA-256: collisions between different jobs are out of reach.
_DIGEST_HEX = 32


def _fold(text: str) -> str:
    """Case and runs of whitespace never make two jobs: "Mark  Smith" is "mark smith"."""
    return " ".join(text.split()).casefold()


def normalised_job_fields(new: NewJob) -> dict[str, str]:
    """The :data:`KEY_FIELDS` of a job as the key sees them: text folded, the price in cents
    (the model already makes 600 read 600.00), the date and status as their ISO/enum text."""
    return {
        "customer_name": _fold(new.customer_name),
        "location": _fold(new.location),
        "service_date": new.service_date.isoformat(),
        "price": f"{new.price:.2f}",
        "status": new.status.value,
    }


def job_idempotency_key(new: NewJob, order_reference: str | None = None) -> str:
    """The key that makes a job exist once across runs: a re-trigger finds the job, never a twin.

    With an ``order_reference`` (the customer's order as ops know it), the key is that reference,
    case-folded; without one, it is a SHA-256 of the job's normalised :data:`KEY_FIELDS`, so the
    key that travels into logs, audit events and history notes carries no customer data.
    """
    if order_reference is not None and order_reference.strip():
        return order_reference_key(order_reference)
    canonical = "\0".join(f"{k}={v}" for k, v in normalised_job_fields(new).items())
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:_DIGEST_HEX]
    return _checked_key("job/" + digest)


def order_reference_key(order_reference: str) -> str:
    """The key of a job ops name by their order reference; InvalidJobInput when it cannot be one."""
    return _checked_key(ORDER_KEY_PREFIX + order_reference.strip().casefold())


class JobStore:
    """The job records of one bucket; writes need a CloudWatch Logs client for the audit trail."""

    def __init__(
        self,
        s3: Any,
        logs: Any = None,
        *,
        bucket: str = config.BUCKET,
        log_group: str = config.AUDIT_LOG_GROUP,
        attempts: int = ATTEMPTS,
    ) -> None:
        self._s3 = s3
        self._attempts = attempts
        self._pool_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._audit = AuditLog(logs, log_group=log_group) if logs is not None else None
        self.bucket = bucket
        self.records = JobRecords(s3, bucket)

    def url(self, job_id: str) -> str:
        return f"s3://{self.bucket}/{layout.job_key(job_id)}"

    # --- reading --------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        job = self.records.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id} at {self.url(job_id)} (never created, or archived)")
        return job

    def find(self, token: str) -> Job | None:
        """The job a tracking token belongs to, as the track API finds it."""
        return self.records.find_by_token(token)

    # --- creating -------------------------------------------------------------------------------

    def create(
        self,
        new: NewJob | Mapping[str, Any],
        *,
        idempotency_key: str,
        now: datetime | None = None,
    ) -> UpsertResult:
        """Add a job, or complete and return the one an earlier call with this key began.

        Everything given is validated before S3 is touched.
        """
        new = _validated_new_job(new)
        key = _checked_key(idempotency_key)
        at = _aware(now)
        audit = self._writable("add a job")
        for draw in range(_ID_DRAWS):
            candidate = Job.create(
                new, now=at, idempotency_key=key, job_id=job_id_for_key(key, draw)
            )
            etag = create_object(
                self._s3, self.bucket, layout.job_key(candidate.id), _job_bytes(candidate)
            )
            if etag is not None:
                job, created = candidate, True
                break
            found = self.records.get_with_etag(candidate.id)
            if found is not None and found[0].idempotency_key == key:
                # A retry, or a second trigger of the same run: complete that job, mint none.
                _same_request_or_refuse(found[0], new, key)
                (job, etag), created = found, False
                break
            if found is None:
                raise JobStoreConflict(
                    f"job {candidate.id} of idempotency key {key} vanished while it was being "
                    "read (archived at this very moment?); nothing was written. Retry."
                )
            # Another key's job holds this reference: take the key's next candidate.
        else:
            raise JobStoreError(f"could not find a free job id in {_ID_DRAWS} draws; retry")
        outcome = self._complete(
            job,
            AuditEvent.created(job, idempotency_key=key, jobs_etag=etag),
            audit,
            etag,
            fresh=created,
            lookup=True,
        )
        hint = redact_token(job.token)
        if created:
            log.info(
                "created job %s (token %s) at %s etag %s; %s",
                job.id, hint, self.url(job.id), etag, outcome.describe(),
            )  # fmt: skip
        else:
            log.info(
                "job %s (token %s) already created for idempotency key %s at %s etag %s, "
                "missing pieces completed; %s",
                job.id, hint, key, self.url(job.id), etag, outcome.describe(),
            )  # fmt: skip
        return UpsertResult(job, created, 1, etag)

    def _complete(
        self,
        job: Job,
        event: AuditEvent,
        audit: AuditLog,
        etag: str,
        *,
        fresh: bool,
        lookup: bool,
        status_only: bool = False,
        settle: bool = False,
    ) -> AuditOutcome:
        """Everything that follows a record's write, at once: the token lookup (for a new job),
        the index entries and the audit event. None depends on another, and each is idempotent,
        so a retry redoes whichever a crash cut short. ``settle`` re-reads the record once the
        index is written (see :meth:`_settle_index`), while the audit event is still on its way."""
        calls = self._index_calls(job, status_only=status_only)
        if lookup:
            calls.append(
                partial(
                    create_object,
                    self._s3,
                    self.bucket,
                    layout.token_key(job.token),
                    lookup_body(job.id),
                )
            )
        pool = self._pool()
        tasks = [pool.submit(call) for call in calls]
        recorded = pool.submit(self._record, audit, event, job, etag, fresh=fresh)
        for task in tasks:
            task.result()
        if settle:
            self._settle_index(job, etag)
        return recorded.result()

    def _pool(self) -> ThreadPoolExecutor:
        # Kept for the store's life: starting threads on every change cost a few ms each time.
        with self._pool_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=_FAN_OUT, thread_name_prefix="job-store"
                )
            return self._executor

    # --- changing -------------------------------------------------------------------------------

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
        record = layout.job_key(job_id)
        outcome: dict[str, Any] = {}

        def change(body: bytes | None) -> bytes | None:
            if body is None:
                raise JobNotFound(
                    f"no job {job_id} at {self.url(job_id)} (never created, or archived); "
                    "nothing was written"
                )
            job = parse_job(body, record)
            done = _change_made_by(job, marker)
            if done is not None:
                if done.status != target:
                    raise IdempotencyKeyReused(
                        f"idempotency key {key} already moved job {job_id} to "
                        f"{done.status.value}, not {target.value}; nothing was written. A retry "
                        "repeats the same change; a different change needs a new key."
                    )
                outcome.update(job=job, change=done, previous=None)
                return None
            # Without an explicit time, never before the job's last change: a writer whose clock
            # is a little behind the one that wrote last must not be refused for it.
            when = at if at is not None else max(datetime.now(UTC), job.updated_at)
            changed = job.transition(target, at=when, note=text)
            outcome.update(
                job=changed,
                change=changed.history[-1],
                previous=job.status,
                busy=job.updated_at > datetime.now(UTC) - _BUSY_WINDOW,
            )
            return _job_bytes(changed)

        try:
            updated = update_object(self._s3, self.bucket, record, change, attempts=self._attempts)
        except ConditionalWriteError as err:
            raise JobStoreConflict(
                f"gave up moving job {job_id} to {target.value}: {err}"
            ) from None
        except InvalidTransitionError as err:
            raise InvalidTransitionError(f"{err}; nothing was written") from None
        job: Job = outcome["job"]
        etag = updated.etag or ""
        event = AuditEvent.status_changed(
            job, status=outcome["change"].status, at=outcome["change"].at,
            idempotency_key=key, jobs_etag=etag,
        )  # fmt: skip
        written = updated.written
        # Two writers' index writes can only cross when the job was changed moments apart: this
        # call lost a round to another, or the record it read had just been changed. Then the
        # index is settled; otherwise the extra read is spared (docs/jobs.md).
        settle = not written or updated.attempts > 1 or outcome.get("busy", False)
        recorded = self._complete(
            job,
            event,
            audit,
            etag,
            fresh=written,
            lookup=False,
            status_only=written,
            settle=settle,
        )
        hint = redact_token(job.token)
        if updated.written:
            log.info(
                "job %s (token %s) %s -> %s at %s etag %s after %s; %s",
                job.id, hint, outcome["previous"].value, target.value, self.url(job.id), etag,
                _attempts(updated.attempts), recorded.describe(),
            )  # fmt: skip
        else:
            log.info(
                "job %s (token %s) already moved to %s by idempotency key %s at %s etag %s, "
                "nothing written; %s",
                job.id, hint, target.value, key, self.url(job.id), etag, recorded.describe(),
            )  # fmt: skip
        return UpsertResult(job, updated.written, updated.attempts, etag)

    def _settle_index(self, indexed: Job, etag: str) -> None:
        """Re-read the record after indexing it: if another change landed meanwhile, index that
        one too. Two writers of one job can finish their index writes in either order, and the
        one that re-reads last always indexes the final state, deleting every earlier status's
        entry, so the index converges on the record (one GET per status change)."""
        for _ in range(_SETTLE_ROUNDS):
            # Asked with IfNoneMatch: unchanged (the usual answer) is a 304 with no body.
            current = self._changed_since(indexed.id, etag)
            if current is None:
                return
            current, etag = current
            for call in self._index_calls(current):
                call()
            indexed = current
        log.warning(
            "job %s kept changing while its index was settled; the dashboard skips "
            "stale entries until the next change or the nightly check",
            indexed.id,
        )

    def _index_calls(self, job: Job, *, status_only: bool = False) -> list[Callable[[], Any]]:
        """The writes that give ``job`` the index entries of its state and drop its earlier
        statuses'. A status change this call wrote moves only the status entry (the date entry
        never changes); a create or a retry writes them all, repairing what a crash cut short."""
        entries = layout.index_entries(job)
        present = (
            (layout.status_index(job.status) + layout.order(job),)
            if status_only
            else entries.present
        )
        calls: list[Callable[[], Any]] = [
            partial(self._s3.put_object, Bucket=self.bucket, Key=key, Body=b"") for key in present
        ]
        if entries.stale:
            # A crash between a status change and this leaves an old status's entry; the
            # dashboard checks each entry against its record, so it is skipped, never shown.
            calls.append(
                partial(
                    self._s3.delete_objects,
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in entries.stale], "Quiet": True},
                )
            )
        return calls

    def _changed_since(self, job_id: str, etag: str) -> tuple[Job, str] | None:
        key = layout.job_key(job_id)
        try:
            got = self._s3.get_object(Bucket=self.bucket, Key=key, IfNoneMatch=etag)
        except ClientError as err:
            if is_not_modified(err) or is_missing(err):
                return None
            raise
        return parse_job(got["Body"].read(), key), got["ETag"]

    # --- audit ----------------------------------------------------------------------------------

    def _writable(self, what: str) -> AuditLog:
        if self._audit is None:
            raise JobStoreError(
                f"cannot {what}: this JobStore has no CloudWatch Logs client, and every job change "
                "must be audited; construct it with logs=<logs client>"
            )
        return self._audit

    def _record(
        self, audit: AuditLog, event: AuditEvent, job: Job, etag: str, *, fresh: bool
    ) -> AuditOutcome:
        try:
            return audit.record(event, fresh=fresh)
        except (AuditError, BotoCoreError, ClientError) as err:
            raise AuditIncomplete(
                f"job {job.id} (token {redact_token(job.token)}) is saved at {self.url(job.id)} "
                f"(ETag {etag}) but its {event.action} audit event could not be recorded: {err}. "
                "Retry the task with the same idempotency key: the retry finds the saved change "
                "and writes only the missing audit event."
            ) from err


def import_job(s3: Any, bucket: str, job: Job) -> None:
    """Write an existing job (from a legacy document) as it is: record, token lookup and index
    entries, each create-only or idempotent, in the order :meth:`JobStore.create` uses. An
    existing record is left alone: it may be newer than the document."""
    create_object(s3, bucket, layout.job_key(job.id), _job_bytes(job))
    create_object(s3, bucket, layout.token_key(job.token), lookup_body(job.id))
    for key in layout.index_entries(job).present:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")


def _job_bytes(job: Job) -> bytes:
    return job.model_dump_json().encode("utf-8")


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
            f"idempotency_key {key!r} is not usable: it must be 1-{IDEMPOTENCY_KEY_MAX} characters "
            "of letters, digits and _ . ~ : + / @ = - (derive it from the run with "
            "run_idempotency_key())"
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


def new_job_fields(job: Job) -> dict[str, Any]:
    """The :class:`NewJob` fields a stored job was created from: the one mapping between the two
    shapes (a field added to NewJob and Job is added here, and a test checks none is missed)."""
    return {
        "customer_name": job.customer.name,
        "customer_phone": job.customer.phone,
        "customer_email": job.customer.email,
        "location": job.location.street,
        "city": job.location.city,
        "postal_code": job.location.postal_code,
        "service_date": job.service_date,
        "price": job.price,
        "currency": job.currency,
        "status": job.history[0].status,
        "notes": job.notes,
    }


def _same_request_or_refuse(existing: Job, new: NewJob, key: str) -> None:
    """A retry sends the same job; the same key with different details is a mistake, not a retry."""
    stored = new_job_fields(existing)
    different = [
        name for name, value in stored.items() if not _same_value(getattr(new, name), value)
    ]
    if different:
        # Field names only: the values are customer data.
        raise IdempotencyKeyReused(
            f"idempotency key {key} already created job {existing.id} with different "
            f"{', '.join(different)}; nothing was written. A retried task sends the same job; a "
            "different job needs a new key, and a changed job needs an update."
        )


def _same_value(asked: Any, stored: Any) -> bool:
    # Text that differs only in case or spacing is the same job (the key folds it too): the job
    # keeps its first spelling rather than being refused over "Mark" against "mark ".
    if isinstance(asked, str) and isinstance(stored, str):
        return _fold(asked) == _fold(stored)
    return bool(asked == stored)


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"

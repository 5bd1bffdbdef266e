"""The audit trail of job changes: one CloudWatch Logs event per change, written exactly once.

The trail must survive the same crashes the job store survives. A task can die after its S3 write
and before its audit event (or after both, before returning); Airflow then retries it, the store
finds the job it already wrote and asks for the event again. So recording is idempotent: an event
is identified by what changed (action, job, status, idempotency key) and by when (the change's own
time, taken from the stored job, never from the clock of the attempt), which makes a retry's event
identical to the first one and lets :meth:`AuditLog.record` find it before writing a second copy.

A job change that did not happen is audited too (:class:`FailureEvent`): a job input refused by
validation (``job.refused``) and a write that failed for a reason no retry can fix
(``job.write_failed``). The log group's metric filters count them (``qdn.monitoring``), so a
failed write alarms even when nobody reads the task's log.

An event never carries the full token or the customer's contact details or address: the audit log
is read by more people than the job records are.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from qdn import config
from qdn.jobs.model import Job, JobStatus, iso_utc, redact_token

log = logging.getLogger(__name__)

Action = Literal["job.created", "job.status_changed", "job.refused", "job.write_failed"]
JOB_CREATED: Action = "job.created"
JOB_STATUS_CHANGED: Action = "job.status_changed"
JOB_REFUSED: Action = "job.refused"
JOB_WRITE_FAILED: Action = "job.write_failed"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A failure's reason is its message's first line (and, after a "...:" heading, its first detail):
# enough to tell one failure from another on a dashboard, short enough that a message built from
# a whole request never lands in the log. 300 characters hold any of the store's first lines.
REASON_MAX_LENGTH = 300

# CloudWatch Logs refuses events more than 14 days old or more than 2 hours ahead. An event carries
# its change's time, so a change outside this window could never be audited; the store refuses such
# a time before it writes anything. The hour off the age keeps a change that passed the check from
# crossing the limit before its event is put (an Airflow retry comes minutes later, not hours).
OLDEST_RECORDABLE = timedelta(days=14) - timedelta(hours=1)
NEWEST_RECORDABLE = timedelta(hours=2) - timedelta(minutes=5)


class AuditError(RuntimeError):
    """The audit event could not be written or looked up; the message says what to do."""


def recordable_problem(at: datetime, *, now: datetime) -> str | None:
    """Why an event at ``at`` could not be recorded now, or None if it can."""
    if at < now - OLDEST_RECORDABLE:
        return f"is more than {OLDEST_RECORDABLE} before now; CloudWatch Logs refuses older events"
    if at > now + NEWEST_RECORDABLE:
        return f"is more than {NEWEST_RECORDABLE} after now; CloudWatch Logs refuses such events"
    return None


class _Dated:
    """Where and when an event goes: its day's stream, at its own time (never the clock's)."""

    at: datetime

    @property
    def timestamp_ms(self) -> int:
        # Integer arithmetic: the same stored datetime gives the same millisecond on every retry.
        return (self.at.astimezone(UTC) - _EPOCH) // timedelta(milliseconds=1)

    @property
    def stream(self) -> str:
        """One stream per UTC day of the change, so a day's changes (and failures) are read in
        one place."""
        return self.at.astimezone(UTC).date().isoformat()


@dataclass(frozen=True)
class AuditEvent(_Dated):
    """One job change as the audit log records it.

    ``jobs_etag`` is the ETag of the job's record (``data/jobs/<id>.json``) holding the change: the
    one written by the change, or, when a retry records an event a crashed attempt could not, the
    one it was found in. (The name is older than the per-job records; saved Logs Insights queries
    use it.)
    """

    action: Action
    job_id: str
    token_hint: str
    idempotency_key: str
    status: JobStatus
    jobs_etag: str
    at: datetime

    @classmethod
    def created(cls, job: Job, *, idempotency_key: str, jobs_etag: str) -> AuditEvent:
        first = job.history[0]
        return cls(
            action=JOB_CREATED,
            job_id=job.id,
            token_hint=redact_token(job.token),
            idempotency_key=idempotency_key,
            status=first.status,
            jobs_etag=jobs_etag,
            at=job.created_at,
        )

    @classmethod
    def status_changed(
        cls, job: Job, *, status: JobStatus, at: datetime, idempotency_key: str, jobs_etag: str
    ) -> AuditEvent:
        return cls(
            action=JOB_STATUS_CHANGED,
            job_id=job.id,
            token_hint=redact_token(job.token),
            idempotency_key=idempotency_key,
            status=status,
            jobs_etag=jobs_etag,
            at=at,
        )

    def to_message(self) -> str:
        return json.dumps(
            {
                "action": self.action,
                "job_id": self.job_id,
                "token_hint": self.token_hint,
                "idempotency_key": self.idempotency_key,
                "status": self.status.value,
                "jobs_etag": self.jobs_etag,
                "at": iso_utc(self.at),
            },
            sort_keys=True,
        )

    def is_same_change(self, message: str) -> bool:
        """Whether a logged message records this change (the ETag may differ on a retry)."""
        try:
            logged = json.loads(message)
        except ValueError:
            return False
        return isinstance(logged, dict) and all(
            logged.get(name) == value
            for name, value in (
                ("action", self.action),
                ("job_id", self.job_id),
                ("idempotency_key", self.idempotency_key),
                ("status", self.status.value),
            )
        )


@dataclass(frozen=True)
class FailureEvent(_Dated):
    """A job change that did not happen: its input refused, or its write failed for good.

    No job exists to name (or the one named may not be the run's), so the event names the run by
    its idempotency key and says why in one line; the error's class tells refusals apart. The
    reason comes from the store's and the model's messages, which name fields and redacted tokens,
    never a customer's values.
    """

    action: Action
    idempotency_key: str
    reason: str
    error: str
    at: datetime

    @classmethod
    def of(
        cls, action: Action, err: BaseException, *, idempotency_key: str, at: datetime
    ) -> FailureEvent:
        return cls(
            action=action,
            idempotency_key=idempotency_key,
            reason=first_line(str(err)) or type(err).__name__,
            error=type(err).__name__,
            at=at,
        )

    def to_message(self) -> str:
        return json.dumps(
            {
                "action": self.action,
                "idempotency_key": self.idempotency_key,
                "reason": self.reason,
                "error": self.error,
                "at": iso_utc(self.at),
            },
            sort_keys=True,
        )


def first_line(message: str) -> str:
    """The message's first line; after a heading that ends in ":" (``the job is invalid:``), the
    first detail too, since the heading alone does not say what was wrong."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    text = lines[0]
    if text.endswith(":") and len(lines) > 1:
        text += " " + lines[1]
    if len(text) > REASON_MAX_LENGTH:
        text = text[: REASON_MAX_LENGTH - 1] + "…"
    return text


@dataclass(frozen=True)
class AuditOutcome:
    log_group: str
    stream: str
    written: bool

    def describe(self) -> str:
        verb = "written to" if self.written else "already in"
        return f"audit event {verb} {self.log_group} stream {self.stream}"


class AuditLog:
    """Writes audit events into one log group (created by the bootstrap, with its retention)."""

    def __init__(self, logs: Any, *, log_group: str = config.AUDIT_LOG_GROUP) -> None:
        self._logs = logs
        self.log_group = log_group
        # Streams known to exist: a retry's search does not ask to create one again.
        self._streams: set[str] = set()

    def record(self, event: AuditEvent, *, fresh: bool = False) -> AuditOutcome:
        """Make sure exactly one event for this change exists; write it only if none does.

        ``fresh`` says the caller's own write made the change just now, so no earlier attempt can
        have logged it and the search is skipped; a retry (``fresh=False``) always searches.

        Known limit: CloudWatch Logs makes an event searchable a few seconds after it is put. A
        retry that followed a crash within those seconds could miss the first copy; Airflow's
        retry delay (minutes) is far longer, and a second copy would be a duplicate line, never a
        lost one.
        """
        if not fresh:
            self._ensure_stream(event.stream)
            if self.find(event):
                return AuditOutcome(self.log_group, event.stream, written=False)
        return self._put(event, f"the {event.action} audit event for job {event.job_id}")

    def record_failure(self, event: FailureEvent) -> AuditOutcome:
        """Write the event of a change that did not happen.

        No search first: the task that failed this way fails at once (no retry repeats it), and a
        second copy would only count one failure twice.
        """
        return self._put(
            event, f"the {event.action} audit event for idempotency key {event.idempotency_key}"
        )

    def _put(self, event: AuditEvent | FailureEvent, what: str) -> AuditOutcome:
        put = {
            "logGroupName": self.log_group,
            "logStreamName": event.stream,
            "logEvents": [{"timestamp": event.timestamp_ms, "message": event.to_message()}],
        }
        try:
            try:
                response = self._logs.put_log_events(**put)
            except ClientError as err:
                # The day's stream is created by its first event: one request on every other.
                if err.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                self._ensure_stream(event.stream)
                response = self._logs.put_log_events(**put)
        except ClientError as err:
            raise AuditError(
                f"could not write {what} to {self.log_group}/{event.stream}: {_describe(err)}"
            ) from err
        rejected = response.get("rejectedLogEventsInfo")
        if rejected:
            # CloudWatch refuses events older than 14 days, older than the group's retention or
            # more than 2 hours ahead; the change's time is what the event carries, so say it.
            raise AuditError(
                f"CloudWatch Logs rejected {what} ({', '.join(sorted(rejected))}): its time "
                f"{event.at.isoformat()} is outside what {self.log_group} accepts (at most 14 "
                "days old, at most 2 hours ahead); record the change by hand"
            )
        return AuditOutcome(self.log_group, event.stream, written=True)

    def find(self, event: AuditEvent) -> list[dict[str, Any]]:
        """The logged events that record this change.

        The search is narrowed to the change's day stream and its exact millisecond (the event's
        timestamp is the change's time), then by the idempotency key as a quoted term; each hit is
        then compared field by field, so the server-side filter only has to be generous, not exact.
        """
        found: list[dict[str, Any]] = []
        paginator = self._logs.get_paginator("filter_log_events")
        try:
            pages = paginator.paginate(
                logGroupName=self.log_group,
                logStreamNames=[event.stream],
                startTime=event.timestamp_ms,
                endTime=event.timestamp_ms,
                filterPattern=f'"{event.idempotency_key}"',
            )
            for page in pages:
                found.extend(e for e in page["events"] if event.is_same_change(e["message"]))
        except ClientError as err:
            raise AuditError(
                f"could not look for the {event.action} audit event of job {event.job_id} in "
                f"{self.log_group}/{event.stream}: {_describe(err)}"
            ) from err
        return found

    def _ensure_stream(self, stream: str) -> None:
        if stream in self._streams:
            return
        try:
            self._logs.create_log_stream(logGroupName=self.log_group, logStreamName=stream)
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code == "ResourceAlreadyExistsException":
                self._streams.add(stream)
                return
            if code == "ResourceNotFoundException":
                # Not created here: the bootstrap owns the group and its retention policy.
                raise AuditError(
                    f"audit log group {self.log_group} does not exist; run the bootstrap "
                    "(`python -m localaws bootstrap` on the local stack) to create it with its "
                    "retention, then retry"
                ) from err
            raise AuditError(
                f"could not create audit stream {self.log_group}/{stream}: {_describe(err)}"
            ) from err
        self._streams.add(stream)


def _describe(err: ClientError) -> str:
    error = err.response.get("Error", {})
    return f"{error.get('Code', '?')}: {error.get('Message', str(err))}"

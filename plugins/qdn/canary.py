"""The canary: one permanent synthetic job whose tracking link the nightly verification follows
through every edge, as a customer would, without touching a real customer's job.

It is an ordinary job record (``data/jobs/<config.CANARY_JOB_ID>.json``) with its token lookup,
so the track API serves it exactly as it serves any job, plus a private note of its token
(``config.CANARY_KEY``) that the checks read: the token exists nowhere else. It is kept out of
everything a dispatcher or a count sees:

- it has **no dashboard index entries**: the dashboard lists jobs only through them;
- it is **scheduled**, never finished: archiving takes only completed or cancelled jobs (and finds
  them through the finished statuses' index entries, which the canary never has);
- the job-records check leaves it out of its per-status counts.

:func:`ensure_canary` is idempotent and create-only (:mod:`qdn.conditional_write`), so the
bootstrap can run it on every start: it reads first and writes only what is missing. The note is
written before the record, so whatever a crash leaves, the next run finds the token it must use
instead of minting a second one.
"""

from __future__ import annotations

import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from qdn import config
from qdn.conditional_write import create_object, read_with_etag
from qdn.jobs import layout
from qdn.jobs.model import JOB_ID_PATTERN, TOKEN_PATTERN, Job, JobStatus, NewJob, redact_token
from qdn.jobs.records import JobRecords, lookup_body
from qdn.s3_errors import object_exists

__all__ = ["Canary", "CanaryError", "CanaryNote", "ensure_canary", "read_canary_note"]

# What the canary's public view shows: plainly not a customer, on a date no dispatcher plans for.
# The values are fixed, so a canary re-created after a loss serves the same public fields.
_CANARY_JOB = NewJob(
    customer_name="QuickDumpNow canary",
    location="Synthetic check, not a real job",
    service_date=date(2099, 12, 31),
    price=Decimal("0.00"),
    status=JobStatus.scheduled,
    notes="Permanent synthetic job for the nightly canary check: never dispatch, change or delete.",
)


class CanaryError(RuntimeError):
    """The canary's pieces disagree in a way a rerun cannot mend; the message says what to do."""


@dataclass(frozen=True)
class CanaryNote:
    """What ``config.CANARY_KEY`` holds: the canary's id and its token."""

    job_id: str
    token: str = field(repr=False)

    def body(self) -> bytes:
        return json.dumps({"job_id": self.job_id, "token": self.token}).encode() + b"\n"


@dataclass(frozen=True)
class Canary:
    """The canary as it now stands, and the keys this call wrote (empty when all was there)."""

    job: Job
    written: tuple[str, ...] = ()

    @property
    def token(self) -> str:
        return self.job.token


def read_canary_note(s3: Any, bucket: str) -> CanaryNote | None:
    """The canary's id and token from ``config.CANARY_KEY``; None when it is not there."""
    body, _ = read_with_etag(s3, bucket, config.CANARY_KEY)
    if body is None:
        return None
    try:
        data = json.loads(body)
        note = CanaryNote(str(data["job_id"]), str(data["token"]))
    except (ValueError, KeyError, TypeError):
        raise CanaryError(
            f's3://{bucket}/{config.CANARY_KEY} is not a canary note ({{"job_id", "token"}}); '
            "delete it and rerun the bootstrap, which writes it again from the canary's record"
        ) from None
    if not _well_formed(note):
        raise CanaryError(
            f"s3://{bucket}/{config.CANARY_KEY} names job {note.job_id[:20]!r} with a token that "
            "is not a tracking token; delete it and rerun the bootstrap"
        )
    return note


def ensure_canary(
    s3: Any, bucket: str, *, now: datetime | None = None, dry_run: bool = False
) -> Canary:
    """The canary, created where missing: note, record, token lookup, in that order.

    Costs three reads when everything is there (the note, the record, a HEAD of the lookup) and
    writes nothing then; never writes an index entry. With ``dry_run`` it writes nothing at all
    and ``written`` lists what it would write: the monitoring check's view of a missing canary.
    """
    at = now or datetime.now(UTC)
    records = JobRecords(s3, bucket)
    written: list[str] = []

    def create(key: str, body: bytes) -> bool:
        if dry_run or create_object(s3, bucket, key, body) is not None:
            written.append(key)
            return True
        return False

    note = read_canary_note(s3, bucket)
    job = records.get(config.CANARY_JOB_ID)
    if note is None:
        # A record without a note (the note was lost) keeps its token: links already followed
        # stay valid and the record never needs rewriting.
        fresh = job or _new_canary(at)
        note = CanaryNote(fresh.id, fresh.token)
        if not create(config.CANARY_KEY, note.body()):
            # Another run wrote the note between our read and our write: its token wins.
            note = read_canary_note(s3, bucket) or note
    if job is None:
        fresh = _new_canary(at).model_copy(update={"token": note.token})
        key = layout.job_key(fresh.id)
        create(key, fresh.model_dump_json().encode())
        # Another run may have written it first, with the same note's token.
        job = records.get(config.CANARY_JOB_ID) or fresh
    if note.job_id != job.id or not hmac.compare_digest(job.token, note.token):
        raise CanaryError(
            f"s3://{bucket}/{config.CANARY_KEY} names job {note.job_id} with token "
            f"{redact_token(note.token)} but the canary's record {layout.job_key(job.id)} holds "
            f"token {redact_token(job.token)}: one of them was edited by hand. Delete "
            f"{config.CANARY_KEY} and rerun the bootstrap; the note is rebuilt from the record"
        )
    lookup = layout.token_key(job.token)
    if not object_exists(s3, bucket, lookup):
        create(lookup, lookup_body(job.id))
    return Canary(job, tuple(written))


def _new_canary(at: datetime) -> Job:
    return Job.create(_CANARY_JOB, now=at, idempotency_key=None, job_id=config.CANARY_JOB_ID)


def _well_formed(note: CanaryNote) -> bool:
    return bool(
        re.fullmatch(JOB_ID_PATTERN, note.job_id) and re.fullmatch(TOKEN_PATTERN, note.token)
    )

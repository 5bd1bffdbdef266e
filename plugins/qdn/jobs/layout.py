"""Where a job's objects live in the bucket: the one place their keys are spelled.

A job is four small objects, each written once or changed alone (docs/jobs.md says why):

- ``data/jobs/<id>.json`` — the record, created with ``IfNoneMatch: *``, changed with ``IfMatch``;
- ``data/tokens/<sha256(token)>.json`` — ``{"job_id": ...}``: the track API's lookup. A hash, so
  neither a listing nor an access log ever shows a token;
- ``data/index/{status/<status>,date/<yyyy-mm-dd>}/<order>`` — empty objects whose keys list
  jobs newest first, so a dashboard page is one listing of 50 keys (one per status, merged, when
  no filter is given: a job is always under exactly one status, so no third entry is needed).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from qdn import config
from qdn.jobs.model import JOB_ID_PATTERN, Job, JobStatus

# Thirteen digits of milliseconds reach the year 2286; subtracting from the largest such number
# makes S3's ascending key order the newest-first order the dashboard wants.
_ORDER_DIGITS = 13
_ORDER_CEILING = 10**_ORDER_DIGITS - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ORDER_PATTERN = re.compile(rf"^\d{{{_ORDER_DIGITS}}}-{JOB_ID_PATTERN[1:-1]}$")

STATUS_INDEX = config.JOB_INDEX_PREFIX + "status/"
DATE_INDEX = config.JOB_INDEX_PREFIX + "date/"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def job_key(job_id: str) -> str:
    return f"{config.JOBS_PREFIX}{job_id}.json"


def job_id_of(key: str) -> str | None:
    """The id in ``data/jobs/<id>.json``, or None for any other key."""
    if not key.startswith(config.JOBS_PREFIX) or not key.endswith(".json"):
        return None
    job_id = key[len(config.JOBS_PREFIX) : -len(".json")]
    return job_id if re.fullmatch(JOB_ID_PATTERN, job_id) else None


def token_key(token: str) -> str:
    return f"{config.JOB_TOKENS_PREFIX}{sha256_hex(token)}.json"


def archive_key(job_id: str) -> str:
    return f"{config.JOB_ARCHIVE_PREFIX}{job_id}.json"


def order(job: Job) -> str:
    """``<13 digits>-<id>``: sorts newest-created first, ties broken by id."""
    millis = (job.created_at - _EPOCH) // timedelta(milliseconds=1)
    return f"{_ORDER_CEILING - millis:0{_ORDER_DIGITS}d}-{job.id}"


def job_id_of_order(name: str) -> str:
    return name.split("-", 1)[1]


def status_index(status: JobStatus | str) -> str:
    return f"{STATUS_INDEX}{JobStatus(status).value}/"


def date_index(service_date: date) -> str:
    return f"{DATE_INDEX}{service_date.isoformat()}/"


@dataclass(frozen=True)
class IndexEntries:
    """The index keys a job should have, and the status keys it may have left behind."""

    present: tuple[str, ...]
    stale: tuple[str, ...]


def index_entries(job: Job) -> IndexEntries:
    name = order(job)
    present = (date_index(job.service_date) + name, status_index(job.status) + name)
    earlier = {change.status for change in job.history} - {job.status}
    stale = tuple(status_index(status) + name for status in sorted(earlier))
    return IndexEntries(present, stale)


def all_index_keys(job: Job) -> tuple[str, ...]:
    entries = index_entries(job)
    return entries.present + entries.stale

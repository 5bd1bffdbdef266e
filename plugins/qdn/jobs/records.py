"""Reading job records: one job by id or by token, and dashboard pages, each at a cost bounded by
what is asked for (one or two GETs; one listing and a page of GETs), never by the history.

The track API keeps a :class:`JobRecords` with a cache: a token's job id never changes, so it is
remembered, and a remembered job is asked for again with ``IfNoneMatch`` on its ETag. A warm lookup
is therefore one conditional GET that S3 answers 304 almost always, and a status change written a
moment ago is still seen on the very next request, which the release's smoke check depends on.
"""

from __future__ import annotations

import hmac
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from qdn.jobs import layout
from qdn.jobs.model import JOB_ID_PATTERN, Job, JobStatus, describe_validation_error
from qdn.parallel import parallel
from qdn.s3_errors import is_missing_key, is_not_modified

# The dispatcher's page: a screenful of rows, and the most GETs one request may cost.
PAGE_SIZE = 50
# A warm track API process remembers this many jobs (a few KB each): every job touched in a busy
# week fits, and the memory stays in the low megabytes however long the process lives.
CACHE_SIZE = 2_000


class JobRecordInvalid(ValueError):
    """A stored record does not validate; the message names its key and fields, never values."""


@dataclass(frozen=True)
class Page:
    """One dashboard page, and the cursor of the next (None: this was the last)."""

    jobs: list[Job]
    next: str | None


def parse_job(body: bytes, key: str) -> Job:
    try:
        return Job.model_validate_json(body)
    except ValidationError as exc:
        raise JobRecordInvalid(describe_validation_error(exc, key)) from None


class JobRecords:
    """The job records of one bucket, read through one S3 client."""

    def __init__(self, s3: Any, bucket: str, *, cache_size: int = 0) -> None:
        self._s3 = s3
        self.bucket = bucket
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._ids: OrderedDict[str, str] = OrderedDict()  # token digest -> job id
        self._jobs: OrderedDict[str, tuple[str, Job]] = OrderedDict()  # job id -> (etag, job)

    # --- one job --------------------------------------------------------------------------------

    def get_with_etag(self, job_id: str) -> tuple[Job, str] | None:
        """The job and its ETag, or None when there is no such record (or it was archived)."""
        key = layout.job_key(job_id)
        cached = self._cached(self._jobs, job_id)
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if cached is not None:
            request["IfNoneMatch"] = cached[0]
        try:
            got = self._s3.get_object(**request)
        except ClientError as err:
            if cached is not None and is_not_modified(err):
                return cached[1], cached[0]
            if is_missing_key(err):
                self._forget(job_id)
                return None
            raise
        job = parse_job(got["Body"].read(), key)
        self._remember(self._jobs, job_id, (got["ETag"], job))
        return job, got["ETag"]

    def get(self, job_id: str) -> Job | None:
        found = self.get_with_etag(job_id)
        return None if found is None else found[0]

    def get_many(self, job_ids: Iterable[str]) -> list[Job | None]:
        """Each job (None where missing), read in parallel: a page costs one round of GETs."""
        return parallel(self.get, job_ids)

    def job_id_for_token(self, token: str) -> str | None:
        digest = layout.sha256_hex(token)
        job_id = self._cached(self._ids, digest)
        if job_id is not None:
            return job_id
        key = layout.token_key(token)
        try:
            got = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if is_missing_key(err):
                return None
            raise
        job_id = _lookup_job_id(got["Body"].read(), key)
        self._remember(self._ids, digest, job_id)
        return job_id

    def find_by_token(self, token: str) -> Job | None:
        """The job this token tracks, or None.

        The lookup is keyed by the token's SHA-256, and the record's token is then compared in
        constant time: a timing difference can reveal something about a hash, never a token.
        """
        job_id = self.job_id_for_token(token)
        if job_id is None:
            return None
        job = self.get(job_id)
        if job is None or not hmac.compare_digest(job.token.encode(), token.encode()):
            return None
        return job

    # --- pages ----------------------------------------------------------------------------------

    def page(
        self,
        *,
        status: JobStatus | None = None,
        service_date: date | None = None,
        after: str | None = None,
        limit: int = PAGE_SIZE,
    ) -> Page:
        """Jobs newest first, optionally of one status and/or one service date.

        ``after`` is the previous page's ``next``. A date's index holds that day's jobs, a status's
        those in it; with no filter the status indexes are listed side by side and merged (their
        keys share one order). Each entry's job is read and checked, so an entry a crash left
        behind is skipped, never shown under the wrong filter. Cost: one listing per index read
        (seven at most) and one GET per job shown, whatever the size of the history.
        """
        if after is not None and not layout.ORDER_PATTERN.fullmatch(after):
            raise ValueError(
                "the page cursor is not one this API gave out; start again from the first page"
            )
        if service_date is not None:
            prefixes = [layout.date_index(service_date)]
        elif status is not None:
            prefixes = [layout.status_index(status)]
        else:
            prefixes = [layout.status_index(s) for s in JobStatus]
        found: list[Job] = []
        seen: set[str] = set()
        cursor = after or ""
        while len(found) < limit:
            wanted = limit - len(found)
            names: set[str] = set()
            truncated = False
            for prefix in prefixes:
                listed = self._s3.list_objects_v2(
                    Bucket=self.bucket,
                    Prefix=prefix,
                    StartAfter=prefix + cursor if cursor else "",
                    MaxKeys=wanted,
                )
                names.update(item["Key"][len(prefix) :] for item in listed.get("Contents", []))
                truncated = truncated or bool(listed.get("IsTruncated"))
            batch = sorted(names)[:wanted]
            if not batch:
                return Page(found, None)
            jobs = self.get_many(layout.job_id_of_order(name) for name in batch)
            for name, job in zip(batch, jobs, strict=True):
                cursor = name
                if job is None or job.id in seen:
                    continue
                if status is not None and job.status != status:
                    continue
                if service_date is not None and job.service_date != service_date:
                    continue
                seen.add(job.id)
                found.append(job)
            if not truncated and len(batch) == len(names):
                return Page(found, None)
        return Page(found, cursor)

    # --- the cache ------------------------------------------------------------------------------

    def _cached(self, table: OrderedDict[str, Any], key: str) -> Any:
        if not self._cache_size:
            return None
        with self._lock:
            value = table.get(key)
            if value is not None:
                table.move_to_end(key)
            return value

    def _remember(self, table: OrderedDict[str, Any], key: str, value: Any) -> None:
        if not self._cache_size:
            return
        with self._lock:
            table[key] = value
            table.move_to_end(key)
            while len(table) > self._cache_size:
                table.popitem(last=False)

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)


_LOOKUP = re.compile(('^\\{"job_id": ?"(' + JOB_ID_PATTERN[1:-1] + ')"\\}\n?$').encode())


def _lookup_job_id(body: bytes, key: str) -> str:
    # A fixed one-field shape, matched instead of parsed: the lookup is on every cold request.
    match = _LOOKUP.match(body)
    if match is None:
        raise JobRecordInvalid(f'{key} is not a token lookup ({{"job_id": "QDN-..."}})')
    return match.group(1).decode()


def lookup_body(job_id: str) -> bytes:
    """The body of a token lookup; :func:`_lookup_job_id` reads it back."""
    return f'{{"job_id": "{job_id}"}}\n'.encode()

"""The job records as the API sees them: a token or a page costs a bounded number of S3 requests.

A track lookup reads the token's lookup object (once per process: the mapping never changes) and
the job's record, the record again with ``IfNoneMatch`` on its ETag when it was read before: a warm
lookup is one request answered 304, a cold one two, however many jobs exist.

Until the bucket's ``data/jobs.json`` has been migrated (``python -m qdn.cli jobs migrate``, run by
the bootstrap), the jobs in it have no records yet; a token not found in the records is then looked
for in that legacy document, so no existing job goes missing while a deployment is half done. Once
``data/jobs.json`` is the derived export (it carries the export's metadata), that check stops for
the life of the process.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from qdn import config
from qdn.jobs.export import jobs_json_state
from qdn.jobs.model import Job
from qdn.jobs.records import CACHE_SIZE, JobRecordInvalid, JobRecords, Page
from qdn.s3_errors import error_code, is_not_modified
from qdn_api import settings

if TYPE_CHECKING:
    from qdn.jobs.legacy_document import JobsDocument

log = logging.getLogger(__name__)


class JobsUnavailable(Exception):
    """The job records cannot be read or do not validate; the API answers 503."""


class JobsStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tracking: JobRecords | None = None
        self._listing: JobRecords | None = None
        self._migrated: set[str] = set()
        self._legacy: tuple[str, str, JobsDocument] | None = None  # bucket, etag, document

    def records(self) -> JobRecords:
        """The track path's records: the light reader, a cache of ids and jobs."""
        bucket = settings.bucket()
        with self._lock:
            if self._tracking is None or self._tracking.bucket != bucket:
                self._tracking = JobRecords(settings.s3_reader(), bucket, cache_size=CACHE_SIZE)
            return self._tracking

    def listing(self) -> JobRecords:
        """The dashboard's records: it lists the index, which takes botocore's client."""
        bucket = settings.bucket()
        with self._lock:
            if self._listing is None or self._listing.bucket != bucket:
                self._listing = JobRecords(settings.s3_client(), bucket)
            return self._listing

    def find_by_token(self, token: str) -> Job | None:
        records = self.records()
        try:
            return records.find_by_token(token) or self._find_in_legacy(records.bucket, token)
        except (ClientError, BotoCoreError, JobRecordInvalid) as exc:
            raise _unavailable("track lookup", records.bucket, exc) from None

    def page(self, **filters: Any) -> Page:
        records = self.listing()
        try:
            return records.page(**filters)
        except (ClientError, BotoCoreError, JobRecordInvalid) as exc:
            raise _unavailable("dashboard page", records.bucket, exc) from None

    def _find_in_legacy(self, bucket: str, token: str) -> Job | None:
        if bucket in self._migrated:
            return None
        s3 = settings.s3_reader()
        if jobs_json_state(s3, bucket) != "legacy":
            with self._lock:
                self._migrated.add(bucket)
            return None
        legacy = self._legacy if self._legacy and self._legacy[0] == bucket else None
        request = {"Bucket": bucket, "Key": config.JOBS_KEY}
        if legacy is not None:
            request["IfNoneMatch"] = legacy[1]  # parsed once per version of the document
        try:
            got = s3.get_object(**request)
        except ClientError as err:
            if legacy is None or not is_not_modified(err):
                raise
            return legacy[2].find_by_token(token)
        # Only a bucket not migrated yet pays for this model.
        from qdn.jobs.legacy_document import JobsDocument, JobsDocumentError

        try:
            document = JobsDocument.from_json_bytes(got["Body"].read())
        except JobsDocumentError as exc:
            log.error("legacy s3://%s/%s does not validate: %s", bucket, config.JOBS_KEY, exc)
            raise JobsUnavailable("legacy jobs.json invalid") from None
        with self._lock:
            self._legacy = (bucket, got["ETag"], document)
        log.warning(
            "s3://%s/%s is not migrated yet (%d jobs); run: python -m qdn.cli jobs migrate",
            bucket, config.JOBS_KEY, len(document.jobs),
        )  # fmt: skip
        return document.find_by_token(token)

    def forget(self) -> None:
        with self._lock:
            self._tracking = self._listing = None
            self._migrated.clear()
            self._legacy = None


def _unavailable(what: str, bucket: str, exc: Exception) -> JobsUnavailable:
    if isinstance(exc, ClientError):
        reason = error_code(exc) or "?"
    elif isinstance(exc, JobRecordInvalid):
        # The message names the key and fields only (never values, so never a token).
        reason = str(exc)
    else:
        reason = type(exc).__name__
    log.error("%s in s3://%s failed: %s", what, bucket, reason)
    return JobsUnavailable(reason)


STORE = JobsStore()

"""The job records as the API sees them: one conditional S3 GET per lookup, parsed once per ETag.

A warm handler keeps the last parsed, indexed ``jobs.json`` with its ETag and asks S3 only "has
it changed?" (``IfNoneMatch``). S3 answers 304 with no body almost always, so a lookup costs one
small round trip and a dict lookup, however many jobs there are; a new ETag is downloaded and
parsed once. Asking every time (instead of trusting the copy for some seconds) means a job the
release has just written is visible on the very next request, which the release's smoke check and
the customer both depend on.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qdn import config
from qdn.jobs.model import JobsDocument, JobsDocumentError
from qdn_api import settings

log = logging.getLogger(__name__)


class JobsUnavailable(Exception):
    """The job records cannot be read or do not validate; the API answers 503."""


@dataclass(frozen=True)
class _Loaded:
    bucket: str
    etag: str
    document: JobsDocument | None  # None: this ETag's content did not validate
    problem: str | None


class JobsStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def document(self) -> JobsDocument:
        bucket = settings.bucket()
        key = config.JOBS_KEY
        cached = self._loaded if self._loaded and self._loaded.bucket == bucket else None
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if cached is not None:
            request["IfNoneMatch"] = cached.etag
        try:
            response = settings.s3_client().get_object(**request)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 304 and cached is not None:
                return self._usable(cached)
            code = exc.response.get("Error", {}).get("Code", "?")
            log.error("cannot read s3://%s/%s: %s (HTTP %s)", bucket, key, code, status)
            raise JobsUnavailable(f"jobs.json unreadable: {code}") from None
        except BotoCoreError as exc:
            log.error("cannot reach S3 for s3://%s/%s: %s", bucket, key, type(exc).__name__)
            raise JobsUnavailable("S3 unreachable") from None

        etag = response.get("ETag", "")
        try:
            data = response["Body"].read()
        except (BotoCoreError, OSError) as exc:
            log.error("reading s3://%s/%s failed: %s", bucket, key, type(exc).__name__)
            raise JobsUnavailable("S3 read failed") from None
        try:
            with _collector_paused():
                document = JobsDocument.from_json_bytes(data)
            loaded = _Loaded(bucket, etag, document, None)
            log.info("loaded s3://%s/%s %s: %d jobs", bucket, key, etag, len(loaded.document.jobs))
        except JobsDocumentError as exc:
            # The message names fields and reasons only (never input values, so never a token).
            loaded = _Loaded(bucket, etag, None, str(exc))
            log.error("s3://%s/%s %s does not validate: %s", bucket, key, etag, exc)
        with self._lock:
            self._loaded = loaded
        return self._usable(loaded)

    @staticmethod
    def _usable(loaded: _Loaded) -> JobsDocument:
        if loaded.document is None:
            # Remembered by ETag: a broken file is not downloaded and parsed again per request.
            raise JobsUnavailable(loaded.problem or "jobs.json invalid")
        return loaded.document

    def forget(self) -> None:
        with self._lock:
            self._loaded = None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Parse without Python's cycle collector, then freeze what survived.

    Parsing a hundred thousand jobs allocates millions of objects; each allocation burst would
    trigger a full collection that walks everything allocated so far, tripling the cold start.
    The document holds no reference cycles (plain pydantic models, freed by reference counting
    when the next version replaces it), so nothing is lost by pausing, and freezing afterwards
    keeps later collections from walking it on every request.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()


STORE = JobsStore()

"""The one read-modify-write loop for small S3 documents that several writers share.

S3 has no transactions, but PutObject takes ``IfNoneMatch: *`` (create only) and ``IfMatch``
(replace only the version read). Read the object with its ETag, change it in memory, write it back
on that condition; on 412/409 another writer got there first, so read again and redo the change.
The change is a pure function of what was read, so running it again on the fresh document is
always right, and nothing another writer added is ever lost.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from qdn import headers
from qdn.s3_errors import is_conflict, is_missing

# Release documents have at most a handful of writers at once (the tasks of one run, or two runs
# finishing together); ten rounds outlast any honest contention, and a writer still losing after
# that is a bug worth failing on.
ATTEMPTS = 10
# Backoff between rounds: long enough for the winner's write to land, short next to a task.
RETRY_BASE_SECONDS = 0.05
RETRY_MAX_SECONDS = 1.0


class ConditionalWriteError(RuntimeError):
    """The document kept changing under every attempt; the message names it."""


def _backoff(attempt: int) -> None:
    # Full jitter: concurrent losers spread out instead of colliding again in step.
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt)
    time.sleep(random.uniform(0, delay))  # noqa: S311 (timing jitter, not security)


def read_with_etag(s3: Any, bucket: str, key: str) -> tuple[bytes | None, str | None]:
    try:
        got = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if is_missing(err):
            return None, None
        raise
    return got["Body"].read(), got["ETag"]


def update_object(
    s3: Any,
    bucket: str,
    key: str,
    change: Callable[[bytes | None], bytes | None],
    *,
    content_type: str = "application/json",
    attempts: int = ATTEMPTS,
) -> tuple[bytes | None, str | None]:
    """Apply ``change`` to the object's body (None: absent) until a conditional write lands.

    ``change`` returns the new body, or None to leave the object as it is. Returns the body and
    ETag the object has afterwards.
    """
    for attempt in range(attempts):
        body, etag = read_with_etag(s3, bucket, key)
        new = change(body)
        if new is None or new == body:
            return body, etag
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            put = s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=new,
                ContentType=content_type,
                CacheControl=headers.PRIVATE_CACHE_CONTROL,
                **condition,
            )
        except ClientError as err:
            if not is_conflict(err):
                raise
            _backoff(attempt)
            continue
        return new, put["ETag"]
    raise ConditionalWriteError(
        f"s3://{bucket}/{key} kept changing under {attempts} attempts to update it; another "
        "writer is looping — find it before retrying"
    )

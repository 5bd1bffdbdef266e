"""The one way this project writes an S3 object that other writers may race for.

S3 has no transactions, but PutObject takes two conditions:

- ``IfNoneMatch: *`` — create only: S3 answers 412 if the key exists. :func:`create_object` uses
  it for everything written once (a job record, a token lookup, a build
  manifest, kept function code, a booking): the first writer wins and a second one learns the
  key is taken instead of overwriting it.
- ``IfMatch: <etag>`` — replace only the version that was read: S3 answers 412 if anyone wrote
  in between (and 409 ConditionalRequestConflict while another conditional write to the key is in
  flight). :func:`update_object` reads with the ETag, applies a pure change to what it read and
  writes on that condition; on a conflict it reads again and redoes the change on the newer body,
  so nothing another writer wrote is ever lost.

The bounds, once for every caller: each object has a handful of writers at most (the tasks of one
run, two runs finishing together, an operator's status change), each round one GET and one PUT of
tens of milliseconds. Ten rounds with full-jitter backoff (50 ms doubling, capped at 1 s, so at
most about 5 s of waiting in all) outlast any honest contention; a writer still losing after that
is facing a loop that rewrites the key continuously, and it stops and says so rather than hold a
worker slot. Different keys never conflict: the job store gives every job its own object for
exactly that reason.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from qdn import headers
from qdn.s3_errors import is_conflict, is_missing

ATTEMPTS = 10
RETRY_BASE_SECONDS = 0.05  # about one S3 round trip
RETRY_MAX_SECONDS = 1.0


class ConditionalWriteError(RuntimeError):
    """The object kept changing under every attempt; the message names it."""


@dataclass(frozen=True)
class Updated:
    """What :func:`update_object` left: the body and ETag the object has now (None: absent),
    whether this call wrote it, and how many read-write rounds it took."""

    body: bytes | None
    etag: str | None
    written: bool
    attempts: int


def backoff_seconds(attempt: int) -> float:
    """Full jitter: concurrent losers spread out instead of colliding again in step."""
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt)
    return random.uniform(0, ceiling)  # noqa: S311 (timing jitter, not security)


def read_with_etag(s3: Any, bucket: str, key: str) -> tuple[bytes | None, str | None]:
    """The object's body and ETag, or ``(None, None)`` when it does not exist."""
    try:
        got = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if is_missing(err):
            return None, None
        raise
    return got["Body"].read(), got["ETag"]


def _put_if(
    s3: Any, bucket: str, key: str, body: bytes, content_type: str, cache_control: str,
    **condition: str,
) -> str | None:  # fmt: skip
    """PutObject on ``condition``: the new ETag, or None when the condition failed (412/409)."""
    try:
        put = s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            CacheControl=cache_control,
            **condition,
        )
    except ClientError as err:
        if is_conflict(err):
            return None
        raise
    return put["ETag"]


def create_object(
    s3: Any,
    bucket: str,
    key: str,
    body: bytes,
    *,
    content_type: str = "application/json",
    cache_control: str = headers.PRIVATE_CACHE_CONTROL,
) -> str | None:
    """Write ``key`` only if it does not exist: the new ETag, or None when it already existed
    (then nothing was written, and the caller decides whether what is there is what it meant)."""
    return _put_if(s3, bucket, key, body, content_type, cache_control, IfNoneMatch="*")


def update_object(
    s3: Any,
    bucket: str,
    key: str,
    change: Callable[[bytes | None], bytes | None],
    *,
    content_type: str = "application/json",
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> Updated:
    """Apply ``change`` to the object's body (None: absent) until a conditional write lands.

    ``change`` must be a pure function of the body it is given (it may run once per round) and
    returns the new body, or None to leave the object as it is; it may raise to refuse, and then
    nothing is written.
    """
    for attempt in range(1, attempts + 1):
        body, etag = read_with_etag(s3, bucket, key)
        new = change(body)
        if new is None or new == body:
            return Updated(body, etag, written=False, attempts=attempt)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        written = _put_if(
            s3, bucket, key, new, content_type, headers.PRIVATE_CACHE_CONTROL, **condition
        )
        if written is not None:
            return Updated(new, written, written=True, attempts=attempt)
        if attempt < attempts:
            sleep(backoff_seconds(attempt))
    raise ConditionalWriteError(
        f"s3://{bucket}/{key} changed under each of {attempts} attempts to update it (HTTP 412 "
        "or 409 on every conditional write), so another writer is rewriting it continuously. "
        "Nothing was written by this call; find that writer (CloudTrail or the bucket's access "
        "logs name it), then retry — a retry is safe."
    )

"""What an S3 error means for a conditional write: the one place these codes are listed.

S3 answers a failed condition with 412 PreconditionFailed (the ETag no longer matches, or the key
exists for ``IfNoneMatch: *``) and with 409 ConditionalRequestConflict when another conditional
write to the same key was in flight; both mean "someone else wrote first: re-read and decide".
A HEAD has no body, so its errors carry only the status as the code.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _status(err: ClientError) -> int | None:
    return err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def is_conflict(err: ClientError) -> bool:
    """A conditional write lost: the object changed (or exists) since it was read."""
    return error_code(err) in CONFLICT_CODES or _status(err) in (409, 412)


def is_missing(err: ClientError) -> bool:
    """The key is not there."""
    return error_code(err) in MISSING_CODES or _status(err) == 404


def is_missing_key(err: ClientError) -> bool:
    """The key is not there, in a bucket that is: a missing bucket is a misconfiguration to
    report, never "no such job"."""
    return is_missing(err) and error_code(err) != "NoSuchBucket"


def is_not_modified(err: ClientError) -> bool:
    """A GET with ``IfNoneMatch`` found the object unchanged (botocore raises on the 304)."""
    return _status(err) == 304 or error_code(err) in {"304", "NotModified"}


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    """One HEAD: whether ``key`` is there (a missing bucket raises, it is no answer)."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if is_missing_key(err):
            return False
        raise
    return True

"""The live pointer: which build every edge serves, one key in a CloudFront KeyValueStore.

The function associated with the store reads ``live`` on every viewer request and rewrites the
path into ``builds/<live>/``. Writing it is the release; writing an older id back is the rollback.
The data plane's writes are compare-and-swap on the whole store's ETag (``IfMatch``), so two
releases cannot both think they switched: the second gets ``ConflictException`` and re-plans.

The ETag comes from DescribeKeyValueStore, read *before* the value: a write landing between the
two reads makes our later PutKey conflict instead of overwriting a value we never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


class PointerError(RuntimeError):
    """The pointer could not be read or moved; the message says what to do."""


class PointerConflict(PointerError):
    """Someone else wrote the store since it was read: re-read and decide again."""


@dataclass(frozen=True)
class PointerState:
    kvs_arn: str
    key: str
    value: str | None  # None: the key does not exist (before the first release)
    etag: str  # the store's ETag when read: the IfMatch of the next write


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def kvs_arn(cloudfront: Any, name: str) -> str:
    """The store's ARN from its name (control plane); a clear error if it does not exist."""
    try:
        return cloudfront.describe_key_value_store(Name=name)["KeyValueStore"]["ARN"]
    except ClientError as err:
        if _code(err) in ("EntityNotFound", "NoSuchResource", "ResourceNotFoundException"):
            raise PointerError(
                f"the KeyValueStore {name!r} does not exist; run the bootstrap (or create it "
                "from the infrastructure template) before releasing"
            ) from err
        raise


def read_pointer(kvs: Any, arn: str, key: str) -> PointerState:
    etag = kvs.describe_key_value_store(KvsARN=arn)["ETag"]
    try:
        value = kvs.get_key(KvsARN=arn, Key=key)["Value"]
    except ClientError as err:
        if _code(err) != "ResourceNotFoundException":
            raise
        value = None
    return PointerState(arn, key, value, etag)


def write_pointer(kvs: Any, state: PointerState, value: str) -> str:
    """Set the key to ``value`` if the store is still as read; returns the store's new ETag."""
    try:
        return kvs.put_key(KvsARN=state.kvs_arn, Key=state.key, Value=value, IfMatch=state.etag)[
            "ETag"
        ]
    except ClientError as err:
        if _code(err) in ("ConflictException", "PreconditionFailed"):
            raise PointerConflict(
                f"the KeyValueStore {state.kvs_arn} changed since it was read (ETag "
                f"{state.etag}): another release or rollback moved {state.key!r}; the task "
                "re-reads it on retry"
            ) from err
        raise

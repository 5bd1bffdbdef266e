"""What every release operator shares: the validated params, S3 access, and which errors retry.

Airflow retries a failed task whatever failed. A release must retry only what can succeed the
second time — throttling, timeouts, a 5xx — and fail at once on everything else (bad params, a
failed gate, a stale ETag), so ops see the real cause immediately instead of after five retries.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from qdn import config
from qdn.hooks.cloudfront import CloudFrontHook
from qdn.hooks.keyvaluestore import KeyValueStoreHook
from qdn.live_pointer import PointerState, kvs_arn, read_pointer
from qdn.release_params import ReleaseParams, ReleaseParamsError

log = logging.getLogger(__name__)

# AWS's own "try again" codes (botocore's standard retry mode treats the same set as transient).
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "TooManyInvalidationsInProgress",
    }
)
TRANSIENT_EXCEPTIONS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)


def is_transient(err: BaseException) -> bool:
    if isinstance(err, TRANSIENT_EXCEPTIONS):
        return True
    if isinstance(err, ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_CODES or status >= 500
    return False


@contextlib.contextmanager
def retry_only_transient(
    step: str, retryable: tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """Re-raise transient AWS errors and ``retryable`` ones (Airflow retries them); fail the task
    at once otherwise."""
    try:
        yield
    except AirflowFailException:
        raise
    except Exception as err:
        if is_transient(err) or isinstance(err, retryable):
            log.warning("%s hit a transient AWS error, the task will retry: %s", step, err)
            raise
        raise AirflowFailException(f"{step} failed: {err}") from err


def release_params(context: Any) -> ReleaseParams:
    try:
        return ReleaseParams.from_params(dict(context["params"]))
    except ReleaseParamsError as err:
        raise AirflowFailException(str(err)) from None


def s3_client(aws_conn_id: str | None, region_name: str | None = None) -> Any:
    """The S3 client from the same connection (``endpoint_url`` reaches moto locally)."""
    return S3Hook(aws_conn_id=aws_conn_id, region_name=region_name).get_conn()


def kvs_client(aws_conn_id: str | None, region_name: str | None = None) -> Any:
    """The KeyValueStore data-plane client from the same connection."""
    return KeyValueStoreHook(aws_conn_id=aws_conn_id, region_name=region_name).conn


def live_store_arn(aws_conn_id: str | None, region_name: str | None = None) -> str:
    """The ARN of the store that holds the live pointer, found by its name."""
    hook = CloudFrontHook(aws_conn_id=aws_conn_id, region_name=region_name)
    return kvs_arn(hook.conn, config.KVS_NAME)


def live_pointer(aws_conn_id: str | None, region_name: str | None = None) -> PointerState:
    """The live pointer as it is now: its store, the build it names and the store's ETag."""
    arn = live_store_arn(aws_conn_id, region_name)
    return read_pointer(kvs_client(aws_conn_id, region_name), arn, config.LIVE_POINTER_KEY)


class BucketOperator(AwsBaseOperator[S3Hook]):
    """An operator that works on the site's bucket through the S3 hook of its connection."""

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("bucket")

    def __init__(self, *, bucket: str = config.BUCKET, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket

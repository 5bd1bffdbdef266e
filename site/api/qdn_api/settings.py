"""Where the API finds its bucket and dispatcher key, and its one S3 client.

The client is built once per process and reused while the Lambda environment is warm. It is a
plain botocore client: boto3 would add nothing the handlers call, and importing it (with the
s3transfer machinery it loads for uploads) costs a cold start about as much again as everything
else. botocore reads ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` itself, which is how the local
stack points it at moto; against AWS nothing is set.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from qdn import config
from qdn_api.s3_reader import ATTEMPTS, CONNECT_TIMEOUT, READ_TIMEOUT, S3Reader

BUCKET_ENV = "QDN_BUCKET"
DASHBOARD_KEY_ENV = "QDN_DASHBOARD_KEY"

_lock = threading.Lock()
_client: Any = None
_reader: Any = None


def bucket() -> str:
    return os.environ.get(BUCKET_ENV) or config.BUCKET


def dashboard_key() -> str | None:
    return os.environ.get(DASHBOARD_KEY_ENV) or None


def s3_client() -> Any:
    """botocore's S3 client, for what the track path does not do (listings, bookings)."""
    global _client
    with _lock:
        if _client is None:
            # Imported here: the track path never pays for botocore's client (see s3_reader).
            import botocore.session
            from botocore.config import Config

            _client = botocore.session.Session().create_client(
                "s3",
                config=Config(
                    connect_timeout=CONNECT_TIMEOUT,
                    read_timeout=READ_TIMEOUT,
                    retries={"mode": "standard", "max_attempts": ATTEMPTS},
                ),
            )
        return _client


def s3_reader() -> Any:
    """The track path's reads: the light signed reader, or the client without env credentials."""
    global _reader
    with _lock:
        if _reader is None:
            _reader = S3Reader.from_environment()
    return _reader or s3_client()


def reset() -> None:
    """Forget the client and the reader (and so their endpoint); the next call builds anew."""
    global _client, _reader
    with _lock:
        _client = _reader = None

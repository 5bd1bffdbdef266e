"""Where the API finds its bucket and dispatcher key, and its one S3 client.

The client is built once per process and reused while the Lambda environment is warm. boto3
reads ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` itself, which is how the local stack points
it at moto; against AWS nothing is set.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

from qdn import config

BUCKET_ENV = "QDN_BUCKET"
DASHBOARD_KEY_ENV = "QDN_DASHBOARD_KEY"

# A customer is waiting on every call: fail fast and say "try again" rather than hang until the
# function times out. Two attempts in standard mode ride out one dropped connection.
_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 2},
)

_lock = threading.Lock()
_client: Any = None


def bucket() -> str:
    return os.environ.get(BUCKET_ENV) or config.BUCKET


def dashboard_key() -> str | None:
    return os.environ.get(DASHBOARD_KEY_ENV) or None


def s3_client() -> Any:
    global _client
    with _lock:
        if _client is None:
            _client = boto3.session.Session().client("s3", config=_CLIENT_CONFIG)
        return _client


def reset() -> None:
    """Forget the client (and so its endpoint); the next call builds a new one."""
    global _client
    with _lock:
        _client = None

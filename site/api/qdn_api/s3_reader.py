"""The track API's S3 reads: GetObject and HeadObject, signed with SigV4 on the standard library.

A customer opening a tracking link is often the first request a fresh Lambda environment serves.
botocore's client costs that cold start more than everything else together (about 300 ms to import
and build on a small machine, measured in ``bench/bench_jobs.py``), and the track path needs two of
its hundreds of operations. So it asks S3 directly: one signed HTTP request per read over a kept-
alive connection, path-style (the bucket name has dots, which virtual-hosted TLS names cannot
carry). The signature is checked against botocore's own signer in the tests.

It answers like a botocore client (a dict with ``Body``, ``ETag``, ``Metadata``; failures as
``botocore.exceptions.ClientError`` with the S3 error code and HTTP status), so the shared record
reader and :mod:`qdn.s3_errors` use it unchanged. Credentials come from the environment, which is
where Lambda puts its role's; without them, the API falls back to a botocore client.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import os
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError, EndpointConnectionError

# sha256 of an empty body: what a GET or HEAD signs as its payload.
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# The same bounds as the API's botocore client: a customer is waiting, so fail fast and say "try
# again"; two attempts ride out one dropped connection or one 5xx.
CONNECT_TIMEOUT, READ_TIMEOUT, ATTEMPTS = 2.0, 5.0, 2
_CODE = re.compile(rb"<Code>([^<]{1,64})</Code>")
_META = "x-amz-meta-"


class S3Reader:
    """GetObject/HeadObject for one endpoint and one set of credentials."""

    def __init__(
        self,
        *,
        access_key: str,
        secret_key: str,
        session_token: str | None,
        region: str,
        endpoint: str | None = None,
    ) -> None:
        self._key, self._secret, self._token = access_key, secret_key, session_token
        self.region = region
        parts = urlsplit(endpoint or f"https://s3.{region}.amazonaws.com")
        self._scheme, self._host = parts.scheme, parts.netloc
        self._base = parts.path.rstrip("/")
        self._local = threading.local()
        self._observers: list[Callable[[str, dict[str, str]], None]] = []

    def on_send(self, observer: Callable[[str, dict[str, str]], None]) -> None:
        """Call ``observer(operation, headers)`` before each HTTP request (retries included): the
        counterpart of botocore's ``before-send`` event, for request budgets and benchmarks."""
        self._observers.append(observer)

    @classmethod
    def from_environment(cls) -> S3Reader | None:
        """The reader Lambda's environment describes, or None when it holds no credentials."""
        access, secret = (
            os.environ.get("AWS_ACCESS_KEY_ID"),
            os.environ.get("AWS_SECRET_ACCESS_KEY"),
        )
        if not access or not secret:
            return None
        return cls(
            access_key=access,
            secret_key=secret,
            session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
            region=os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1",
            endpoint=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
        )

    # --- the two operations ---------------------------------------------------------------------

    def get_object(
        self, *, Bucket: str, Key: str, IfNoneMatch: str | None = None
    ) -> dict[str, Any]:
        extra = {"if-none-match": IfNoneMatch} if IfNoneMatch else {}
        headers, body = self._send("GET", Bucket, Key, extra, "GetObject")
        return {**_described(headers), "Body": io.BytesIO(body)}

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        headers, _ = self._send("HEAD", Bucket, Key, {}, "HeadObject")
        return _described(headers)

    # --- the request ----------------------------------------------------------------------------

    def _send(
        self, method: str, bucket: str, key: str, extra: dict[str, str], operation: str
    ) -> tuple[dict[str, str], bytes]:
        path = quote(f"{self._base}/{bucket}/{key}", safe="/-_.~")
        failure: Exception | None = None
        for _ in range(ATTEMPTS):
            headers = {**self.signed_headers(method, path, datetime.now(UTC)), **extra}
            for observer in self._observers:
                observer(operation, headers)
            try:
                connection = self._connection()
                connection.request(method, path, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as err:
                self._drop_connection()
                failure = err
                continue
            answer = {name.lower(): value for name, value in response.getheaders()}
            if response.status >= 500:
                failure = _client_error(response.status, body, operation)
                continue
            if response.status >= 300:
                raise _client_error(response.status, body, operation)
            return answer, body
        if isinstance(failure, ClientError):
            raise failure
        raise EndpointConnectionError(endpoint_url=f"{self._scheme}://{self._host}") from failure

    def signed_headers(self, method: str, path: str, now: datetime) -> dict[str, str]:
        """SigV4 (S3 flavour: the payload hash travels as a header, the path is encoded once)."""
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        headers = {"host": self._host, "x-amz-content-sha256": _EMPTY_SHA256, "x-amz-date": stamp}
        if self._token:
            headers["x-amz-security-token"] = self._token
        names = sorted(headers)
        canonical = "\n".join(
            [
                method,
                path,
                "",  # no query string
                *(f"{name}:{headers[name].strip()}" for name in names),
                "",
                ";".join(names),
                _EMPTY_SHA256,
            ]
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        signing_key = ("AWS4" + self._secret).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            signing_key = hmac.new(signing_key, part.encode(), hashlib.sha256).digest()
        signature = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self._key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return headers

    def _connection(self) -> http.client.HTTPConnection:
        # One kept-alive connection per thread: http.client connections are not thread-safe.
        connection = getattr(self._local, "connection", None)
        if connection is None:
            kind = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            connection = kind(self._host, timeout=CONNECT_TIMEOUT)
            self._local.connection = connection
        if connection.sock is not None:
            connection.sock.settimeout(READ_TIMEOUT)
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
        self._local.connection = None


def _described(headers: dict[str, str]) -> dict[str, Any]:
    return {
        "ETag": headers.get("etag", ""),
        "Metadata": {k[len(_META) :]: v for k, v in headers.items() if k.startswith(_META)},
        "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": headers},
    }


def _client_error(status: int, body: bytes, operation: str) -> ClientError:
    match = _CODE.search(body)
    # A HEAD (or a 304) has no body: the status is the code, as botocore reports it.
    code = match.group(1).decode("ascii", "replace") if match else str(status)
    return ClientError(
        {"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )

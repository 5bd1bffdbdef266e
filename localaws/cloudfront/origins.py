"""The edge's origins: the S3 bucket (through moto) and the track API's Lambda function URL.

S3: an origin whose DomainName is ``<bucket>.s3.amazonaws.com`` or
``<bucket>.s3.<region>.amazonaws.com`` is read with a signed GetObject, as origin access control
does it (the bucket stays private), at key ``OriginPath`` + URI. A missing key is a 403, because
that is what S3 answers a caller without ``s3:ListBucket``: CloudFront with OAC serves 403, not
404, for an object that is not there.

Lambda function URL: an origin whose DomainName ends in ``.lambda-url.<region>.on.aws`` is served
by calling the configured handler in-process with a function-URL (payload 2.0) event; its result
becomes the response exactly as the function URL would turn it into HTTP. A handler that raises is
a 502, as the function URL answers it. The edge forwards the query string undecoded: the event's
``rawQueryString`` is that text, and ``queryStringParameters`` its decoded values, as a function
URL builds them.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, unquote_plus
from xml.etree import ElementTree as ET

from werkzeug.http import http_date

from localaws.cloudfront.ids import ACCOUNT_ID
from localaws.cloudfront.viewer import Pairs, ViewerRequest
from localaws.stack import FAKE_CREDENTIALS

log = logging.getLogger("localaws.cloudfront")

_S3_DOMAIN = re.compile(r"^(?P<bucket>.+?)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")
# Any host under .lambda-url.<region>.on.aws: real URL ids are 32 lower-case alphanumerics, but
# the edge only needs to know the origin is a function URL, so it does not police the id.
_LAMBDA_URL_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+\.lambda-url\.[a-z0-9-]+\.on\.aws$")

# Headers of an S3 object CloudFront passes on to the viewer.
_S3_PASSED = {
    "ContentType": "Content-Type",
    "CacheControl": "Cache-Control",
    "ETag": "ETag",
    "ContentEncoding": "Content-Encoding",
    "ContentLanguage": "Content-Language",
    "ContentDisposition": "Content-Disposition",
}

# A function URL's invocation timeout ceiling; the context reports the time left against it.
LAMBDA_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class OriginResponse:
    status: int
    headers: Pairs
    body: bytes


def _text_response(status: int, text: str) -> OriginResponse:
    return OriginResponse(status, [("Content-Type", "text/plain; charset=utf-8")], text.encode())


def s3_bucket(domain: str) -> str | None:
    m = _S3_DOMAIN.match(domain)
    if not m or ".s3-website" in domain:
        return None
    return m.group("bucket")


def is_lambda_url(domain: str) -> bool:
    return _LAMBDA_URL_DOMAIN.match(domain) is not None


def _s3_error(code: str, message: str, status: int) -> OriginResponse:
    root = ET.Element("Error")
    ET.SubElement(root, "Code").text = code
    ET.SubElement(root, "Message").text = message
    ET.SubElement(root, "RequestId").text = uuid.uuid4().hex[:16].upper()
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return OriginResponse(status, [("Content-Type", "application/xml")], body)


class S3ReadError(OSError):
    """An object S3 would not hand over (missing, refused, unreachable); the message says why."""


class S3Origin:
    """Reads objects from moto's S3 with a signed client, like origin access control (and, for a
    key value store's ``ImportSource``, as CloudFront reads an import file)."""

    def __init__(self, endpoint: str, region: str) -> None:
        self._endpoint = endpoint
        self._region = region
        self._client: Any = None
        self._lock = threading.Lock()

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                # moto takes any credentials; the stack's own are the fallback outside it.
                creds = {k: os.environ.get(k, fake) for k, fake in FAKE_CREDENTIALS.items()}
                self._client = boto3.client(
                    "s3",
                    endpoint_url=self._endpoint,
                    region_name=self._region,
                    aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                    # Dotted bucket names (quickdumpnow.com) need path-style addressing.
                    config=Config(
                        s3={"addressing_style": "path"},
                        retries={"max_attempts": 2, "mode": "standard"},
                        connect_timeout=5,
                        read_timeout=30,
                    ),
                )
            return self._client

    def read_object(self, bucket: str, key: str) -> bytes:
        """The object's bytes, or S3ReadError."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise S3ReadError(f"S3 answered {code or 'an error'} for s3://{bucket}/{key}") from None
        except BotoCoreError as exc:
            raise S3ReadError(f"S3 could not be reached for s3://{bucket}/{key}: {exc}") from None

    def fetch(self, bucket: str, origin_path: str, uri: str, default_root: str) -> OriginResponse:
        if uri == "/" and default_root:
            uri = "/" + default_root.lstrip("/")
        key = (origin_path.strip("/") + "/" if origin_path.strip("/") else "") + unquote(
            uri.lstrip("/")
        )
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            obj = self._s3().get_object(Bucket=bucket, Key=key)
            body = obj["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "AccessDenied", "403"):
                return _s3_error("AccessDenied", "Access Denied", 403)
            if code == "NoSuchBucket":
                return _s3_error("NoSuchBucket", "The specified bucket does not exist", 404)
            log.warning("S3 origin error for s3://%s/%s: %s", bucket, key, code)
            return _text_response(502, "The origin (S3) returned an error.")
        except BotoCoreError as exc:
            log.warning("S3 origin unreachable for s3://%s/%s: %s", bucket, key, exc)
            return _text_response(502, "The origin (S3) could not be reached.")
        headers: Pairs = [(h, str(obj[f])) for f, h in _S3_PASSED.items() if obj.get(f)]
        if obj.get("LastModified"):
            headers.append(("Last-Modified", http_date(obj["LastModified"])))
        if obj.get("Expires"):
            expires = obj["Expires"]
            if isinstance(expires, datetime):
                expires = http_date(expires)
            headers.append(("Expires", str(expires)))
        return OriginResponse(200, headers, body)


class _LambdaContext:
    """The few context attributes a handler reads (request id, function name, time left)."""

    def __init__(self, function_name: str, region: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = "128"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = datetime.now(UTC).strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + LAMBDA_TIMEOUT_MS / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


class LambdaUrlOrigin:
    """Calls ``module:function`` in-process as a Lambda function URL would invoke it."""

    def __init__(self, handler_spec: str | None, region: str) -> None:
        self._spec = handler_spec
        self._region = region
        self._handler: Callable[[dict, Any], Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> Callable[[dict, Any], Any]:
        with self._lock:
            if self._handler is None:
                if not self._spec or ":" not in self._spec:
                    raise RuntimeError(
                        "no API handler configured; start with --api-handler module:function"
                    )
                module_name, _, attr = self._spec.partition(":")
                self._handler = getattr(importlib.import_module(module_name), attr)
            return self._handler

    def event(self, req: ViewerRequest, domain: str) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for name, value in req.headers:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        params: dict[str, str] = {}
        for raw_name, raw_value in req.query:
            name, value = unquote_plus(raw_name), unquote_plus(raw_value)
            params[name] = f"{params[name]},{value}" if name in params else value
        content_type = headers.get("content-type", "")
        body: str | None = None
        is_b64 = False
        if req.body:
            if content_type.startswith(_TEXT_TYPES):
                try:
                    body = req.body.decode("utf-8")
                except UnicodeDecodeError:
                    body, is_b64 = base64.b64encode(req.body).decode(), True
            else:
                body, is_b64 = base64.b64encode(req.body).decode(), True
        now = datetime.now(UTC)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": req.uri,
            "rawQueryString": req.raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "anonymous",
                "apiId": domain.split(".", 1)[0],
                "domainName": domain,
                "domainPrefix": domain.split(".", 1)[0],
                "http": {
                    "method": req.method,
                    "path": req.uri,
                    "protocol": "HTTP/1.1",
                    "sourceIp": req.ip,
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "isBase64Encoded": is_b64,
        }
        if params:
            event["queryStringParameters"] = params
        if req.cookies:
            event["cookies"] = [f"{k}={v}" for k, v in req.cookies]
        if body is not None:
            event["body"] = body
        return event

    def fetch(self, req: ViewerRequest, domain: str) -> OriginResponse:
        event = self.event(req, domain)
        try:
            handler = self._load()
            name = self._spec.partition(":")[0] if self._spec else "api"
            result = handler(event, _LambdaContext(name.replace(".", "-"), self._region))
        except Exception:
            log.exception("API handler %s raised on %s %s", self._spec, req.method, req.uri)
            return _text_response(502, "Internal Server Error")
        return _function_url_response(result)


def _function_url_response(result: Any) -> OriginResponse:
    """How a function URL turns a handler's return value into HTTP (payload format 2.0)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # Anything else is a 200 with the value as a JSON body.
        body = result if isinstance(result, str) else json.dumps(result)
        return OriginResponse(200, [("Content-Type", "application/json")], body.encode())
    headers: Pairs = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for cookie in result.get("cookies") or []:
        headers.append(("Set-Cookie", str(cookie)))
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    raw = result.get("body") or ""
    if result.get("isBase64Encoded"):
        body = base64.b64decode(raw)
    else:
        body = raw.encode("utf-8") if isinstance(raw, str) else json.dumps(raw).encode()
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        log.error(
            "API handler returned a statusCode that is not a number: %r", result["statusCode"]
        )
        return _text_response(502, "Internal Server Error")
    return OriginResponse(status, headers, body)

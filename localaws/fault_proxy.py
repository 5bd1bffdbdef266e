"""A fault-injecting HTTP proxy in front of moto, for the reliability tests.

moto always answers, and answers at once; S3 does not. The code that writes releases and job
records has to survive a 500, a 503 ``SlowDown``, a connection that closes before the request
was sent, one that closes after the write landed but before its answer came back (a worker killed
between its write and its return), and a slow answer. This proxy forwards every request to moto
unchanged and hands back moto's response unchanged, except where a rule set at run time says to
inject one of those faults instead.

Run it as its own process, like moto::

    python -m localaws.fault_proxy --upstream http://127.0.0.1:5600 --port 5700

Rules live on the proxy itself under ``/_faults`` (no S3 bucket name can start with ``_``, so the
prefix never shadows a bucket): ``POST`` adds one rule (JSON), ``DELETE`` clears the rules and
counters, ``GET`` returns the rules, how often each matched and fired, and how many requests of
each operation the proxy saw. Tests use ``FaultProxy`` (below), which starts the process and wraps
these calls.

Only the standard library is used, so the proxy cannot change what it forwards by accident (no
client library re-encoding headers or bodies): request bodies are passed on byte for byte, a
chunked upload included, and the response's status line and headers are written as moto sent
them. Only hop-by-hop headers (``Connection``, ``Keep-Alive``, ``Expect`` ...) are the proxy's own
business on each side.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from subprocess import DEVNULL, Popen, TimeoutExpired
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

HOST = "127.0.0.1"
CONTROL_PREFIX = "/_faults"
# moto's own control API (reset, state): the test harness's, not the code under test's, so no
# rule ever applies to it and it is not counted.
MOTO_API_PREFIX = "/moto-api"

FAULTS = ("500", "503", "drop", "drop_after", "latency")

# Bodies are copied in pieces of this size: large enough to move a 5 MB object in a few hundred
# writes, small enough that a GetObject of a big key is never held in memory twice.
COPY_CHUNK = 64 * 1024
# A chunk-size line of a chunked body is a hex number and optional extensions; AWS's chunk
# signatures make it about 90 bytes. Anything longer than this is not a chunked body.
MAX_CHUNK_LINE = 8 * 1024
# moto answers in milliseconds; the bound only keeps a wedged moto from pinning a proxy thread.
UPSTREAM_TIMEOUT = 120.0
# A test suite may open many clients at once (each with its own connection pool); the default
# listen backlog of 5 would make connects wait on a busy machine.
LISTEN_BACKLOG = 128
# The proxy answers in well under a second; the bound only stops a broken start from hanging.
READY_TIMEOUT = 30.0
# SIGTERM first so the proxy finishes the request in hand; the group is killed if it lingers.
STOP_GRACE = 5.0
# Control API calls are loopback round trips; a few seconds means the proxy is wedged.
CONTROL_TIMEOUT = 10.0

# Headers that describe one hop, not the request: each side of the proxy has its own. Expect is
# among them because the proxy has already answered a client's "100-continue" itself.
# Transfer-Encoding is not: a chunked request body is forwarded as it came, framing included.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "upgrade"}
)
_REQUEST_DROPPED = _HOP_BY_HOP | {"expect"}
# A chunked response is re-chunked by the proxy as it streams it, so its framing is rewritten.
_RESPONSE_DROPPED = _HOP_BY_HOP

# Query-string subresources of a bucket: the operation for GET, PUT, DELETE, POST.
_BUCKET_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "abac": ("GetBucketAbac", "PutBucketAbac", None, None),
    "accelerate": (
        "GetBucketAccelerateConfiguration",
        "PutBucketAccelerateConfiguration",
        None,
        None,
    ),
    "acl": ("GetBucketAcl", "PutBucketAcl", None, None),
    "cors": ("GetBucketCors", "PutBucketCors", "DeleteBucketCors", None),
    "delete": (None, None, None, "DeleteObjects"),
    "encryption": ("GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption", None),
    "lifecycle": (
        "GetBucketLifecycleConfiguration",
        "PutBucketLifecycleConfiguration",
        "DeleteBucketLifecycle",
        None,
    ),
    "location": ("GetBucketLocation", None, None, None),
    "logging": ("GetBucketLogging", "PutBucketLogging", None, None),
    "metadataAnnotationTable": (
        None,
        "UpdateBucketMetadataAnnotationTableConfiguration",
        None,
        None,
    ),
    "metadataConfiguration": (
        "GetBucketMetadataConfiguration",
        None,
        "DeleteBucketMetadataConfiguration",
        "CreateBucketMetadataConfiguration",
    ),
    "metadataInventoryTable": (
        None,
        "UpdateBucketMetadataInventoryTableConfiguration",
        None,
        None,
    ),
    "metadataJournalTable": (None, "UpdateBucketMetadataJournalTableConfiguration", None, None),
    "metadataTable": (
        "GetBucketMetadataTableConfiguration",
        None,
        "DeleteBucketMetadataTableConfiguration",
        "CreateBucketMetadataTableConfiguration",
    ),
    "notification": (
        "GetBucketNotificationConfiguration",
        "PutBucketNotificationConfiguration",
        None,
        None,
    ),
    "object-lock": ("GetObjectLockConfiguration", "PutObjectLockConfiguration", None, None),
    "ownershipControls": (
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
        None,
    ),
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", None),
    "policyStatus": ("GetBucketPolicyStatus", None, None, None),
    "publicAccessBlock": (
        "GetPublicAccessBlock",
        "PutPublicAccessBlock",
        "DeletePublicAccessBlock",
        None,
    ),
    "replication": (
        "GetBucketReplication",
        "PutBucketReplication",
        "DeleteBucketReplication",
        None,
    ),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", None, None),
    "session": ("CreateSession", None, None, None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging", None),
    "uploads": ("ListMultipartUploads", None, None, None),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None, None),
    "versions": ("ListObjectVersions", None, None, None),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite", None),
}
# Bucket configurations kept by id: GET with ?id= reads one, GET without lists them.
_BUCKET_CONFIGURATIONS = {
    "analytics": "Analytics",
    "intelligent-tiering": "IntelligentTiering",
    "inventory": "Inventory",
    "metrics": "Metrics",
}
# Query-string subresources of an object: the operation for GET, PUT, DELETE, POST.
_OBJECT_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "acl": ("GetObjectAcl", "PutObjectAcl", None, None),
    "attributes": ("GetObjectAttributes", None, None, None),
    "encryption": (None, "UpdateObjectEncryption", None, None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None, None),
    "renameObject": (None, "RenameObject", None, None),
    "restore": (None, None, None, "RestoreObject"),
    "retention": ("GetObjectRetention", "PutObjectRetention", None, None),
    "select": (None, None, None, "SelectObjectContent"),
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging", None),
    "torrent": ("GetObjectTorrent", None, None, None),
    "uploads": (None, None, None, "CreateMultipartUpload"),
}
_METHOD_SLOT = {"GET": 0, "PUT": 1, "DELETE": 2, "POST": 3}
_PLAIN_BUCKET = {
    "GET": "ListObjects",
    "HEAD": "HeadBucket",
    "PUT": "CreateBucket",
    "DELETE": "DeleteBucket",
    "POST": "PostObject",
}
_PLAIN_OBJECT = {
    "GET": "GetObject",
    "HEAD": "HeadObject",
    "PUT": "PutObject",
    "DELETE": "DeleteObject",
}
_MULTIPART = {
    "GET": "ListParts",
    "POST": "CompleteMultipartUpload",
    "DELETE": "AbortMultipartUpload",
}
UNKNOWN = "Unknown"

# SigV4 names the service in its credential scope: <key>/<date>/<region>/<service>/aws4_request.
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# The Smithy RPC v2 CBOR protocol (CloudWatch) puts the operation in the path.
_RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/([^/?]+)")


@dataclass(frozen=True)
class RequestInfo:
    """What a rule can match on: the AWS service, the operation and, for S3, bucket and key."""

    service: str
    operation: str
    bucket: str | None = None
    key: str | None = None


def classify(
    method: str, target: str, headers: Mapping[str, str], body: bytes = b""
) -> RequestInfo:
    """Name the operation a request is, from what is on the wire alone.

    S3 (path-style addressing only: ``/<bucket>/<key>``) is named from the method, the path,
    the query string's subresource and the copy/rename source headers. Other services moto
    serves are named from ``X-Amz-Target`` (JSON protocol), the ``Action`` field (query
    protocol) or the RPC v2 path (CBOR); their operation is ``Unknown`` when none of those is
    there. Virtual-hosted S3 addressing is not recognised.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    service = _scope_service(lower, query)

    amz_target = lower.get("x-amz-target")
    if amz_target:
        prefix, _, operation = amz_target.rpartition(".")
        return RequestInfo(service or prefix or UNKNOWN, operation or UNKNOWN)
    rpc = _RPC_V2_PATH.match(parts.path)
    if rpc:
        return RequestInfo(service or UNKNOWN, rpc.group(1))
    action = _query_action(lower, query, body)
    if action or (service and service != "s3"):
        return RequestInfo(service or UNKNOWN, action or UNKNOWN)
    return _classify_s3(method.upper(), parts.path, query, lower)


def _scope_service(headers: Mapping[str, str], query: Mapping[str, list[str]]) -> str | None:
    match = _SCOPE.search(headers.get("authorization", ""))
    if match:
        return match.group(1)
    # A presigned URL carries the scope in the query string instead.
    credential = query.get("X-Amz-Credential", [""])[0].split("/")
    # <key>/<date>/<region>/<service>/aws4_request: the service is the fourth part.
    return credential[3] if len(credential) == 5 else None


def _query_action(
    headers: Mapping[str, str], query: Mapping[str, list[str]], body: bytes
) -> str | None:
    if "Action" in query:
        return query["Action"][0]
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        if "Action" in form:
            return form["Action"][0]
    return None


def _classify_s3(
    method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str]
) -> RequestInfo:
    bucket_part, _, key_part = path.lstrip("/").partition("/")
    bucket = unquote(bucket_part) or None
    key = unquote(key_part) or None
    if bucket is None:
        return RequestInfo("s3", "ListBuckets" if method == "GET" else UNKNOWN)
    if key is None:
        return RequestInfo("s3", _bucket_operation(method, bucket, query), bucket)
    return RequestInfo("s3", _object_operation(method, query, headers), bucket, key)


def _bucket_operation(method: str, bucket: str, query: Mapping[str, list[str]]) -> str:
    if bucket == "WriteGetObjectResponse" and method == "POST":
        # Bucket names are lower case, so this path is S3 Object Lambda's, never a bucket.
        return "WriteGetObjectResponse"
    slot = _METHOD_SLOT.get(method)
    for name, kind in _BUCKET_CONFIGURATIONS.items():
        if name in query:
            if method == "GET":
                prefix = "Get" if "id" in query else "List"
                plural = "" if "id" in query else "s"
                return f"{prefix}Bucket{kind}Configuration{plural}"
            verb = {"PUT": "Put", "DELETE": "Delete"}.get(method)
            return f"{verb}Bucket{kind}Configuration" if verb else UNKNOWN
    for name, operations in _BUCKET_SUBRESOURCES.items():
        if name in query:
            return (operations[slot] if slot is not None else None) or UNKNOWN
    if query.get("list-type") == ["2"]:
        return "ListObjectsV2" if method == "GET" else UNKNOWN
    return _PLAIN_BUCKET.get(method, UNKNOWN)


def _object_operation(
    method: str, query: Mapping[str, list[str]], headers: Mapping[str, str]
) -> str:
    copying = "x-amz-copy-source" in headers
    if "uploadId" in query:
        if method == "PUT":
            return "UploadPartCopy" if copying else "UploadPart"
        return _MULTIPART.get(method, UNKNOWN)
    if "annotation" in query:
        if method == "GET":
            return "GetObjectAnnotation" if "annotationName" in query else "ListObjectAnnotations"
        verb = {"PUT": "Put", "DELETE": "Delete"}.get(method)
        return f"{verb}ObjectAnnotation" if verb else UNKNOWN
    slot = _METHOD_SLOT.get(method)
    for name, operations in _OBJECT_SUBRESOURCES.items():
        if name in query:
            return (operations[slot] if slot is not None else None) or UNKNOWN
    if method == "PUT" and copying:
        return "CopyObject"
    return _PLAIN_OBJECT.get(method, UNKNOWN)


class RuleError(ValueError):
    """A rule sent to the control API is not one the proxy can apply; the message says why."""


@dataclass
class Rule:
    """One fault rule and its counters; ``matched`` counts every request the rule matched,
    ``fired`` the ones it injected its fault into."""

    id: int
    operation: str
    fault: str
    service: str | None = None
    bucket: str | None = None
    key_prefix: str | None = None
    times: int | None = 1
    after: int = 0
    ms: int | None = None
    matched: int = 0
    fired: int = 0

    _FIELDS = ("operation", "fault", "service", "bucket", "key_prefix", "times", "after", "ms")

    @classmethod
    def from_json(cls, rule_id: int, raw: object) -> Rule:
        """Validate a rule as the control API received it: a mistake in a test's rule must be a
        400 at once, not a rule that silently never fires."""
        if not isinstance(raw, dict):
            raise RuleError("a rule is a JSON object")
        unknown = sorted(set(raw) - set(cls._FIELDS))
        if unknown:
            raise RuleError(f"unknown rule fields: {', '.join(unknown)}")
        operation = raw.get("operation")
        if not isinstance(operation, str) or not operation:
            raise RuleError('"operation" is an operation name such as "PutObject", or "*"')
        fault = raw.get("fault")
        if fault not in FAULTS:
            raise RuleError(f'"fault" is one of {", ".join(FAULTS)}')
        for name in ("service", "bucket", "key_prefix"):
            if raw.get(name) is not None and not isinstance(raw[name], str):
                raise RuleError(f'"{name}" is a string')
        times = raw.get("times", 1)
        after = raw.get("after", 0)
        ms = raw.get("ms")
        if times is not None and not _count(times):
            raise RuleError('"times" is a whole number >= 0 (0 or null: no limit)')
        if not _count(after):
            raise RuleError('"after" is a whole number >= 0')
        if fault == "latency" and not _count(ms):
            raise RuleError('a "latency" rule needs "ms", a whole number >= 0')
        if fault != "latency" and ms is not None:
            raise RuleError('"ms" belongs to "latency" rules only')
        return cls(
            id=rule_id,
            operation=operation,
            fault=fault,
            service=raw.get("service"),
            bucket=raw.get("bucket"),
            key_prefix=raw.get("key_prefix"),
            times=times or None,
            after=after,
            ms=ms,
        )

    def matches(self, request: RequestInfo) -> bool:
        if self.operation not in ("*", request.operation):
            return False
        if self.service is not None and self.service != request.service:
            return False
        if self.bucket is not None and self.bucket != request.bucket:
            return False
        return self.key_prefix is None or (request.key or "").startswith(self.key_prefix)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **{name: getattr(self, name) for name in self._FIELDS},
            "matched": self.matched,
            "fired": self.fired,
        }


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass
class FaultBook:
    """The rules and counters, shared by every connection's thread under one lock."""

    rules: list[Rule] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    next_id: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, raw: object) -> Rule:
        with self.lock:
            rule = Rule.from_json(self.next_id, raw)
            self.next_id += 1
            self.rules.append(rule)
            return rule

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()
            self.requests.clear()

    def decide(self, request: RequestInfo) -> Rule | None:
        """Count the request and pick the fault for it, atomically.

        Every rule that matches counts the request, whether or not it fires, so a rule's
        ``after`` means "the first N requests it matches", however earlier rules treated them.
        The first matching rule past its ``after`` with firings left applies.
        """
        with self.lock:
            self.requests[request.operation] += 1
            chosen: Rule | None = None
            for rule in self.rules:
                if not rule.matches(request):
                    continue
                rule.matched += 1
                if chosen is None and rule.matched > rule.after and not rule.exhausted:
                    rule.fired += 1
                    chosen = rule
            return chosen

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "rules": [rule.to_json() for rule in self.rules],
                "requests": dict(self.requests),
                "total": sum(self.requests.values()),
            }


class _Dropped(Exception):
    """The client connection is to be closed with no response (a ``drop`` fault)."""


class ProxyServer(ThreadingHTTPServer):
    """One thread per client connection; each keeps its own keep-alive connection to moto."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
        self.upstream = upstream
        self.upstream_address = (parts.hostname, parts.port or 80)
        self.book = FaultBook()
        super().__init__(address, ProxyHandler)


class ProxyHandler(BaseHTTPRequestHandler):
    """Forwards each request to moto, or injects the fault a rule names."""

    protocol_version = "HTTP/1.1"
    server: ProxyServer

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | None = None

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self._close_upstream()

    def log_message(self, format: str, *args: Any) -> None:
        # Every forwarded request would be a line; only faults and errors are worth a log.
        return

    def log_error(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"fault proxy: {format % args}\n")

    def _handle(self) -> None:
        try:
            body = self._read_body()
        except (ValueError, OSError) as err:
            self.log_error("unreadable request body for %s %s: %s", self.command, self.path, err)
            self.close_connection = True
            return
        path = urlsplit(self.path).path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            self._control(body)
            return
        if path.startswith(MOTO_API_PREFIX):
            self._forward(body)
            return
        request = classify(self.command, self.path, dict(self.headers.items()), body)
        rule = self.server.book.decide(request)
        if rule is None:
            self._forward(body)
            return
        where = f" {request.bucket}/{request.key or ''}" if request.bucket else ""
        sys.stderr.write(
            f"fault proxy: {rule.fault} on {request.service} {request.operation}{where} "
            f"(rule {rule.id})\n"
        )
        if rule.fault in ("500", "503"):
            self._error(request, int(rule.fault))
        elif rule.fault == "drop":
            self._drop()
        elif rule.fault == "drop_after":
            self._forward(body, answer=False)
            self._drop()
        else:
            time.sleep((rule.ms or 0) / 1000)
            self._forward(body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def _read_body(self) -> bytes:
        """The request body exactly as it came: ``Content-Length`` bytes, or a chunked body
        with its framing, chunk extensions (aws-chunked signatures) and trailers kept."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise ValueError(f"body ended after {len(body)} of {length} bytes")
        return body

    def _read_chunked(self) -> bytes:
        raw = bytearray()
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE)
            if not line.endswith(b"\n"):
                raise ValueError("chunk size line too long or body cut short")
            raw += line
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                break
            # The chunk's data and the CRLF after it.
            data = self.rfile.read(size + 2)
            if len(data) != size + 2:
                raise ValueError("chunked body cut short")
            raw += data
        while True:  # trailers, up to the empty line that ends the body
            line = self.rfile.readline(MAX_CHUNK_LINE)
            if not line.endswith(b"\n"):
                raise ValueError("chunked body trailer cut short")
            raw += line
            if line in (b"\r\n", b"\n"):
                return bytes(raw)

    def _connect_upstream(self) -> tuple[http.client.HTTPConnection, bool]:
        reused = self._upstream is not None
        if self._upstream is None:
            host, port = self.server.upstream_address
            self._upstream = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT)
        return self._upstream, reused

    def _close_upstream(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
            self._upstream = None

    def _send_upstream(self, body: bytes) -> http.client.HTTPResponse:
        """Send the request to moto on this connection's keep-alive connection.

        A reused connection moto has closed meanwhile fails before moto sees the request, so
        that one failure is retried once on a fresh connection, as HTTP clients do; a failure
        on a fresh connection is moto's and is not retried.
        """
        while True:
            conn, reused = self._connect_upstream()
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if name.lower() not in _REQUEST_DROPPED:
                        conn.putheader(name, value)
                conn.endheaders()
                if body:
                    conn.send(body)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._close_upstream()
                if not reused:
                    raise

    def _forward(self, body: bytes, *, answer: bool = True) -> None:
        """Forward the request and stream moto's response back; with ``answer=False`` read
        the whole response (so the request has taken effect) and send the client nothing."""
        try:
            response = self._send_upstream(body)
        except OSError as err:
            self._close_upstream()
            self._bad_gateway(f"upstream {self.server.upstream} failed: {err}")
            return
        if not answer:
            response.read()
            if response.will_close:
                self._close_upstream()
            return
        try:
            self._relay(response)
        except OSError:
            # The client went away mid-response; the rest of moto's answer is unread, so
            # neither connection can carry another request.
            self.close_connection = True
            self._close_upstream()
            return
        if response.will_close:
            self._close_upstream()

    def _relay(self, response: http.client.HTTPResponse) -> None:
        bodiless = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        length_known = response.getheader("Content-Length") is not None
        chunked = bool(response.chunked) and not bodiless
        # With neither a length nor chunking, the body ends when the connection does.
        until_close = not bodiless and not chunked and not length_known
        if until_close:
            self.close_connection = True
        lines = [f"{self.protocol_version} {response.status} {response.reason}"]
        lines += [
            f"{name}: {value}"
            for name, value in response.getheaders()
            if name.lower() not in _RESPONSE_DROPPED
        ]
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if bodiless:
            response.read()
        else:
            while piece := response.read(COPY_CHUNK):
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                else:
                    self.wfile.write(piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        """Close the client's connection without a byte of response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _error(self, request: RequestInfo, status: int) -> None:
        """An error response in the wire format of the request's protocol, so the client's
        parser reads the code and message as it would from AWS."""
        request_id = uuid.uuid4().hex.upper()
        body, content_type, headers = _error_body(
            request, status, request_id, urlsplit(self.path).path, self.headers
        )
        if self.command == "HEAD":
            body = b""  # a HEAD error has no body; clients go by the status alone
        self.send_response_only(status)
        self.send_header("x-amz-request-id", request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _bad_gateway(self, message: str) -> None:
        self.log_error("%s", message)
        body = message.encode()
        self.send_response_only(502)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _control(self, body: bytes) -> None:
        book = self.server.book
        if self.command == "GET":
            self._json(200, book.to_json())
        elif self.command == "DELETE":
            book.clear()
            self._json(200, book.to_json())
        elif self.command == "POST":
            try:
                rule = book.add(json.loads(body or b"null"))
            except (ValueError, RuleError) as err:
                self._json(400, {"error": str(err)})
                return
            self._json(201, rule.to_json())
        else:
            self._json(405, {"error": f"{self.command} {CONTROL_PREFIX}: use GET, POST or DELETE"})

    def _json(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# S3's own codes and messages, as S3 sends them.
_S3_ERRORS = {
    500: ("InternalError", "We encountered an internal error. Please try again."),
    503: ("SlowDown", "Please reduce your request rate."),
}
# The codes every other AWS service uses for the same two statuses.
_COMMON_ERRORS = {
    500: ("InternalFailure", "The request processing has failed because of an internal error."),
    503: ("ServiceUnavailable", "The request has failed due to a temporary failure."),
}


def _error_body(
    request: RequestInfo, status: int, request_id: str, path: str, headers: Mapping[str, str]
) -> tuple[bytes, str, dict[str, str]]:
    """The body, content type and extra headers of an injected error, per protocol."""
    if request.service == "s3":
        code, message = _S3_ERRORS[status]
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>fault-proxy</HostId></Error>"
        )
        return xml.encode(), "application/xml", {"x-amz-id-2": "fault-proxy"}
    code, message = _COMMON_ERRORS[status]
    if "x-amz-target" in {name.lower() for name in headers}:
        payload = json.dumps({"__type": code, "message": message}).encode()
        return payload, "application/x-amz-json-1.1", {"x-amzn-RequestId": request_id}
    if _RPC_V2_PATH.match(path):
        payload = _cbor_text_map({"__type": code, "message": message})
        return payload, "application/cbor", {"smithy-protocol": "rpc-v2-cbor"}
    xml = (
        "<ErrorResponse><Error><Type>Receiver</Type>"
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return xml.encode(), "text/xml", {"x-amzn-RequestId": request_id}


def _cbor_text_map(items: dict[str, str]) -> bytes:
    """A CBOR map of short text strings: all an RPC v2 error body needs."""

    def head(major: int, length: int) -> bytes:
        # CBOR's initial byte: 3 bits of major type; lengths under 24 fit in the other 5 bits,
        # longer ones (up to 255 here) follow in one byte flagged by 24.
        if length < 24:
            return bytes([major << 5 | length])
        return bytes([major << 5 | 24, length])

    out = bytearray(head(5, len(items)))  # major type 5: map
    for key, value in items.items():
        for text in (key, value):
            encoded = text.encode()
            out += head(3, len(encoded)) + encoded  # major type 3: text string
    return bytes(out)


def serve(upstream: str, port: int, host: str = HOST) -> int:
    """Run the proxy until SIGTERM or SIGINT."""
    server = ProxyServer((host, port), upstream)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    print(
        f"fault proxy on http://{host}:{server.server_address[1]} -> {upstream}",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws.fault_proxy", description=__doc__)
    parser.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5600")
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any)")
    parser.add_argument("--host", default=HOST)
    args = parser.parse_args(argv)
    return serve(args.upstream, args.port, args.host)


class FaultProxy:
    """A running proxy process, as a test holds it: its URL, its rules, clients through it.

    The process runs in a session of its own, so ``stop`` ends its whole process group and
    nothing is left holding the port.
    """

    def __init__(self, url: str, upstream: str, process: Popen[bytes], log_path: Path) -> None:
        self.url = url
        self.upstream = upstream
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(cls, upstream_url: str, *, log_path: Path | None = None) -> FaultProxy:
        """Start a proxy in front of ``upstream_url`` on a free port and wait until it answers."""
        from localaws.stack import REPO_ROOT, free_ports

        port = free_ports(1)[0]
        if log_path is None:
            log_path = Path(tempfile.mkdtemp(prefix="fault-proxy-")) / "fault-proxy.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            process = Popen(
                [
                    sys.executable,
                    "-m",
                    "localaws.fault_proxy",
                    "--upstream",
                    upstream_url,
                    "--port",
                    str(port),
                ],
                cwd=REPO_ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                stdin=DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        proxy = cls(f"http://{HOST}:{port}", upstream_url, process, log_path)
        try:
            proxy._wait_ready()
        except BaseException:
            proxy.stop()
            raise
        return proxy

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"fault proxy exited with code {self.process.returncode} while starting; "
                    f"see {self.log_path}:\n{self.log_path.read_text(errors='replace')}"
                )
            try:
                self.status()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"fault proxy did not answer within {READY_TIMEOUT:.0f} s; "
                        f"see {self.log_path}"
                    ) from None
                time.sleep(0.05)  # poll interval: the proxy binds within a few tenths

    def _call(self, method: str, payload: object | None = None) -> Any:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=CONTROL_TIMEOUT)
        try:
            body = None if payload is None else json.dumps(payload).encode()
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, CONTROL_PREFIX, body=body, headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read() or b"null")
        finally:
            conn.close()
        if response.status >= 400:  # HTTP's client and server errors
            raise RuleError(f"{method} {CONTROL_PREFIX}: {answer}")
        return answer

    def add(
        self,
        operation: str,
        fault: str,
        *,
        key_prefix: str | None = None,
        bucket: str | None = None,
        service: str | None = None,
        times: int | None = 1,
        after: int = 0,
        ms: int | None = None,
    ) -> dict[str, Any]:
        """Add a rule; returns it as the proxy stored it (with its ``id``). ``times`` 0 or None
        fires without limit; ``service`` is the SigV4 signing name (``s3``, ``logs``, ...)."""
        rule: dict[str, Any] = {"operation": operation, "fault": fault, "times": times}
        rule["after"] = after
        optional = {"key_prefix": key_prefix, "bucket": bucket, "service": service, "ms": ms}
        rule.update({name: value for name, value in optional.items() if value is not None})
        return self.add_rule(rule)

    def add_rule(self, rule: Mapping[str, Any]) -> dict[str, Any]:
        """Send a rule as JSON, as any HTTP client could; a rule the proxy refuses raises
        ``RuleError`` with the proxy's reason."""
        return self._call("POST", dict(rule))

    def clear(self) -> None:
        """Remove every rule and reset the request counts."""
        self._call("DELETE")

    def status(self) -> dict[str, Any]:
        """``{"rules": [... "matched", "fired"], "requests": {operation: n}, "total": n}``."""
        return self._call("GET")

    def requests(self, operation: str) -> int:
        """How many requests of ``operation`` the proxy has seen since the last ``clear``."""
        return int(self.status()["requests"].get(operation, 0))

    def client(self, service: str, *, max_attempts: int = 1, **config: Any) -> Any:
        """A boto3 client that talks to moto through the proxy.

        ``max_attempts`` counts every attempt, the first included (as ``AWS_MAX_ATTEMPTS``
        does), in botocore's standard retry mode: 1 shows a fault to the caller as it is, more
        lets botocore's retries absorb it. It is passed as ``total_max_attempts``, because
        ``Config``'s own ``retries["max_attempts"]`` counts the retries only. Other keyword
        arguments go to ``botocore.config.Config``.
        """
        return self._client(self.url, service, max_attempts, config)

    def upstream_client(self, service: str, **config: Any) -> Any:
        """A boto3 client straight to moto, to see what a faulted write really left behind."""
        return self._client(self.upstream, service, 1, config)

    @staticmethod
    def _client(endpoint: str, service: str, max_attempts: int, config: dict[str, Any]) -> Any:
        import boto3
        from botocore.config import Config

        from localaws.stack import FAKE_CREDENTIALS, REGION

        options: dict[str, Any] = {
            "retries": {"mode": "standard", "total_max_attempts": max_attempts},
            "s3": {"addressing_style": "path"},
        }
        options.update(config)
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(**options),
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM the proxy's process group, SIGKILL it if it lingers, and reap it."""
        for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, None)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=grace)
                break
            except TimeoutExpired:
                continue

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())

"""Shared set-up for the API handler tests: a bucket of its own on the session's moto server,
payload 2.0 events, and a counter of the S3 requests the handler sends."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest

from qdn import config
from qdn.jobs.model import Job, NewJob
from qdn.jobs.store import import_job
from qdn_api import settings
from qdn_api.app import handler
from qdn_api.jobs_store import STORE

NOW = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)

# All a customer's tracking link may reveal of a job. Written out rather than taken from the
# model, so that making one more field public takes a deliberate change here.
PUBLIC_FIELDS = frozenset(
    {
        "reference",
        "status",
        "status_label",
        "service_date",
        "location",
        "customer_name",
        "history",
        "updated_at",
    }
)


def event(
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
    query: str = "",
) -> dict[str, Any]:
    """A Lambda function URL (payload format 2.0) event, as AWS sends it."""
    if body is not None and base64_body:
        body = base64.b64encode(body.encode()).decode()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "api.example", "user-agent": "pytest", **(headers or {})},
        "requestContext": {
            "accountId": "anonymous",
            "domainName": "api.example",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "pytest",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jun/2025:09:30:00 +0000",
            "timeEpoch": 1748770200000,
        },
        "body": body,
        "isBase64Encoded": base64_body,
    }


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def new_job(*, created: datetime = NOW, **fields: Any) -> Job:
    values: dict[str, Any] = {
        "customer_name": "Mark",
        "customer_phone": "+1 555 010 0199",
        "customer_email": "mark@example.com",
        "location": "Soderblom Ave",
        "city": "Springfield",
        "service_date": date(2025, 6, 10),
        "price": "600.00",
        "status": "ready_for_pickup",
        "notes": "gate code 4411",
    }
    values.update(fields)
    return Job.create(NewJob(**values), now=created, idempotency_key=None)


@dataclass
class Api:
    """The handler pointed at a fresh bucket on moto."""

    s3: Any
    bucket: str
    sent: list[tuple[str, dict[str, str]]] = field(default_factory=list, repr=False)

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return handler(event(method, path, **kwargs), None)

    def put_jobs(self, *jobs: Job) -> list[Job]:
        """Write each job's record, token lookup and index entries, as the store does."""
        for job in jobs:
            import_job(self.s3, self.bucket, job)
        return list(jobs)

    def put_legacy_jobs(self, data: bytes) -> None:
        """A legacy ``data/jobs.json`` (every job in one document), not migrated yet."""
        self.s3.put_object(Bucket=self.bucket, Key=config.JOBS_KEY, Body=data)

    def s3_requests(self) -> list[tuple[str, dict[str, str]]]:
        """(operation, headers) of every request the handler's client sent since the last call."""
        sent, self.sent[:] = list(self.sent), []
        return sent


def _count(api: Api):
    def before_send(request: Any, **kwargs: Any) -> None:
        operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        api.sent.append((operation, headers))

    return before_send


def open_api(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Api:
    bucket = f"qdn-api-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv(settings.BUCKET_ENV, bucket)
    monkeypatch.delenv(settings.DASHBOARD_KEY_ENV, raising=False)
    settings.reset()
    STORE.forget()
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    api = Api(s3=s3, bucket=bucket)
    settings.s3_client().meta.events.register("before-send.s3", _count(api))
    reader = settings.s3_reader()
    if reader is not settings.s3_client():
        # The track path's own signed reader: counted the same way, header names as botocore's.
        reader.on_send(
            lambda op, headers: api.sent.append((op, {k.title(): v for k, v in headers.items()}))
        )
    return api


def close_api() -> None:
    settings.reset()
    STORE.forget()


@pytest.fixture(name="api")
def api_fixture(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """Import this into a test module to give its tests the ``api`` fixture."""
    yield open_api(moto_url, monkeypatch)
    close_api()


def future(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def booking_form(**changes: object) -> dict[str, object]:
    """A valid booking form as the page sends it; a field changed to ``...`` is left out."""
    data: dict[str, object] = {
        "name": "Ana Lopez",
        "phone": "(555) 010-0199",
        "email": "ana@example.com",
        "address": "12 Soderblom Ave, Springfield",
        "service_date": future(3),
        "dumpster_size": "20",
        "notes": "Driveway on the left",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}

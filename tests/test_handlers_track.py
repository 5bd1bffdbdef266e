"""GET /api/track/<token> against a real moto server: the public view, and nothing else."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from handlers_support import (  # noqa: F401 (a fixture)
    PUBLIC_FIELDS,
    Api,
    api_fixture,
    body_of,
    new_job,
)

from qdn import config
from qdn.jobs import layout
from qdn.jobs.archive import archive_finished
from qdn.jobs.legacy_document import JobsDocument
from qdn.jobs.migration import migrate
from qdn.jobs.model import JobStatus
from qdn_api import settings
from qdn_api.track import NOT_FOUND_MESSAGE

TRACK = config.TRACK_API_PREFIX


def test_found_job_shows_only_public_fields(api: Api) -> None:
    job = new_job()
    api.put_jobs(new_job(customer_name="Someone Else"), job)
    response = api.call("GET", TRACK + job.token)
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"].startswith("application/json")
    assert response["headers"]["cache-control"] == "max-age=60"
    payload = body_of(response)
    assert set(payload) == {"job"}
    assert set(payload["job"]) == PUBLIC_FIELDS
    assert payload["job"] == job.public_view()
    assert payload["job"]["customer_name"] == "Mark"
    assert payload["job"]["status_label"] == "Ready for pickup"
    for private in (job.token, "555", "mark@example.com", "600", "Springfield", "4411"):
        assert private not in response["body"]


def test_unknown_token_is_404_with_the_customer_message(api: Api) -> None:
    api.put_jobs(new_job())
    response = api.call("GET", TRACK + "A" * 32)
    assert response["statusCode"] == 404
    assert body_of(response) == {
        "error": "not_found",
        "message": "Job not found, or this tracking link is no longer valid",
    }
    assert response["headers"]["cache-control"] == "max-age=10"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "short",
        "A" * 21,
        "A" * 65,
        "abc def" + "A" * 20,
        "A" * 30 + "%2F",
        "A" * 22 + "/x",
        "<script>" + "A" * 22,
        "A" * 22 + "\u00e9",
    ],
)
def test_malformed_token_is_400(api: Api, token: str) -> None:
    response = api.call("GET", TRACK + token)
    assert response["statusCode"] == 400
    assert body_of(response)["error"] == "malformed_token"
    assert body_of(response)["message"]
    assert api.s3_requests() == []  # refused before any lookup


def test_cold_lookup_is_two_gets_and_warm_lookups_one_conditional_get(api: Api) -> None:
    job = new_job()
    api.put_jobs(job)
    assert api.call("GET", TRACK + job.token)["statusCode"] == 200
    first = api.s3_requests()
    # The token's lookup object, then the job's own record: nothing else, whatever the history.
    assert [op for op, _ in first] == ["GetObject", "GetObject"]
    assert not any("If-None-Match" in sent for _, sent in first)

    for _ in range(3):
        assert api.call("GET", TRACK + job.token)["statusCode"] == 200
        sent = api.s3_requests()
        assert [op for op, _ in sent] == ["GetObject"]
        assert sent[0][1]["If-None-Match"].strip('"')  # the cached ETag

    # A status change is noticed on the very next lookup, with the same single request.
    api.s3.put_object(
        Bucket=api.bucket,
        Key=layout.job_key(job.id),
        Body=job.transition(JobStatus.picked_up, at=job.updated_at).model_dump_json().encode(),
    )
    assert body_of(api.call("GET", TRACK + job.token))["job"]["status"] == "picked_up"
    assert [op for op, _ in api.s3_requests()] == ["GetObject"]


def test_the_token_never_appears_in_a_key(api: Api) -> None:
    job = new_job()
    api.put_jobs(job)
    keys = [o["Key"] for o in api.s3.list_objects_v2(Bucket=api.bucket)["Contents"]]
    assert layout.token_key(job.token) in keys
    assert not any(job.token in key for key in keys)


def test_a_broken_record_is_503_and_logged_without_tokens(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    job = new_job()
    api.put_jobs(job)
    broken = json.loads(job.model_dump_json())
    broken["price"] = "-1.00"
    key = layout.job_key(job.id)
    api.s3.put_object(Bucket=api.bucket, Key=key, Body=json.dumps(broken).encode())
    with caplog.at_level(logging.INFO):
        response = api.call("GET", TRACK + job.token)
    assert response["statusCode"] == 503
    assert body_of(response)["error"] == "unavailable"
    assert response["headers"]["cache-control"] == "no-store"
    assert f"{key} is invalid" in caplog.text and "price" in caplog.text
    assert job.token not in caplog.text

    api.s3.put_object(Bucket=api.bucket, Key=key, Body=job.model_dump_json().encode())
    assert api.call("GET", TRACK + job.token)["statusCode"] == 200


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"job_id": 9}'])
def test_an_unreadable_token_lookup_is_503(api: Api, content: bytes) -> None:
    job = new_job()
    api.put_jobs(job)
    api.s3.put_object(Bucket=api.bucket, Key=layout.token_key(job.token), Body=content)
    assert api.call("GET", TRACK + job.token)["statusCode"] == 503


def test_a_missing_bucket_is_503_not_404(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    assert api.call("GET", TRACK + "A" * 32)["statusCode"] == 404  # no jobs yet: not found
    monkeypatch.setenv(settings.BUCKET_ENV, "no-such-bucket-qdn")
    assert api.call("GET", TRACK + "A" * 32)["statusCode"] == 503


def test_a_legacy_document_is_read_until_it_is_migrated(api: Api) -> None:
    """A bucket still holding the old single document: its jobs stay findable before, during
    and after the migration, and once it is done the legacy check stops."""
    old, new = new_job(customer_name="Old"), new_job(customer_name="New")
    api.put_legacy_jobs(JobsDocument(jobs=[old]).to_json_bytes())
    api.put_jobs(new)  # written by the new store while the migration is pending
    assert body_of(api.call("GET", TRACK + old.token))["job"]["customer_name"] == "Old"
    assert body_of(api.call("GET", TRACK + new.token))["job"]["customer_name"] == "New"
    assert api.call("GET", TRACK + "A" * 32)["statusCode"] == 404
    assert migrate(api.s3, api.bucket).migrated
    api.s3_requests()
    assert body_of(api.call("GET", TRACK + old.token))["job"]["customer_name"] == "Old"
    assert api.call("GET", TRACK + "B" * 32)["statusCode"] == 404
    # The migration is seen once (HEAD of the export); later misses cost the lookup alone.
    assert [op for op, _ in api.s3_requests()] == [
        "GetObject",
        "GetObject",
        "GetObject",
        "HeadObject",
    ]
    assert api.call("GET", TRACK + "C" * 32)["statusCode"] == 404
    assert [op for op, _ in api.s3_requests()] == ["GetObject"]


def test_an_invalid_legacy_document_is_503(api: Api) -> None:
    api.put_legacy_jobs(b'{"schema_version": 9}')
    assert api.call("GET", TRACK + "A" * 32)["statusCode"] == 503


def test_an_archived_job_answers_the_exact_not_found_message(api: Api) -> None:
    job = new_job(status="scheduled")
    done = job.transition(JobStatus.completed, at=job.updated_at)
    api.put_jobs(done)
    assert api.call("GET", TRACK + done.token)["statusCode"] == 200
    report = archive_finished(api.s3, api.bucket, now=datetime.now(UTC) + timedelta(days=181))
    assert report.archived == [done.id]
    response = api.call("GET", TRACK + done.token)
    assert response["statusCode"] == 404
    assert body_of(response)["message"] == NOT_FOUND_MESSAGE


def test_unreachable_s3_is_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    settings.reset()
    response = api.call("GET", TRACK + "A" * 32)
    assert response["statusCode"] == 503


def test_head_has_headers_and_no_body(api: Api) -> None:
    job = new_job()
    api.put_jobs(job)
    response = api.call("HEAD", TRACK + job.token)
    assert response["statusCode"] == 200
    assert response["body"] == ""
    assert response["headers"]["cache-control"] == "max-age=60"


def test_wrong_method_and_unknown_paths(api: Api) -> None:
    response = api.call("POST", TRACK + "A" * 32)
    assert response["statusCode"] == 405
    assert response["headers"]["allow"] == "GET, HEAD"
    assert body_of(response)["error"] == "method_not_allowed"
    for path in ("/api/", "/api/tracking/x", "/", "/api/jobs/x", "/api/book/extra"):
        response = api.call("GET", path)
        assert response["statusCode"] == 404, path
        assert body_of(response)["error"] == "not_found"

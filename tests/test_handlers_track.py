"""GET /api/track/<token> against a real moto server: the public view, and nothing else."""

from __future__ import annotations

import json
import logging

import pytest
from handlers_support import (  # noqa: F401 (a fixture)
    PUBLIC_FIELDS,
    Api,
    api_fixture,
    body_of,
    new_job,
)

from qdn import config
from qdn.jobs.model import JobStatus
from qdn_api import settings

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


def test_warm_lookups_send_one_conditional_get_each(api: Api) -> None:
    job = new_job()
    api.put_jobs(job)
    assert api.call("GET", TRACK + job.token)["statusCode"] == 200
    first = api.s3_requests()
    assert [op for op, _ in first] == ["GetObject"]
    assert "If-None-Match" not in first[0][1]

    for _ in range(3):
        assert api.call("GET", TRACK + job.token)["statusCode"] == 200
        sent = api.s3_requests()
        assert [op for op, _ in sent] == ["GetObject"]
        assert sent[0][1]["If-None-Match"].strip('"')  # the cached ETag

    # A new version is noticed on the very next lookup, with the same single request.
    moved = job.transition(JobStatus.picked_up, at=job.updated_at)
    later = new_job(customer_name="Ana")
    api.put_jobs(moved, later)
    assert body_of(api.call("GET", TRACK + job.token))["job"]["status"] == "picked_up"
    assert body_of(api.call("GET", TRACK + later.token))["job"]["customer_name"] == "Ana"
    assert [op for op, _ in api.s3_requests()] == ["GetObject", "GetObject"]


def test_broken_jobs_json_is_503_and_logged_without_tokens(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    job = new_job()
    good = api.put_jobs(job)
    broken = json.loads(good.to_json_bytes())
    broken["jobs"][0]["price"] = "-1.00"
    api.put_raw_jobs(json.dumps(broken).encode())
    with caplog.at_level(logging.INFO):
        response = api.call("GET", TRACK + job.token)
        again = api.call("GET", TRACK + job.token)
    assert response["statusCode"] == 503
    assert body_of(response)["error"] == "unavailable"
    assert response["headers"]["cache-control"] == "no-store"
    assert again["statusCode"] == 503
    assert "jobs[0].price" in caplog.text
    assert job.token not in caplog.text
    # The broken version is remembered by ETag, not downloaded again.
    assert "If-None-Match" in api.s3_requests()[-1][1]

    api.put_raw_jobs(good.to_json_bytes())
    assert api.call("GET", TRACK + job.token)["statusCode"] == 200


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'{"schema_version": 9}'])
def test_any_unreadable_document_is_503(api: Api, content: bytes) -> None:
    api.put_raw_jobs(content)
    assert api.call("GET", TRACK + "A" * 32)["statusCode"] == 503


def test_missing_jobs_json_or_bucket_is_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    assert api.call("GET", TRACK + "A" * 32)["statusCode"] == 503
    monkeypatch.setenv(settings.BUCKET_ENV, "no-such-bucket-qdn")
    assert api.call("GET", TRACK + "A" * 32)["statusCode"] == 503


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

"""The canary job and the nightly canary check, against the session's released stack.

The canary is created here (the bootstrap will create it too; it is idempotent): the check passes
on the released stack through both edges; a deleted token lookup fails it (and the job-records
check, which owns lookups), naming the edges, and nothing else; the canary is never on the
dashboard, in the job-records counts or taken by archiving; a second ensure writes nothing.
Every test puts back what it changed.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from localaws import stack
from localaws.request_counter import RequestCounter
from qdn import config
from qdn.canary import Canary, ensure_canary, read_canary_note
from qdn.jobs import layout
from qdn.jobs.archive import archive_finished
from qdn.jobs.export import list_records
from qdn.jobs.model import Job, JobStatus, NewJob, redact_token
from qdn.jobs.store import import_job
from qdn.verify.canary import check_canary
from qdn.verify.content import check_content
from qdn.verify.freshness import check_freshness
from qdn.verify.job_records import check_job_records


def _urls(site) -> dict[str, str]:
    return {alias: site.url(alias) for alias in config.DISTRIBUTION_ALIASES}


def _run(site, check) -> Any:
    """One of the checks that read S3, CloudFront, the store and the edges, on the stack."""
    client = site.stack.client
    return check(
        client("s3"),
        client("cloudfront"),
        client("cloudfront-keyvaluestore"),
        config.BUCKET,
        _urls(site),
    )


@pytest.fixture(scope="module")
def canary(released_site) -> Canary:
    return ensure_canary(released_site.stack.client("s3"), config.BUCKET)


def _fresh_bucket(site) -> str:
    name = f"canary-{uuid.uuid4().hex[:12]}"
    site.stack.client("s3").create_bucket(Bucket=name)
    return name


def test_the_released_site_passes(released_site, canary: Canary) -> None:
    result = _run(released_site, check_canary)
    assert result.passed, result.summary()
    assert result.notes == [
        f"canary {config.CANARY_JOB_ID} (scheduled) tracked through 2 edge(s) on build "
        f"{released_site.build_id}"
    ]
    # The track API answers the canary like any job, with its public fields only.
    with urllib.request.urlopen(
        released_site.url() + config.TRACK_API_PREFIX + canary.token, timeout=10
    ) as resp:
        assert json.load(resp) == {"job": canary.job.public_view()}


def test_a_second_ensure_writes_nothing(released_site) -> None:
    """On a bucket of its own, so the first call's writes are seen too."""
    bucket = _fresh_bucket(released_site)
    s3 = stack.client(released_site.stack.config, "s3")  # its own client: the hook stays on it
    counter = RequestCounter(s3)

    first = ensure_canary(s3, bucket)
    made = counter.take()
    assert first.written == (
        config.CANARY_KEY,
        layout.job_key(config.CANARY_JOB_ID),
        layout.token_key(first.token),
    )
    assert made["PutObject"] == 3
    assert first.job.status == JobStatus.scheduled
    note = read_canary_note(s3, bucket)
    assert note is not None and (note.job_id, note.token) == (first.job.id, first.token)
    counter.reset()

    second = ensure_canary(s3, bucket)
    again = counter.take()
    assert second.written == ()
    assert again["PutObject"] == 0
    # The note, the record and a HEAD of the lookup: reads only.
    assert again == {"GetObject": 2, "HeadObject": 1}
    assert (second.job, second.token) == (first.job, first.token)
    # Hidden from the dashboard: no index entry at all.
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=config.JOB_INDEX_PREFIX)
    assert listed.get("KeyCount") == 0


def test_a_lost_note_is_rebuilt_from_the_record_keeping_the_token(released_site) -> None:
    bucket = _fresh_bucket(released_site)
    s3 = released_site.stack.client("s3")
    first = ensure_canary(s3, bucket)
    s3.delete_object(Bucket=bucket, Key=config.CANARY_KEY)
    again = ensure_canary(s3, bucket)
    assert again.written == (config.CANARY_KEY,)
    assert again.token == first.token


def test_a_deleted_token_lookup_fails_the_canary_naming_the_edges(
    released_site, canary: Canary
) -> None:
    """The track API's warm processes remember the token's job, so the edges still answer; the
    check reads the lookup itself and says which edges break once the API starts cold. The
    job-records check owns lookups and names it too; content and freshness are untouched."""
    s3 = released_site.stack.client("s3")
    lookup = layout.token_key(canary.token)
    s3.delete_object(Bucket=config.BUCKET, Key=lookup)
    try:
        result = _run(released_site, check_canary)
        records = check_job_records(s3, config.BUCKET)
        content = check_content(
            s3,
            released_site.stack.client("cloudfront"),
            released_site.stack.client("cloudfront-keyvaluestore"),
            config.BUCKET,
        )
        freshness = _run(released_site, check_freshness)
    finally:
        restored = ensure_canary(s3, config.BUCKET)
    assert restored.written == (lookup,)
    assert not result.passed
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert f"the canary {config.CANARY_JOB_ID}'s token lookup {lookup} is missing" in problem
    assert f"/track/{redact_token(canary.token)} fails on " in problem
    assert all(alias in problem for alias in config.DISTRIBUTION_ALIASES)
    assert canary.token not in " ".join(result.problems)
    assert f"job {config.CANARY_JOB_ID} has no token lookup: its tracking link fails" in (
        records.problems
    )
    assert content.passed, content.summary()
    assert freshness.passed, freshness.summary()
    assert _run(released_site, check_canary).passed


def test_the_canary_is_on_no_dashboard_page_and_in_no_count(released_site, canary) -> None:
    shown = released_site.add_job(status="scheduled")
    key = released_site.stack.config.dashboard_key

    def references(query: str) -> list[str]:
        """Every reference the dashboard lists through the edge, page after page."""
        found: list[str] = []
        after = ""
        while True:
            request = urllib.request.Request(
                f"{released_site.url()}/api/jobs?{query}{after}",
                headers={"Authorization": f"Bearer {key}"},
            )
            with urllib.request.urlopen(request, timeout=10) as resp:
                page = json.load(resp)
            found += [row["reference"] for row in page["jobs"]]
            if not page["next"]:
                return found
            after = f"&after={page['next']}"

    for query in ("", "status=scheduled", f"date={canary.job.service_date.isoformat()}"):
        listed = references(query)
        assert config.CANARY_JOB_ID not in listed, query
    assert shown.id in references("status=scheduled")

    s3 = released_site.stack.client("s3")
    result = check_job_records(s3, config.BUCKET)
    assert result.passed, result.summary()
    records = list_records(s3, config.BUCKET)
    assert config.CANARY_JOB_ID in records
    assert sum(result.counts.values()) == len(records) - 1
    assert "the canary among them, left out of the counts" in result.summary()


def test_archiving_never_takes_the_canary(released_site) -> None:
    """A bucket of its own, archived as if years had passed: the finished job beside the canary
    goes, the canary (scheduled, with no index entries) stays whole."""
    bucket = _fresh_bucket(released_site)
    s3 = released_site.stack.client("s3")
    canary = ensure_canary(s3, bucket)
    long_ago = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)
    finished = Job.create(
        NewJob(
            customer_name="Mark",
            location="Soderblom Ave",
            service_date=date(2020, 1, 8),
            price="600.00",
        ),
        now=long_ago,
        idempotency_key=None,
    ).transition(JobStatus.completed, at=long_ago + timedelta(days=3))
    import_job(s3, bucket, finished)

    later = datetime.now(UTC) + timedelta(days=config.JOB_RETENTION_DAYS + 1)
    report = archive_finished(s3, bucket, now=later)
    assert report.archived == [finished.id]
    assert ensure_canary(s3, bucket).written == ()
    assert ensure_canary(s3, bucket).job == canary.job

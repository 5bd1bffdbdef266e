"""GET /api/jobs: the dispatcher's list, only with the key, never cached, never with tokens."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from handlers_support import NOW, Api, api_fixture, body_of, new_job  # noqa: F401 (a fixture)

from qdn.jobs.model import JobStatus
from qdn_api import settings
from qdn_api.app import JOBS_PATH as JOBS

KEY = "k3y-for-the-dispatcher-0123456789"


@pytest.fixture
def keyed(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setenv(settings.DASHBOARD_KEY_ENV, KEY)
    return api


def test_disabled_without_a_key(api: Api) -> None:
    response = api.call("GET", JOBS, headers={"authorization": f"Bearer {KEY}"})
    assert response["statusCode"] == 503
    assert body_of(response)["error"] == "dashboard_disabled"
    assert response["headers"]["cache-control"] == "private, no-store"


def test_a_short_key_disables_rather_than_protects(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.DASHBOARD_KEY_ENV, "short")
    response = api.call("GET", JOBS, headers={"authorization": "Bearer short"})
    assert body_of(response)["error"] == "dashboard_disabled"


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Basic {KEY}",
        f"Bearer {KEY}x",
        f"Bearer {KEY[:-1]}",
        KEY,
        "Bearer wrong",
        f"Bearer {KEY.upper()}",
    ],
)
def test_bad_or_missing_key_is_401_with_no_data(keyed: Api, authorization: str | None) -> None:
    keyed.put_jobs(new_job())
    headers = {} if authorization is None else {"authorization": authorization}
    response = keyed.call("GET", JOBS, headers=headers)
    assert response["statusCode"] == 401
    assert body_of(response)["error"] == "unauthorized"
    assert "jobs" not in body_of(response)
    assert "Mark" not in response["body"]
    assert response["headers"]["www-authenticate"].startswith("Bearer")
    assert response["headers"]["cache-control"] == "private, no-store"
    assert keyed.s3_requests() == []


def _get(keyed: Api, query: str = "") -> dict:
    response = keyed.call("GET", JOBS, headers={"authorization": f"bearer  {KEY} "}, query=query)
    assert response["headers"]["cache-control"] == "private, no-store"
    return response


def test_the_key_lists_jobs_newest_first_without_tokens(keyed: Api) -> None:
    early = new_job(customer_name="Early", price="99.5", created=NOW)
    late = new_job(customer_name="Late", created=NOW + timedelta(minutes=5))
    keyed.put_jobs(early, late)
    response = _get(keyed)
    assert response["statusCode"] == 200
    payload = body_of(response)
    assert payload["next"] is None
    rows = payload["jobs"]
    assert [r["customer_name"] for r in rows] == ["Late", "Early"]
    assert set(rows[0]) == {
        "reference",
        "customer_name",
        "location",
        "service_date",
        "status",
        "status_label",
        "price",
        "currency",
    }
    assert rows[1]["price"] == "99.50" and rows[1]["currency"] == "USD"
    for job in (late, early):
        assert job.token not in response["body"]


def test_pages_of_fifty_cost_one_listing_and_fifty_reads(keyed: Api) -> None:
    jobs = [
        new_job(
            customer_name=f"Customer {n}",
            created=NOW + timedelta(minutes=n),
            service_date=date(2025, 6, 10 + n % 3),
            status="booked" if n % 2 else "scheduled",
        )
        for n in range(120)
    ]
    keyed.put_jobs(*jobs)
    newest_first = [job.id for job in sorted(jobs, key=lambda j: j.created_at, reverse=True)]
    seen: list[str] = []
    after = ""
    for expected in (50, 50, 20):
        keyed.s3_requests()
        payload = body_of(_get(keyed, f"after={after}" if after else ""))
        sent = [op for op, _ in keyed.s3_requests()]
        assert sorted(set(sent)) == ["GetObject", "ListObjectsV2"]
        # One listing per status index, merged; one read per job shown.
        assert sent.count("ListObjectsV2") == len(JobStatus)
        assert sent.count("GetObject") == expected
        seen += [row["reference"] for row in payload["jobs"]]
        after = payload["next"]
        assert len(payload["jobs"]) == expected
    assert after is None
    assert seen == newest_first

    keyed.s3_requests()
    booked = body_of(_get(keyed, "status=booked"))["jobs"]
    assert [op for op, _ in keyed.s3_requests()].count("ListObjectsV2") == 1
    assert len(booked) == 50 and {r["status"] for r in booked} == {"booked"}
    on_day = body_of(_get(keyed, "date=2025-06-11"))
    assert len(on_day["jobs"]) == 40 and on_day["next"] is None
    assert {r["service_date"] for r in on_day["jobs"]} == {"2025-06-11"}
    both = body_of(_get(keyed, "date=2025-06-11&status=scheduled"))["jobs"]
    expected = [
        j.id for j in jobs if j.service_date == date(2025, 6, 11) and j.status == "scheduled"
    ]
    assert sorted(r["reference"] for r in both) == sorted(expected)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("status=lost", "status must be one of"),
        ("date=2025-13-01", "YYYY-MM-DD"),
        ("after=../../etc", "page cursor"),
        ("sort=name", "Unknown filter"),
    ],
)
def test_a_bad_filter_is_400_naming_it_and_reads_nothing(keyed: Api, query: str, says: str) -> None:
    keyed.s3_requests()
    response = _get(keyed, query)
    assert response["statusCode"] == 400
    assert says in body_of(response)["message"]
    assert keyed.s3_requests() == []


def test_wrong_method(keyed: Api) -> None:
    assert keyed.call("POST", JOBS)["statusCode"] == 405

"""GET /api/jobs: the dispatcher's list, only with the key, never cached, never with tokens."""

from __future__ import annotations

from datetime import date

import pytest
from handlers_support import Api, api_fixture, body_of, new_job  # noqa: F401 (a fixture)

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


def test_the_key_lists_jobs_without_tokens(keyed: Api) -> None:
    late = new_job(service_date=date(2025, 7, 1), customer_name="Late")
    early = new_job(service_date=date(2025, 6, 2), customer_name="Early", price="99.5")
    keyed.put_jobs(late, early)
    response = keyed.call("GET", JOBS, headers={"authorization": f"bearer  {KEY} "})
    assert response["statusCode"] == 200
    assert response["headers"]["cache-control"] == "private, no-store"
    rows = body_of(response)["jobs"]
    assert [r["customer_name"] for r in rows] == ["Early", "Late"]
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
    assert rows[0]["price"] == "99.50" and rows[0]["currency"] == "USD"
    for job in (late, early):
        assert job.token not in response["body"]


def test_wrong_method(keyed: Api) -> None:
    assert keyed.call("POST", JOBS)["statusCode"] == 405

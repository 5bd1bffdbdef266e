"""A re-trigger never duplicates a job: the job's key outlives the run (docs/jobs.md).

The key's derivation is plain Python; the rules are exercised as real ``qdn_release`` runs
(``dag.test``) against the local stack, as ops would meet them: the same form sent twice, the
same order reference with a changed price, and a deliberate duplicate.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from test_release_dag import (  # noqa: F401 (release_dag is a fixture)
    all_jobs,
    bucket_versions,
    release_dag,
    run,
)

from localaws.airflow_local import task_result
from localaws.demo import release_conf, seed_job
from qdn import config
from qdn.jobs.model import NewJob
from qdn.jobs.store import job_idempotency_key, normalised_job_fields, run_idempotency_key
from qdn.release_params import ReleaseParams, ReleaseParamsError

BASE = {
    "customer_name": "Mark Ruiz",
    "location": "Soderblom Ave",
    "service_date": date(2026, 12, 8),
    "price": "600",
    "status": "ready_for_pickup",
}


def key_of(**over: Any) -> str:
    return job_idempotency_key(NewJob.model_validate(BASE | over))


def test_the_derived_key_ignores_case_and_spacing_and_the_price_s_spelling() -> None:
    same = key_of(customer_name="  mark   RUIZ ", location="soderblom  ave", price="600.00")
    assert same == key_of()
    assert key_of().startswith("job/")
    assert (
        normalised_job_fields(NewJob.model_validate(BASE | {"customer_name": " Mark   Ruiz"}))[
            "customer_name"
        ]
        == "mark ruiz"
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("customer_name", "Ana Ruiz"),
        ("location", "Elm St"),
        ("service_date", date(2026, 12, 9)),
        ("price", "600.01"),
        ("status", "booked"),
    ],
)
def test_each_defining_field_makes_another_key(field: str, value: Any) -> None:
    assert key_of(**{field: value}) != key_of()


def test_the_derived_key_carries_no_customer_data() -> None:
    key = key_of()
    for detail in ("mark", "ruiz", "soderblom", "600", "2026"):
        assert detail not in key.lower()


def test_an_order_reference_is_the_key_whatever_the_fields() -> None:
    job = NewJob.model_validate(BASE)
    other = NewJob.model_validate(BASE | {"price": "650"})
    assert job_idempotency_key(job, " ORD-1042 ") == "order/ord-1042"
    assert job_idempotency_key(other, "ord-1042") == job_idempotency_key(job, "ORD-1042")
    assert job_idempotency_key(job, "  ") == key_of()  # blank = no reference


def test_params_choose_the_key() -> None:
    conf = release_conf({**BASE, "service_date": "2026-12-08"})
    run_key = run_idempotency_key("qdn_release", "manual__1", "upload_job")
    derived = ReleaseParams.from_params(conf)
    assert derived.job_key(run_key) == key_of()
    ordered = ReleaseParams.from_params(conf | {"order_reference": "ORD-7"})
    assert ordered.job_key(run_key) == "order/ord-7"
    duplicate = ReleaseParams.from_params(conf | {"allow_duplicate_job": True})
    assert duplicate.job_key(run_key) == run_key
    with pytest.raises(ReleaseParamsError, match="order_reference"):
        ReleaseParams.from_params(conf | {"order_reference": "ORD 7"})


# --- as DAG runs -------------------------------------------------------------------------------


def fresh_job(**over: Any) -> dict[str, Any]:
    """The seed's job for a customer no other test uses, so only this test's runs share a key."""
    return release_conf(seed_job(customer_name=f"Idem {uuid.uuid4().hex[:8]}")) | over


def jobs_of(stack: Any, conf: dict[str, Any]) -> list[Any]:
    name = conf["job_customer_name"]
    return [j for j in all_jobs(stack).values() if j.customer.name == name]


@pytest.mark.airflow
def test_the_same_form_twice_is_one_job_and_no_second_invalidation(
    release_dag,  # noqa: F811 (the fixture imported above)
    airflow_env,
    capfd,
):
    conf = fresh_job()
    first, states = run(release_dag, conf)
    assert states == dict.fromkeys(states, "success"), states
    assert task_result(first, "invalidate")["invalidations"]
    capfd.readouterr()

    versions = bucket_versions(airflow_env)
    second, states = run(release_dag, conf)
    assert states == dict.fromkeys(states, "success"), states
    jobs = jobs_of(airflow_env, conf)
    assert len(jobs) == 1
    found = task_result(second, "upload_job")
    assert found["job_ids"] == [jobs[0].id] and found["changed_job_ids"] == []
    assert found["created"] is False and found["existed"] is True
    assert task_result(second, "invalidate") == {"invalidations": [], "paths": []}
    out = "".join(capfd.readouterr())
    assert "already there (created by an earlier run with the same key)" in out
    assert f"job {jobs[0].id} already existed" in out
    # The record and token lookup were not written again (only the release's own records were).
    _assert_no_job_written_since(airflow_env, versions)


def _assert_no_job_written_since(stack, versions: list[tuple[str, str]]) -> None:
    """No job record or token lookup got a new version since ``versions`` was listed."""
    written = {k for k, _ in set(bucket_versions(stack)) - set(versions)}
    assert not any(k.startswith((config.JOBS_PREFIX, config.JOB_TOKENS_PREFIX)) for k in written), (
        written
    )


@pytest.mark.airflow
def test_the_same_order_reference_with_another_price_is_refused(
    release_dag,  # noqa: F811 (the fixture imported above)
    airflow_env,
    capfd,
):
    ref = f"ORD-{uuid.uuid4().hex[:8]}"
    conf = fresh_job(order_reference=ref)
    _first, states = run(release_dag, conf)
    assert states["upload_job"] == "success", states
    capfd.readouterr()

    versions = bucket_versions(airflow_env)
    _second, states = run(release_dag, conf | {"job_price": "650.00"})
    assert states["upload_job"] == "failed", states
    out = "".join(capfd.readouterr())
    assert "with different price" in out and f"order/{ref.lower()}" in out
    assert "650" not in out.split("with different price")[0][-300:]
    job = jobs_of(airflow_env, conf)
    assert len(job) == 1 and str(job[0].price) == "600.00"
    _assert_no_job_written_since(airflow_env, versions)


@pytest.mark.airflow
def test_allow_duplicate_job_makes_a_deliberate_second_job(
    release_dag,  # noqa: F811 (the fixture imported above)
    airflow_env,
):
    conf = fresh_job()
    _first, states = run(release_dag, conf)
    assert states["upload_job"] == "success", states
    second, states = run(release_dag, conf | {"allow_duplicate_job": True})
    assert states == dict.fromkeys(states, "success"), states
    jobs = jobs_of(airflow_env, conf)
    assert len(jobs) == 2 and len({j.token for j in jobs}) == 2
    assert task_result(second, "upload_job")["created"] is True
    assert task_result(second, "invalidate")["invalidations"]

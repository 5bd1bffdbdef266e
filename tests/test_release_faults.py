"""qdn_release through S3 faults: a fault proxy between Airflow and moto injects 500s, 503
SlowDowns, dropped connections (before and after the write lands) and latency at each step of a
real DAG run, and the run's own retries (botocore's, then the task's) must converge.

After every scenario: every task succeeded, the run's job exists exactly once and its tracking
link works, the live pointer names the staged build, every page served refers only to assets the
edge serves, and the run's release manifest records the switch and the job.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_release_dag import (  # noqa: F401 (release_dag is a fixture)
    all_jobs,
    live_build,
    mark_job,
    release_dag,
    run,
    stage_variant,
)

from localaws import stack
from localaws.airflow_local import task_result
from localaws.fault_proxy import FaultProxy
from qdn import config
from qdn.jobs.records import JobRecords
from qdn.release_manifest import read_manifest
from qdn.smoke import PINNED_ASSET_RE, http_get

pytestmark = pytest.mark.airflow

# (name, operation, fault, key prefix, times, a task must retry): six faults outlast botocore's
# own retries (the hook's clients make five attempts on a 500, a 503 or a dropped connection), so
# the task fails and Airflow's retry is what converges; the others are absorbed within the call.
SCENARIOS = [
    ("job write 503 past botocore's retries", "PutObject", "503", config.JOBS_PREFIX, 6, True),
    ("job write lands, answer lost", "PutObject", "drop_after", config.JOBS_PREFIX, 1, False),
    ("token lookup 500", "PutObject", "500", config.JOB_TOKENS_PREFIX, 6, True),
    # Two index entries are written at once: ten drops exhaust both calls' five attempts.
    ("index entries dropped", "PutObject", "drop", config.JOB_INDEX_PREFIX, 10, True),
    ("build manifest read 500", "GetObject", "500", config.BUILDS_PREFIX, 6, True),
    ("release manifest write 503", "PutObject", "503", config.RELEASES_PREFIX, 6, True),
    ("release manifest write lands, answer lost", "PutObject", "drop_after",
     config.RELEASES_PREFIX, 2, False),
    ("every S3 read slow", "GetObject", "latency", "", 0, False),
]  # fmt: skip


@pytest.fixture(scope="module")
def proxy(bootstrapped) -> Iterator[FaultProxy]:
    proxy = FaultProxy.start(bootstrapped.moto_url)
    yield proxy
    proxy.stop()


@pytest.fixture
def faulty_env(airflow_env, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch):
    """``aws_default`` through the proxy: every S3, Logs and SNS call of the release crosses it."""
    port = int(proxy.url.rsplit(":", 1)[1])
    through = dataclasses.replace(airflow_env.config, moto_port=port)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", stack.airflow_connection(through))
    proxy.clear()
    yield airflow_env
    proxy.clear()


@pytest.fixture
def quick_retries(release_dag):  # noqa: F811 (the fixture imported above)
    """The DAG's retry policy, with seconds instead of minutes between attempts."""
    for task in release_dag.tasks:
        task.retry_delay = timedelta(seconds=1)
        task.retry_exponential_backoff = False
    return release_dag


def _assets_are_served(base: str) -> int:
    """Every pinned asset the served pages refer to answers 200; returns how many were checked."""
    checked = 0
    for page in ("/", "/track/" + "x" * 32):
        body = http_get(base + page).body.decode()
        for url in sorted(set(re.findall(PINNED_ASSET_RE, body))):
            path = url if url.startswith("/") else "/" + url
            assert http_get(base + path).status == 200, (page, path)
            checked += 1
    return checked


@pytest.mark.parametrize(
    ("name", "operation", "fault", "prefix", "times", "retried"),
    SCENARIOS,
    ids=[s[0] for s in SCENARIOS],
)
def test_a_fault_at_each_step_converges(
    quick_retries, faulty_env, proxy: FaultProxy, tmp_path: Path,
    name: str, operation: str, fault: str, prefix: str, times: int, retried: bool,
) -> None:  # fmt: skip
    stack_ = faulty_env
    build_id = stage_variant(stack_, tmp_path, re.sub(r"\W+", "-", name))
    rule: dict[str, Any] = {"key_prefix": prefix or None, "times": times}
    if fault == "latency":
        rule["ms"] = 300
    proxy.add(operation, fault, **rule)

    conf = mark_job(job_customer_name="Faulted")
    dag_run, states = run(quick_retries, conf)

    fired = sum(r["fired"] for r in proxy.status()["rules"])
    assert fired >= 1, f"the fault never fired: {proxy.status()}"
    assert states == dict.fromkeys(states, "success"), states
    tries = {ti.task_id: ti.try_number for ti in dag_run.get_task_instances()}
    assert (max(tries.values()) > 1) is retried, tries
    assert live_build(stack_) == build_id

    job_id = task_result(dag_run, "upload_job")["job_ids"][0]
    # The job's key is its order reference (docs/jobs.md), unique to this run's conf.
    key = "order/" + conf["order_reference"].lower()
    ours = [j for j in all_jobs(stack_).values() if j.idempotency_key == key]
    assert [j.id for j in ours] == [job_id]  # exactly one job for this run
    job = ours[0]
    assert JobRecords(stack_.client("s3"), config.BUCKET).find_by_token(job.token) == job
    for alias in config.DISTRIBUTION_ALIASES:
        base = stack_.edge_url(alias)
        answer = http_get(f"{base}{config.TRACK_API_PREFIX}{job.token}")
        assert answer.status == 200 and job.id.encode() in answer.body
        assert _assets_are_served(base) >= 1

    stored = read_manifest(stack_.client("s3"), config.BUCKET, dag_run.run_id)
    assert stored is not None
    assert stored.manifest.content.build_after == build_id
    assert [c.job_id for c in stored.manifest.jobs.changes] == [job_id]

"""The deployment as ops run it, without Docker: PostgreSQL, Redis, the Celery executor, and
api-server, scheduler, dag-processor, triggerer and a Celery worker as separate processes, all
from deploy/airflow.env plus one set of shared secrets, driven only through the REST API.

It uses the machine's PostgreSQL (127.0.0.1:5432, user postgres) with a database of its own and
Redis (127.0.0.1:6379) with a db number of its own, and its own local AWS stack; it is skipped,
saying why, only when PostgreSQL or Redis cannot be reached.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from localaws import airflow_processes, deploy_settings, stack
from localaws.airflow_local import release_variables
from localaws.demo import changed_site, release_conf, seed_job

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Redis has 16 numbered databases by default; 0 is everybody's, so pick an empty one above it.
REDIS_DBS = range(1, 16)
COMPONENTS = ["api-server", "scheduler", "dag-processor", "triggerer", "worker"]
ADMIN = "admin"
# A release here takes 15-40 s (the invalidation completes after the stack's 1 s delay, the
# smoke check follows). Six minutes leaves room for a machine shared with other work (a wait,
# not a timing assertion); longer means something is stuck, not slow.
RUN_TIMEOUT = 360.0

pytestmark = pytest.mark.timeout(600)


def _reachable() -> str:
    """Why the deployment cannot be tested here, or '' when PostgreSQL and Redis answer."""
    import psycopg2
    import redis

    try:
        psycopg2.connect(dbname="postgres", connect_timeout=3, **PG).close()
    except psycopg2.Error as err:
        return f"PostgreSQL at {PG['host']}:{PG['port']} (user {PG['user']}) unreachable: {err}"
    try:
        redis.Redis(REDIS_HOST, REDIS_PORT, socket_connect_timeout=3).ping()
    except redis.RedisError as err:
        return f"Redis at {REDIS_HOST}:{REDIS_PORT} unreachable: {err}"
    return ""


def _admin_sql(statement: str) -> None:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True  # CREATE/DROP DATABASE refuse to run in a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def _free_redis_db() -> int:
    import redis

    for number in REDIS_DBS:
        if redis.Redis(REDIS_HOST, REDIS_PORT, db=number).dbsize() == 0:
            return number
    pytest.skip(f"no empty Redis database among {REDIS_DBS} at {REDIS_HOST}:{REDIS_PORT}")


@dataclass
class Deployment:
    api: airflow_processes.Api
    procs: dict[str, subprocess.Popen[bytes]]
    log_dir: Path
    stack: Any  # conftest.StackHandle
    pgids: dict[str, int]
    log_folder: Path

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run = self.api.post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def wait(self, dag_id: str, run_id: str) -> str:
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            state = self.api.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")["state"]
            if state in ("success", "failed"):
                return state
            self.assert_components_alive()
            time.sleep(1)
        raise AssertionError(f"{dag_id} run {run_id} still running after {RUN_TIMEOUT:.0f} s")

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        answer = self.api.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        )
        return {ti["task_id"]: ti for ti in answer["task_instances"]}

    def result(self, dag_id: str, run_id: str, task_id: str) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
        return self.api.get(f"{path}/xcomEntries/return_value")["value"]

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        return self.api.task_log(dag_id, run_id, task_id, try_number)

    def task_log_dir(self, dag_id: str, run_id: str, task_id: str) -> Path:
        """Where every component writes this task's logs (Airflow's default layout)."""
        return self.log_folder / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"

    def assert_components_alive(self) -> None:
        for name, proc in self.procs.items():
            assert proc.poll() is None, (
                f"airflow {name} exited with {proc.returncode}; see {self.log_dir / name}.log"
            )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    why = _reachable()
    if why:
        print(f"skipping the deployment test: {why}", file=sys.stderr)
        pytest.skip(why)
    import redis

    from localaws.bootstrap import bootstrap
    from qdn import staging
    from tests.conftest import StackHandle

    root = tmp_path_factory.mktemp("deployment")
    database = f"qdn_deploy_test_{uuid.uuid4().hex[:12]}"
    redis_db = _free_redis_db()
    cfg = stack.StackConfig.with_free_ports(root / "stack", invalidation_delay=1.0)
    running = stack.start(cfg)
    _admin_sql(f'CREATE DATABASE "{database}"')
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        api_port, worker_logs, trigger_logs = stack.free_ports(3)
        place = deploy_settings.Place(
            database=f"{PG['user']}@{PG['host']}:{PG['port']}/{database}",
            broker=f"{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
            api=f"127.0.0.1:{api_port}",
            public_url=f"http://127.0.0.1:{api_port}",
            repo=str(stack.REPO_ROOT),
            home=str(root / "airflow-home"),
            api_port=api_port,
            worker_log_port=worker_logs,
            trigger_log_port=trigger_logs,
        )
        settings = deploy_settings.load(deploy_settings.generate_secrets(), place)
        assert settings["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        env = airflow_processes.base_env(settings)
        log_dir = root / "logs"
        # The migration (half a minute on PostgreSQL) needs none of the stack: overlap them.
        with ThreadPoolExecutor(max_workers=1) as pool:
            migrated = pool.submit(airflow_processes.migrate, env, log_dir)
            handle = StackHandle(cfg, running.pgids)
            bootstrap(handle.client)
            staging.stage(handle.client("s3"), changed_site(root, f"deployment test {database}"))
            migrated.result()
        # aws_default and the Variables on this test's stack; the shared settings stay the file's.
        variables = release_variables(cfg)
        variables.pop("AIRFLOW__API__BASE_URL")
        env.update(variables)
        password = secrets.token_urlsafe(16)
        airflow_processes.write_passwords_file(
            Path(settings["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]), ADMIN, password
        )
        procs.update(airflow_processes.start(COMPONENTS, env, log_dir))
        base_url = f"http://127.0.0.1:{api_port}"
        airflow_processes.wait_for_api(base_url, procs, log_dir)
        api = airflow_processes.Api(base_url)
        api.login(ADMIN, password)
        deployment = Deployment(
            api, procs, log_dir, handle, {n: p.pid for n, p in procs.items()},
            Path(settings["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]),
        )  # fmt: skip
        yield deployment
    finally:
        airflow_processes.stop(procs)
        stack.stop(cfg.state_dir)
        _admin_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        redis.Redis(REDIS_HOST, REDIS_PORT, db=redis_db).flushdb()


def _unpause(deployment: Deployment, dag_id: str) -> None:
    airflow_processes.wait_until_parsed(
        deployment.api, dag_id, deployment.procs, deployment.log_dir
    )
    deployment.api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})


def _job_ids(deployment: Deployment) -> set[str]:
    """Every job record in the bucket (one listing)."""
    from qdn import config
    from qdn.jobs.export import list_records

    return set(list_records(deployment.stack.client("s3"), config.BUCKET))


@dataclass
class FirstRelease:
    run_id: str
    job_ids: list[str]
    jobs_after: set[str]


@pytest.fixture(scope="module")
def first_release(deployment: Deployment) -> FirstRelease:
    _unpause(deployment, "qdn_release")
    before = _job_ids(deployment)
    run_id = deployment.trigger("qdn_release", release_conf(seed_job()))
    state = deployment.wait("qdn_release", run_id)
    tis = deployment.task_instances("qdn_release", run_id)
    assert state == "success", {t: ti["state"] for t, ti in tis.items()}
    job_ids = deployment.result("qdn_release", run_id, "upload_job")["job_ids"]
    after = _job_ids(deployment)
    assert after - before == set(job_ids) and len(job_ids) == 1
    return FirstRelease(run_id, job_ids, after)


def test_release_runs_on_the_split_components(deployment: Deployment, first_release):
    tis = deployment.task_instances("qdn_release", first_release.run_id)
    assert {t: ti["state"] for t, ti in tis.items()} == dict.fromkeys(
        ("publish_function", "promote_content", "upload_job", "invalidate", "smoke_check"),
        "success",
    )
    # Run by the Celery worker, not in-process: the executor is the shared file's.
    assert all(ti["executor"] in (None, "CeleryExecutor") for ti in tis.values())
    smoke = deployment.result("qdn_release", first_release.run_id, "smoke_check")
    assert smoke["job_id"] == first_release.job_ids[0]


def test_invalidate_was_deferred_and_resumed_by_the_triggerer(
    deployment: Deployment, first_release
):
    ti = deployment.task_instances("qdn_release", first_release.run_id)["invalidate"]
    assert ti["state"] == "success" and ti["try_number"] == 1
    log = deployment.log("qdn_release", first_release.run_id, "invalidate", 1)
    # Read through the REST API: the worker's part (deferred, then resumed in the same try)...
    deferred = log.find("Pausing task as DEFERRED")
    assert deferred != -1, log[-3000:]
    assert "Completed" in log[deferred:], log[-3000:]
    # ...and the triggerer's, written to the shared log folder by the triggerer process.
    assert "Trigger fired event" in log, log[-3000:]
    trigger_logs = list(deployment.task_log_dir("qdn_release", first_release.run_id, "invalidate")
                        .glob("attempt=1.log.trigger.*.log"))  # fmt: skip
    assert len(trigger_logs) == 1 and "trigger completed" in trigger_logs[0].read_text()


def test_a_task_log_reads_through_the_rest_api(deployment: Deployment, first_release):
    log = deployment.log("qdn_release", first_release.run_id, "smoke_check", 1)
    assert first_release.job_ids[0] in log, log[-2000:]


def test_the_same_conf_again_creates_no_second_job(deployment: Deployment, first_release):
    run_id = deployment.trigger("qdn_release", release_conf(seed_job()))
    assert deployment.wait("qdn_release", run_id) == "success"
    assert _job_ids(deployment) == first_release.jobs_after
    again = deployment.result("qdn_release", run_id, "upload_job")
    assert again["job_ids"] == first_release.job_ids


def test_nightly_verify_passes(deployment: Deployment, first_release):
    _unpause(deployment, "qdn_nightly_verify")
    run_id = deployment.trigger("qdn_nightly_verify", {})
    state = deployment.wait("qdn_nightly_verify", run_id)
    tis = deployment.task_instances("qdn_nightly_verify", run_id)
    assert state == "success", {t: ti["state"] for t, ti in tis.items()}
    assert tis["report"]["state"] == "success"


def test_stopping_leaves_no_process_behind(deployment: Deployment):
    deployment.assert_components_alive()
    airflow_processes.stop(deployment.procs)
    left = [name for name, pgid in deployment.pgids.items() if stack.group_alive(pgid)]
    assert left == [], f"still running after the stop: {left}"

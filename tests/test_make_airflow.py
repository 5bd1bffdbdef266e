"""``make airflow``'s entry (``python -m localaws airflow``): the UI on the local stack with the
LocalExecutor, aws_default and the Variables set, a release triggered through its REST API,
and ``down`` stopping every process group it started."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from localaws import airflow_processes, stack
from localaws.demo import seed_job

REPO_ROOT = Path(__file__).resolve().parent.parent
# A release on SQLite with the LocalExecutor takes about a minute on two busy cores.
RUN_TIMEOUT = 240.0

pytestmark = pytest.mark.timeout(600)


def _cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_ENDPOINT"))}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO_ROOT / p) for p in ("plugins", ".", "site/api"))
    return subprocess.run(
        [sys.executable, "-m", "localaws", "--state-dir", str(state_dir), *args],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip


def _ui(*args: str) -> str:
    """tests/airflow_ui.py in a subprocess (Playwright's loop stays out of this process)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("airflow_ui.py")), *args],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    return done.stdout


def test_make_airflow_serves_the_ui_and_runs_a_release(tmp_path: Path):
    # A stack of this test's own on free ports (make airflow reuses a running one), so a
    # developer's stack on the default ports is never touched.
    cfg = stack.StackConfig.with_free_ports(tmp_path, invalidation_delay=1.0)
    running = stack.start(cfg)
    port = stack.free_ports(1)[0]
    pgids: dict[str, int] = {}
    try:
        started = _cli(tmp_path, "airflow", "--port", str(port))
        assert started.returncode == 0, started.stdout + started.stderr
        login = re.search(r"Airflow UI: (\S+)  login: (\S+) / (\S+)", started.stdout)
        assert login, started.stdout
        url, user, password = login.groups()
        assert url == f"http://localhost:{port}"
        pgids = json.loads((tmp_path / "airflow.json").read_text())["pgids"]
        assert set(pgids) == {"api-server", "scheduler", "dag-processor", "triggerer"}

        api = airflow_processes.Api(url)
        api.login(user, password)
        # What the UI lists: aws_default on this stack and the release's Variables.
        extra = json.loads(api.get("/api/v2/connections/aws_default")["extra"])
        assert extra["endpoint_url"] == cfg.moto_url
        site_urls = json.loads(api.get("/api/v2/variables/qdn_site_urls")["value"])
        assert site_urls == {alias: cfg.edge_url(alias) for alias in cfg.edge_ports}
        assert api.get("/api/v2/variables/qdn_alerts_topic_arn")["value"].startswith("arn:aws:sns")
        assert api.get("/api/v2/dags/qdn_release")["is_paused"] is False

        # As a newcomer would: the Params form in the UI, in a real browser.
        job = seed_job(customer_name="Make Airflow")
        fields = {f"job_{name}": job[name] for name in ("customer_name", "location", "price")}
        fields["job_service_date"] = job["service_date"]
        _ui("trigger", url, user, password, "qdn_release", json.dumps(fields))
        runs = api.get("/api/v2/dags/qdn_release/dagRuns")["dag_runs"]
        assert [r["triggered_by"] for r in runs] == ["ui"], runs
        run_id, conf = runs[0]["dag_run_id"], runs[0]["conf"]
        assert conf["job_customer_name"] == "Make Airflow" and conf["build_id"] is None, conf
        run_path = f"/api/v2/dags/qdn_release/dagRuns/{quote(run_id, safe='')}"
        deadline = time.monotonic() + RUN_TIMEOUT
        while (state := api.get(run_path)["state"]) not in ("success", "failed"):
            assert time.monotonic() < deadline, f"run {run_id} still {state}"
            time.sleep(1)
        tis = {t["task_id"]: t for t in api.get(f"{run_path}/taskInstances")["task_instances"]}
        assert state == "success", {t: ti["state"] for t, ti in tis.items()}
        assert {ti["executor"] for ti in tis.values()} <= {None, "LocalExecutor"}
        # The task's log, in the UI and through the REST API.
        shown = _ui("log", url, user, password, "qdn_release", run_id, "upload_job", "created job")
        # A token is URL-safe base64: its hint may hold "-" or "_", which \w does not match.
        assert re.search(r"created job QDN-[A-Z2-7]{10} \(token [A-Za-z0-9_-]{4}…", shown), shown
        log = api.task_log("qdn_release", run_id, "upload_job", 1)
        assert "created job QDN-" in log, log[-2000:]

        # make down: the components' groups and the stack's, all gone.
        stopped = _cli(tmp_path, "down")
        assert stopped.returncode == 0, stopped.stderr
        assert "airflow api-server" in stopped.stdout and "moto" in stopped.stdout
        left = [name for name, pgid in pgids.items() if stack.group_alive(pgid)]
        assert left == [] and not (tmp_path / "airflow.json").exists()
        # The stack's servers are this test's children: reap them (a zombie still has a group).
        for pid in running.pgids.values():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        assert not any(stack.group_alive(pgid) for pgid in running.pgids.values())
    finally:
        airflow_processes.stop_recorded(tmp_path)
        stack.stop(tmp_path)

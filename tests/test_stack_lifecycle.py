"""The stack launcher: starts what it says, reports where, and leaves no process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

from localaws import stack


def test_moto_only_stack_starts_answers_and_stops(tmp_path):
    cfg = stack.StackConfig.with_free_ports(tmp_path)
    running = stack.start(cfg, services=("moto",))
    pgid = running.pgids["moto"]
    try:
        with urllib.request.urlopen(cfg.moto_url + "/moto-api/", timeout=5) as resp:
            assert resp.status == 200
        assert json.loads((tmp_path / "stack.json").read_text())["pgids"]["moto"] == pgid
        with pytest.raises(stack.StackError, match="already running"):
            stack.start(cfg, services=("moto",))
    finally:
        assert stack.stop(tmp_path) == ["moto"]
    assert not stack.group_alive(pgid)
    assert not (tmp_path / "stack.json").exists()
    assert stack.stop(tmp_path) == []


def test_airflow_connection_points_cloudfront_elsewhere():
    cfg = stack.StackConfig(moto_port=1111, cloudfront_port=2222)
    conn = json.loads(stack.airflow_connection(cfg))
    assert conn["extra"]["endpoint_url"] == "http://127.0.0.1:1111"
    assert conn["extra"]["service_config"]["cloudfront"]["endpoint_url"] == "http://127.0.0.1:2222"


def test_cli_env_without_stack_says_how_to_start(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "localaws", "--state-dir", str(tmp_path), "env"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(stack.REPO_ROOT)},
        check=False,
    )
    assert proc.returncode == 1
    assert "make up" in proc.stderr


def test_start_failure_reports_log_and_cleans_up(tmp_path):
    # A port already taken makes moto exit at once; the launcher must say so and leave nothing.
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cfg = stack.StackConfig.with_free_ports(tmp_path, moto_port=busy.getsockname()[1])
        with pytest.raises(stack.StackError, match=r"moto\.log|did not answer"):
            stack.start(cfg, services=("moto",))
    assert not (tmp_path / "stack.json").exists()

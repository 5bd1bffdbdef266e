"""``make demo`` reads like a release, and a second one changes nothing and says so.

The demo's own entry point runs twice in one new process (``tests/demo_twice.py``) against the
session stack (found by its state directory; KEEP=1 leaves it running for the other tests), with
a fresh Airflow home and its log in a temporary directory: Airflow is configured by the demo
itself, as in ``make demo``, so a log stream it keeps across runs is exercised too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

# Lines only Airflow's own logging writes: none may reach the demo's console.
AIRFLOW_NOISE = ("[info     ]", "[debug    ]", "INFO - ", "DEBUG - ", "dag_id=", "Traceback")


def test_demo_twice_prints_the_release_and_the_second_changes_nothing(bootstrapped, tmp_path):
    runner = Path(__file__).with_name("demo_twice.py")
    done = subprocess.run(
        [sys.executable, str(runner), str(bootstrapped.config.state_dir), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    first, second = done.stdout.split("=== second demo ===\n")
    log_file = tmp_path / "demo-airflow.log"

    for out in (first, second):
        assert f"Airflow's own log: {log_file}" in out
        # Each task's line is printed as the task finishes, so all come before the run's line.
        run_line = out.index("qdn_release run ")
        for task in ("publish_function", "promote_content", "upload_job", "invalidate"):
            assert -1 < out.find(f"  {task}") < run_line, (task, out)
        assert -1 < out.find("  content ") < out.index("qdn_nightly_verify run "), out
        assert "tracking URL: " in out
        assert "8 checks passed, none failed" in out
        noise = [line for line in out.splitlines() if any(n in line for n in AIRFLOW_NOISE)]
        assert not noise, noise
    assert "changed: build made live" not in second
    assert "nothing changed: function current, build already live, job QDN-" in second
    assert "already there, no invalidation" in second
    assert "  invalidate        success  nothing to invalidate" in second
    assert log_file.stat().st_size > 0  # Airflow's log went to the file instead

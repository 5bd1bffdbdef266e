"""``make demo`` reads like a release, and a second one changes nothing and says so.

The demo's own entry point runs twice against the session stack (its stack finder is pointed at
it, and KEEP=1 leaves it running for the other tests), with its Airflow log in a temporary file.
"""

from __future__ import annotations

import types

import pytest

from localaws import demo

pytestmark = pytest.mark.airflow

# Lines only Airflow's own logging writes: none may reach the demo's console.
AIRFLOW_NOISE = ("[info     ]", "[debug    ]", "INFO - ", "DEBUG - ", "dag_id=", "Traceback")


def test_demo_twice_prints_the_release_and_the_second_changes_nothing(
    airflow_db, airflow_env, tmp_path, monkeypatch, capfd
):
    log_file = tmp_path / "demo-airflow.log"
    monkeypatch.setenv("KEEP", "1")
    monkeypatch.setattr(demo, "AIRFLOW_LOG", log_file)
    monkeypatch.setattr(demo, "AIRFLOW_HOME", airflow_db)
    monkeypatch.setattr(
        demo, "_ensure_stack", lambda: types.SimpleNamespace(config=airflow_env.config)
    )
    # The test session's Airflow is configured already; the release's Variables come from
    # airflow_env, so the demo must not point Airflow at another home for the rest of the session.
    monkeypatch.setattr(demo, "_configure_airflow", lambda cfg: None)

    assert demo.main() == 0
    first = capfd.readouterr().out
    assert demo.main() == 0
    second = capfd.readouterr().out

    for out in (first, second):
        assert f"Airflow's own log: {log_file}" in out
        for task in ("publish_function", "promote_content", "upload_job", "invalidate"):
            assert f"  {task}" in out, (task, out)
        assert "tracking URL: " in out
        assert "qdn_nightly_verify run" in out
        noise = [line for line in out.splitlines() if any(n in line for n in AIRFLOW_NOISE)]
        assert not noise, noise
    assert "nothing changed: function current, build already live, job QDN-" in second
    assert "already there, no invalidation" in second
    assert log_file.stat().st_size > 0  # Airflow's log went to the file instead

"""Airflow in this process, pointed at the local stack: the rehearsal and the DAG tests share it.

Nothing here imports Airflow at module level: the settings must be in the environment before
Airflow is first imported, which is exactly when callers use them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localaws import stack

# The local invalidations complete in seconds; poll at that pace instead of AWS's 20 s.
LOCAL_WAITER_DELAY = 1


def airflow_settings(home: Path) -> dict[str, str]:
    """A throwaway Airflow home (SQLite inside it) that loads our dags/ and plugins/ only."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(stack.REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(stack.REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }


def release_variables(cfg: stack.StackConfig) -> dict[str, str]:
    """The ``aws_default`` connection and the release's Variables for this stack."""
    env = stack.aws_env(cfg)
    env["AIRFLOW_VAR_QDN_SITE_URLS"] = json.dumps(
        {alias: cfg.edge_url(alias) for alias in cfg.edge_ports}
    )
    env["AIRFLOW_VAR_QDN_WAITER_DELAY"] = str(LOCAL_WAITER_DELAY)
    return env


def task_result(dag_run: Any, task_id: str) -> Any:
    """What a task of a finished run returned (its ``return_value`` XCom), or None."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(
                dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key="return_value"
            )
            .one_or_none()
        )
        return XComModel.deserialize_value(row) if row else None

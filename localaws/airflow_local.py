"""Airflow in this process, pointed at the local stack: the rehearsal and the DAG tests share it.

Nothing here imports Airflow at module level: the settings must be in the environment before
Airflow is first imported, which is exactly when callers use them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localaws import stack
from qdn import config

# The local invalidations complete in seconds; poll at that pace instead of AWS's 20 s.
LOCAL_WAITER_DELAY = 1
# Where ``airflow api-server`` (and ``airflow standalone``) serve the UI on this machine by
# default: the failure alert's log link points here, so a rehearsal's alert opens the real log.
LOCAL_API_BASE_URL = "http://localhost:8080"


def airflow_settings(home: Path) -> dict[str, str]:
    """A throwaway Airflow home (SQLite inside it) that loads our dags/ and plugins/ only."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(stack.REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(stack.REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }


def release_variables(cfg: stack.StackConfig) -> dict[str, str]:
    """The ``aws_default`` connection, the release's Variables (the alerts topic among them) and
    the UI's base URL the alert's log link is built from, for this stack."""
    env = stack.aws_env(cfg)
    env["AIRFLOW_VAR_QDN_SITE_URLS"] = json.dumps(
        {alias: cfg.edge_url(alias) for alias in cfg.edge_ports}
    )
    env["AIRFLOW_VAR_QDN_WAITER_DELAY"] = str(LOCAL_WAITER_DELAY)
    # qdn.alerts.ALERTS_TOPIC_VARIABLE (not imported: it imports Airflow, see above).
    env["AIRFLOW_VAR_QDN_ALERTS_TOPIC_ARN"] = alerts_topic_arn(cfg)
    env["AIRFLOW__API__BASE_URL"] = LOCAL_API_BASE_URL
    return env


def alerts_topic_arn(cfg: stack.StackConfig) -> str:
    """The alerts topic's ARN on this stack: the account is whichever moto answers as (its
    default, or ``MOTO_ACCOUNT_ID``), asked rather than assumed; the bootstrap creates the topic
    under this name in this region."""
    account = stack.client(cfg, "sts").get_caller_identity()["Account"]
    return f"arn:aws:sns:{stack.REGION}:{account}:{config.ALERTS_TOPIC}"


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

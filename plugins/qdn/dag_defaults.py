"""What the release and rollback DAGs share: retries, the failure alert, templated Variables.

Both DAGs switch the same pointer and publish the same function, so they must retry, alert and
find ``cf/`` the same way; this is the one place that says how.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from qdn import config
from qdn.alerts import FailureAlert
from qdn.verify.distributions import API_ORIGIN_VARIABLE

CF_DIR = Path(__file__).resolve().parents[2] / "cf"
# A Variable can point the gate at another checkout of cf/ (a hotfix branch, a test).
CF_DIR_TEMPLATE = "{{ var.value.get('qdn_cf_dir', '" + str(CF_DIR) + "') }}"
CODE_PATH_TEMPLATE = CF_DIR_TEMPLATE + f"/{config.FUNCTION_NAME}.js"
SITE_URLS_TEMPLATE = "{{ var.value.get('qdn_site_urls', '') }}"
# Empty (unset) means qdn.config.TRACK_API_ORIGIN_DOMAIN, the local stack's.
API_ORIGIN_TEMPLATE = "{{ var.value.get('" + API_ORIGIN_VARIABLE + "', '') }}"
SMOKE_DEADLINE_TEMPLATE = "{{ var.value.get('qdn_smoke_deadline', 120) }}"


def default_args(dag_id: str) -> dict[str, Any]:
    """Every task of ``dag_id`` retries and alerts alike; the alert names ``dag_id``."""
    return {
        "owner": "ops",
        # Only transient AWS errors reach a retry: the operators fail at once on anything else.
        "retries": 3,
        "retry_delay": timedelta(seconds=15),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=5),
        # One SNS message per failed task (only a failure: a retry is not paged); qdn.alerts.
        "on_failure_callback": FailureAlert(dag_id),
    }


def distributions_param_schema() -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string", "enum": list(config.DISTRIBUTION_ALIASES)},
    }

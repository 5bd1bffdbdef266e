"""
# QuickDumpNow rollback

Puts back what an earlier release made live, with the same checks as a release:

1. **resolve_target** — `target` empty: the build live before the current one (a second rollback
   returns to the release the first one undid); or a run id, or a build id, from the list of
   recent releases this task logs. A build that is missing or incomplete is refused here, before
   anything changes.
2. **publish_function** — if the target ran another function, its code (kept by hash in
   `releases/functions/`) goes through the same `TestFunction` gate and is published; otherwise
   nothing.
3. **switch_pointer** — one write of the `live` key (`IfMatch`): every edge serves the target within
   the store's propagation time, from its own cache keys — no content invalidation. The run writes
   its own `releases/<run-id>.json` and history entry, so a rollback can itself be rolled back.
4. **smoke_check** — the shell, `/book/` and a private path through each edge until every edge
   serves the target build.

**Dry run** resolves and logs the whole plan and changes nothing. A successful rollback produces
the `qdn_live_release` Asset, so `qdn_nightly_verify` checks production minutes later.

What each failure means and what to do: **docs/runbook.md**.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from qdn import config
from qdn.assets import LIVE_RELEASE
from qdn.dag_defaults import (
    CF_DIR_TEMPLATE,
    CODE_PATH_TEMPLATE,
    SITE_URLS_TEMPLATE,
    SMOKE_DEADLINE_TEMPLATE,
    default_args,
    distributions_param_schema,
)
from qdn.operators.function import PublishFunctionOperator
from qdn.operators.promote import PromoteContentOperator
from qdn.operators.rollback import ResolveRollbackOperator
from qdn.operators.smoke import SmokeCheckOperator

with DAG(
    dag_id="qdn_rollback",
    schedule=None,
    # One switch of the pointer at a time; a release running beside it would lose its IfMatch.
    max_active_runs=1,
    catchup=False,
    doc_md=__doc__,
    tags=["quickdumpnow", "release", "rollback"],
    default_args=default_args("qdn_rollback"),
    params={
        # Nullable: the UI's form marks a plain "string" required (Trigger disabled while empty).
        "target": Param(
            None,
            type=["null", "string"],
            description="Empty: the previous release. Or a run id or build id that "
            "resolve_target lists from releases/HISTORY.json",
        ),
        "dry_run": Param(False, type="boolean", description="Resolve and log only; change nothing"),
        "distributions": Param(
            list(config.DISTRIBUTION_ALIASES),
            **distributions_param_schema(),
            description="Distributions to smoke-check",
        ),
    },
) as dag:
    resolve_target = ResolveRollbackOperator(task_id="resolve_target")
    publish_function = PublishFunctionOperator(
        task_id="publish_function",
        code_path=CODE_PATH_TEMPLATE,
        cf_dir=CF_DIR_TEMPLATE,
        target_task_id="resolve_target",
    )
    switch_pointer = PromoteContentOperator(
        task_id="switch_pointer", target_task_id="resolve_target", kind="rollback"
    )
    smoke_check = SmokeCheckOperator(
        task_id="smoke_check",
        site_urls=SITE_URLS_TEMPLATE,
        deadline=SMOKE_DEADLINE_TEMPLATE,
        # What production serves changed: qdn_nightly_verify runs on this event.
        outlets=[LIVE_RELEASE],
    )

    resolve_target >> publish_function >> switch_pointer >> smoke_check

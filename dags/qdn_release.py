"""
# QuickDumpNow release

Releases the dispatch site in the one order that never shows a customer a broken tracking link:

1. **publish_function** — the CloudFront Function `qdn-track-rewrite` from `cf/`: updated only if
   the code differs, tested with `TestFunction` on every case in `cf/cases/` (a wrong output, an
   error or compute utilisation over 70 stops the release with nothing published), published with
   `IfMatch`. A no-op when LIVE already runs the repo's code. It validates every parameter first.
2. **promote_content** — the staged build (`build_id`, default `builds/LATEST`) is checked
   complete (its manifest against one listing of `builds/<id>/`), then made live with one write
   of the `live` key in the KeyValueStore (`IfMatch`). Every edge follows within seconds, each
   build under its own cache keys: nothing is copied, no page is ever mixed with another build's
   assets. `releases/<run-id>.json` and `releases/HISTORY.json` record the switch; `qdn_rollback`
   moves the pointer back.
3. **upload_job** (beside 2) — the job from the form is written as its own private record,
   `data/jobs/<id>.json` (create-only, its id derived from the job's idempotency key), with its
   token lookup and dashboard index. Every change is an audit event. The key is the form's
   `order_reference` when given, else a digest of the job's normalised customer, location, date,
   price and status: **triggering the same job twice finds the first job** (same id, same token,
   nothing written); the same key with different fields is refused, naming the fields. Tick
   `allow_duplicate_job` for a deliberate second identical job.
4. **invalidate** — content needs no invalidation; one invalidation per distribution for the track
   API path of a job this run wrote (a cached "not found" must go), none for a job that already
   existed; the wait runs in the triggerer.
5. **smoke_check** — the customer's tracking link, the track API, `/book/` and a private path,
   fetched through each edge until every edge serves the new build.

**Dry run** computes and logs the whole plan and changes nothing. Leave the job fields empty for a
release without a job. Each failed task sends one message to the `qdn-release-alerts` SNS topic
(Variable `qdn_alerts_topic_arn`) with its first error line and its log link. A successful run
produces the `qdn_live_release` Asset: `qdn_nightly_verify` checks production minutes later.

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
from qdn.operators.invalidate import InvalidateOperator
from qdn.operators.jobs import UpsertJobOperator
from qdn.operators.promote import PromoteContentOperator
from qdn.operators.smoke import SmokeCheckOperator
from qdn.release_params import idempotency_param_specs, job_param_specs

with DAG(
    dag_id="qdn_release",
    schedule=None,
    max_active_runs=1,
    catchup=False,
    doc_md=__doc__,
    tags=["quickdumpnow", "release"],
    default_args=default_args("qdn_release"),
    params={
        # Optional fields are nullable: the UI's form marks a plain "string" required and keeps
        # its Trigger button disabled while it is empty.
        "build_id": Param(
            None, type=["null", "string"], description="Build to make live; empty = LATEST"
        ),
        "promote": Param(True, type="boolean", description="Make the build live"),
        "dry_run": Param(False, type="boolean", description="Plan and log only; change nothing"),
        "distributions": Param(
            list(config.DISTRIBUTION_ALIASES),
            **distributions_param_schema(),
            description="Distributions to invalidate and smoke-check",
        ),
        # One Param per field of the job model (qdn.release_params.job_param_specs).
        **{name: Param(**spec) for name, spec in job_param_specs().items()},
        # order_reference and allow_duplicate_job: whether a trigger may make a new job.
        **{name: Param(**spec) for name, spec in idempotency_param_specs().items()},
    },
) as dag:
    publish_function = PublishFunctionOperator(
        task_id="publish_function",
        code_path=CODE_PATH_TEMPLATE,
        cf_dir=CF_DIR_TEMPLATE,
    )
    promote_content = PromoteContentOperator(task_id="promote_content")
    upload_job = UpsertJobOperator(task_id="upload_job")
    invalidate = InvalidateOperator(
        task_id="invalidate",
        waiter_delay="{{ var.value.get('qdn_waiter_delay', 20) | int }}",
    )
    smoke_check = SmokeCheckOperator(
        task_id="smoke_check",
        site_urls=SITE_URLS_TEMPLATE,
        deadline=SMOKE_DEADLINE_TEMPLATE,
        # What production serves changed: qdn_nightly_verify runs on this event.
        outlets=[LIVE_RELEASE],
    )

    publish_function >> [promote_content, upload_job] >> invalidate >> smoke_check

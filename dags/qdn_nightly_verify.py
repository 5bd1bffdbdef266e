"""
# QuickDumpNow nightly verification

Checks that production is still what the last release made it, every night at 03:00 UTC and
minutes after every successful `qdn_release` or `qdn_rollback` (through the `qdn_live_release`
Asset their smoke check produces). It changes nothing but two things a check owns: it rebuilds a
stale `data/jobs.json` export, and it writes its report.

One task per check; each runs whatever the others found and fails naming the drift with its ids:

- **function** — LIVE code of `qdn-track-rewrite` equals `cf/` and the function the last release
  recorded; DEVELOPMENT differing from LIVE is only a warning.
- **distributions** — each distribution enabled, the function on viewer request, the origins,
  origin path, `/api/*` behaviour and cache policies as the bootstrap sets them.
- **content** — the live pointer names the last release's build, and that build's objects equal
  its manifest (changed, missing and extra keys listed).
- **job_records** — every record valid, no id or token repeated, lookups and the export agree;
  counts per status go to CloudWatch.
- **canary** — the synthetic canary job's tracking link and API answer through every edge.
- **freshness** — no edge serves the shell or the canary's API answer older than its max-age.
- **exposure** — job data, release records and staging refused on every edge; the bucket's
  public access block on, no public bucket policy.
- **monitoring** — the audit log group, metric filters, alarms and an alert subscription exist.

**report** (runs after all of them) writes `reports/verify/<date>/<run-id>.json` and ends with one
line: `7 checks passed, 1 failed: content — …`. A failed check alerts the `qdn-release-alerts`
topic (one message per failed check, with its log link; the report adds none for them).

What each failure means and what to do: **docs/runbook.md**.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable

from qdn.alerts import FailureAlert
from qdn.assets import LIVE_RELEASE
from qdn.dag_defaults import (
    API_ORIGIN_TEMPLATE,
    CF_DIR_TEMPLATE,
    SITE_URLS_TEMPLATE,
    default_args,
)
from qdn.operators.verify import ChecksFailed, VerifyCheckOperator, VerifyReportOperator
from qdn.verify.checks import CHECKS

with DAG(
    dag_id="qdn_nightly_verify",
    # 03:00 UTC is the quietest hour for bookings; a release also triggers a run through the Asset.
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * *", timezone="UTC"),
        assets=LIVE_RELEASE,
    ),
    start_date=datetime(2026, 12, 1, tzinfo=UTC),
    catchup=False,
    # Two verifications at once would only race on the export rebuild.
    max_active_runs=1,
    doc_md=__doc__,
    tags=["quickdumpnow", "verify"],
    default_args=default_args("qdn_nightly_verify"),
) as dag:
    checks = [
        VerifyCheckOperator(
            check=name,
            site_urls=SITE_URLS_TEMPLATE,
            cf_dir=CF_DIR_TEMPLATE,
            api_origin=API_ORIGIN_TEMPLATE,
        )
        for name in CHECKS
    ]
    checks >> VerifyReportOperator(
        task_id="report",
        checks=list(CHECKS),
        # Each failed check has paged already; the report pages only for a failure of its own.
        on_failure_callback=FailureAlert("qdn_nightly_verify", already_alerted=(ChecksFailed,)),
    )

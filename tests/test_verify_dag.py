"""qdn_nightly_verify as real Airflow DAG runs (``dag.test``) against the released local stack:
it passes on a clean stack, a planted fault fails only its own check with the report saying so,
and a successful release queues a verification through the Asset."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from test_release_dag import _bag, live_build, mark_job, run

from localaws.airflow_local import task_result
from qdn import config, staging
from qdn.jobs.model import JobStatus
from qdn.verify.checks import CHECKS
from qdn.verify.metrics import JOBS_METRIC
from qdn.verify.report import report_key

pytestmark = pytest.mark.airflow


@pytest.fixture
def verify_dag(airflow_db, airflow_env):
    bag = _bag()
    assert not bag.import_errors
    return bag.get_dag("qdn_nightly_verify")


def _report(stack, dag_run) -> dict:
    key = (task_result(dag_run, "report") or {}).get("report")
    if key is None:  # the report task failed: find its object by the run id
        s3 = stack.client("s3")
        listed = s3.list_objects_v2(Bucket=config.BUCKET, Prefix=config.REPORTS_PREFIX)
        name = report_key(dag_run.run_id, datetime.now(UTC)).rsplit("/", 1)[1]
        key = next(o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(name))
    body = stack.client("s3").get_object(Bucket=config.BUCKET, Key=key)["Body"].read()
    return json.loads(body)


def _sync_dags_to_db() -> None:
    """What the dag-processor does: every DAG of the configured bundles into the metadata DB."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)


def test_the_schedule_is_the_clock_and_the_release_asset(airflow_db):
    from airflow.sdk import AssetOrTimeSchedule

    dag = _bag().get_dag("qdn_nightly_verify")
    assert dag.catchup is False
    from airflow.sdk import Asset, CronTriggerTimetable

    from qdn.assets import LIVE_RELEASE

    timetable = dag.timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    assert isinstance(timetable.timetable, CronTriggerTimetable)
    assert timetable.timetable.expression == "0 3 * * *"
    assert str(timetable.timetable.timezone) in {"UTC", "Timezone('UTC')"}
    assert isinstance(timetable.asset_condition, Asset)
    assert timetable.asset_condition.uri == LIVE_RELEASE.uri
    assert {t.task_id for t in dag.tasks} == {*CHECKS, "report"}
    report = dag.get_task("report")
    assert report.upstream_task_ids == set(CHECKS)
    assert "docs/runbook.md" in dag.doc_md


def test_a_clean_stack_passes_every_check(verify_dag, airflow_env):
    dag_run, states = run(verify_dag, {})
    assert states == dict.fromkeys(states, "success"), states
    report = _report(airflow_env, dag_run)
    assert report["passed"] is True
    assert [c["name"].replace(" ", "_") for c in report["checks"]] == list(CHECKS)
    assert report["summary"].startswith(f"{len(CHECKS)} checks passed, none failed")
    # What the alarms and the dashboards read: the failed checks (0) and the jobs per status.
    cloudwatch = airflow_env.client("cloudwatch")
    listed = cloudwatch.list_metrics(Namespace=config.METRICS_NAMESPACE)["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert {config.VERIFICATION_FAILED_METRIC, JOBS_METRIC} <= names, names
    statuses = {
        d["Value"] for m in listed if m["MetricName"] == JOBS_METRIC for d in m["Dimensions"]
    }
    assert statuses == {status.value for status in JobStatus}


def test_an_object_changed_by_hand_fails_only_the_content_check(
    verify_dag, airflow_env, released_site
):
    s3 = airflow_env.client("s3")
    key = staging.build_prefix(released_site.build_id) + "robots.txt"
    saved = s3.get_object(Bucket=config.BUCKET, Key=key)
    body = saved["Body"].read()
    try:
        s3.put_object(
            Bucket=config.BUCKET,
            Key=key,
            Body=body + b"# edited by hand\n",
            ContentType=saved["ContentType"],
            **({"CacheControl": saved["CacheControl"]} if saved.get("CacheControl") else {}),
        )
        dag_run, states = run(verify_dag, {})
    finally:
        s3.put_object(
            Bucket=config.BUCKET,
            Key=key,
            Body=body,
            ContentType=saved["ContentType"],
            **({"CacheControl": saved["CacheControl"]} if saved.get("CacheControl") else {}),
        )
    failed = {t for t, s in states.items() if s == "failed"}
    assert failed == {"content", "report"}, states
    report = _report(airflow_env, dag_run)
    assert report["passed"] is False
    summary = report["summary"]
    assert summary.startswith(f"{len(CHECKS) - 1} checks passed, 1 failed: content — ")
    assert "robots.txt" in summary


def test_a_successful_release_queues_a_verification(airflow_db, airflow_env):
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    from qdn.assets import LIVE_RELEASE

    release = _bag().get_dag("qdn_release")
    # As ops would: the DAGs parsed into the metadata DB and the verification switched on (new
    # DAGs start paused, and a paused DAG's asset events are not queued).
    _sync_dags_to_db()
    with create_session() as session:
        session.query(AssetDagRunQueue).delete()
        session.query(DagModel).filter_by(dag_id="qdn_nightly_verify").update({"is_paused": False})
    # The build live now: the release queues the verification without switching the site to
    # whatever another test staged last as LATEST.
    dag_run, states = run(release, mark_job(build_id=live_build(airflow_env)))
    assert states == dict.fromkeys(states, "success"), states
    with create_session() as session:
        asset = session.query(AssetModel).filter_by(uri=LIVE_RELEASE.uri).one()
        events = (
            session.query(AssetEvent)
            .filter_by(asset_id=asset.id, source_run_id=dag_run.run_id)
            .all()
        )
        assert [(e.source_dag_id, e.source_task_id) for e in events] == [
            ("qdn_release", "smoke_check")
        ]
        queued = session.query(AssetDagRunQueue).filter_by(asset_id=asset.id).all()
        assert [q.target_dag_id for q in queued] == ["qdn_nightly_verify"]
        needing, _ = DagModel.dags_needing_dagruns(session)
        assert "qdn_nightly_verify" in {d.dag_id for d in needing}


def test_the_runbook_has_a_section_for_every_task_of_every_dag(airflow_db):
    """On-call finds each task's failures under a heading naming it (docs/runbook.md)."""
    from pathlib import Path

    runbook = (Path(__file__).resolve().parent.parent / "docs" / "runbook.md").read_text()
    headings = " ".join(line for line in runbook.splitlines() if line.startswith("#"))
    bag = _bag()
    for dag_id in ("qdn_release", "qdn_rollback", "qdn_nightly_verify"):
        dag = bag.get_dag(dag_id)
        assert "docs/runbook.md" in dag.doc_md, dag_id
        assert f"`{dag_id}`" in headings, dag_id
        for task in dag.tasks:
            assert f"`{task.task_id}`" in headings, (dag_id, task.task_id)

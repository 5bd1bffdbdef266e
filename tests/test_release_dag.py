"""qdn_release as real Airflow DAG runs (``dag.test``) against the local stack over HTTP."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from localaws.airflow_local import task_result
from localaws.demo import changed_cf, changed_site, release_conf, seed_job
from qdn import config, staging
from qdn.function_release import canonical, render
from qdn.live_pointer import kvs_arn, read_pointer
from qdn.release_manifest import function_code_key, read_history, read_manifest
from qdn.smoke import http_get

pytestmark = pytest.mark.airflow

REPO_ROOT = Path(__file__).resolve().parent.parent
EDGES = (
    ("publish_function", "promote_content"),
    ("publish_function", "upload_job"),
    ("promote_content", "invalidate"),
    ("upload_job", "invalidate"),
    ("invalidate", "smoke_check"),
)


def _bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


@pytest.fixture
def release_dag(airflow_db, airflow_env):
    bag = _bag()
    assert not bag.import_errors
    return bag.get_dag("qdn_release")


def mark_job(**over: Any) -> dict[str, Any]:
    """The seed's job under an order reference of its own: the same form values are one job
    across runs (docs/jobs.md), and each of these tests means to release a new one."""
    return release_conf(seed_job()) | {"order_reference": f"test-{uuid.uuid4().hex[:12]}"} | over


def run(dag, conf: dict[str, Any], logical_date: datetime | None = None):
    kwargs = {"run_conf": conf}
    if logical_date is not None:
        kwargs["logical_date"] = logical_date
    dag_run = dag.test(**kwargs)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    return dag_run, states


def stage_variant(stack, tmp_path: Path, marker: str) -> str:
    workdir = tmp_path / marker
    workdir.mkdir()
    return staging.stage(stack.client("s3"), changed_site(workdir, marker)).build_id


def live_build(stack) -> str | None:
    arn = kvs_arn(stack.client("cloudfront"), config.KVS_NAME)
    return read_pointer(stack.client("cloudfront-keyvaluestore"), arn, "live").value


def all_jobs(stack) -> dict:
    """Every job record in the bucket, by id (a listing, then the records in parallel)."""
    from qdn.jobs.export import list_records
    from qdn.jobs.records import JobRecords

    s3 = stack.client("s3")
    found = JobRecords(s3, config.BUCKET).get_many(list(list_records(s3, config.BUCKET)))
    return {job.id: job for job in found if job is not None}


def bucket_versions(stack) -> list[tuple[str, str]]:
    s3 = stack.client("s3")
    out = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=config.BUCKET):
        out += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    return sorted(out)


def live_etag(stack) -> str:
    cf = stack.client("cloudfront")
    return cf.describe_function(Name=config.FUNCTION_NAME, Stage="LIVE")["ETag"]


def test_no_import_errors(airflow_db):
    bag = _bag()
    assert bag.import_errors == {}
    assert {"qdn_release"} <= set(bag.dag_ids)


def test_task_graph_is_the_designs(airflow_db):
    dag = _bag().get_dag("qdn_release")
    edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    assert edges == set(EDGES)
    assert dag.max_active_runs == 1
    assert "quickdumpnow" in dag.tags and dag.doc_md
    assert all(t.owner == "ops" for t in dag.tasks)
    assert dag.get_task("invalidate").deferrable is True


def test_the_params_form_is_the_job_model_s_fields(airflow_db):
    from qdn.jobs.model import NewJob
    from qdn.release_params import JOB_PREFIX, job_param_specs

    params = _bag().get_dag("qdn_release").params
    job_params = {k for k in params if k.startswith(JOB_PREFIX)}
    assert job_params == {JOB_PREFIX + f for f in NewJob.model_fields} == set(job_param_specs())
    assert params["allow_duplicate_job"] is False and params["order_reference"] is None
    for name, spec in job_param_specs().items():
        assert params.get_param(name).schema.get("format") == spec.get("format"), name


@pytest.mark.parametrize("dag_id", ["qdn_release", "qdn_rollback"])
def test_every_optional_param_can_be_left_empty_in_the_form(airflow_db, dag_id):
    # Airflow's trigger form marks a param whose type does not admit null as required, and keeps
    # Trigger disabled while it is empty: a param meant to be left empty must admit null.
    params = _bag().get_dag(dag_id).params
    for name in params:
        param = params.get_param(name)
        if param.value in (None, ""):
            types = param.schema.get("type")
            assert "null" in (types if isinstance(types, list) else [types]), (name, types)


def test_release_happy_path(release_dag, airflow_env, tmp_path):
    stack = airflow_env
    before = live_build(stack)
    build_id = stage_variant(stack, tmp_path, "happy-path")
    # Warm both edges with the old shell: the release must not leave customers on it.
    for alias in config.DISTRIBUTION_ALIASES:
        http_get(stack.edge_url(alias) + "/track/" + "w" * 32)

    dag_run, states = run(release_dag, mark_job())
    assert states == dict.fromkeys(states, "success"), states

    promoted = task_result(dag_run, "promote_content")
    assert promoted["promoted"] is True and promoted["build_id"] == build_id
    assert promoted["build_before"] == before and live_build(stack) == build_id
    job_id = task_result(dag_run, "upload_job")["job_ids"][0]
    job = all_jobs(stack)[job_id]
    assert job.customer.name == "Mark" and job.status.value == "ready_for_pickup"
    assert len(job.token) >= 22

    invalidated = task_result(dag_run, "invalidate")
    assert {i["alias"] for i in invalidated["invalidations"]} == set(config.DISTRIBUTION_ALIASES)
    cf = stack.client("cloudfront")
    for inv in invalidated["invalidations"]:
        got = cf.get_invalidation(DistributionId=inv["distribution_id"], Id=inv["invalidation_id"])
        paths = got["Invalidation"]["InvalidationBatch"]["Paths"]["Items"]
        # Content has its own cache keys per build: only the new job's API path is evicted.
        assert paths == [f"{config.TRACK_API_PREFIX}{job.token}"]
        assert got["Invalidation"]["Status"] == "Completed"
    # Tokens never travel through XCom, where the UI shows them.
    assert job.token not in repr([task_result(dag_run, t) for t in states])

    for alias in config.DISTRIBUTION_ALIASES:
        shell = http_get(f"{stack.edge_url(alias)}/track/{job.token}")
        assert shell.status == 200 and build_id.encode() in shell.body
    stored = read_manifest(stack.client("s3"), config.BUCKET, dag_run.run_id)
    assert stored is not None
    manifest = stored.manifest
    assert (manifest.content.build_before, manifest.content.build_after) == (before, build_id)
    assert read_history(stack.client("s3"), config.BUCKET).releases[0].run_id == dag_run.run_id
    assert manifest.function.name == config.FUNCTION_NAME
    assert [c.job_id for c in manifest.jobs.changes] == [job.id]
    assert job.token not in stored.manifest.to_json_bytes().decode()
    assert set(manifest.invalidations) == {
        i["distribution_id"] for i in invalidated["invalidations"]
    }


def test_second_release_changes_only_the_new_job(release_dag, airflow_env, tmp_path):
    stack = airflow_env
    stage_variant(stack, tmp_path, "steady")
    run(release_dag, mark_job())
    before = live_etag(stack)

    dag_run, states = run(release_dag, mark_job(job_customer_name="Ana"))
    assert states == dict.fromkeys(states, "success"), states
    assert task_result(dag_run, "publish_function")["published"] is False
    assert task_result(dag_run, "promote_content")["promoted"] is False
    paths = task_result(dag_run, "invalidate")["paths"]
    assert len(paths) == 1 and paths[0].startswith(config.TRACK_API_PREFIX)
    assert live_etag(stack) == before


def test_job_upload_survives_a_racing_writer(release_dag, airflow_env):
    from qdn.jobs.model import NewJob
    from qdn.jobs.store import JobStore

    stack = airflow_env
    store = JobStore(stack.client("s3"), stack.client("logs"))
    stop = threading.Event()
    written: list[str] = []

    def dispatcher() -> None:
        n = 0
        while not stop.is_set() and n < 40:
            n += 1
            new = NewJob(
                customer_name=f"Racer {n}", location="Elm St", service_date=date.today(),
                price="100.00",
            )  # fmt: skip
            written.append(store.create(new, idempotency_key=f"racer-{n}-{id(stop)}").job.id)

    racer = threading.Thread(target=dispatcher)
    racer.start()
    try:
        dag_run, states = run(release_dag, mark_job(job_customer_name="Concurrent"))
    finally:
        stop.set()
        racer.join(timeout=60)
    assert states["upload_job"] == "success"
    jobs = all_jobs(stack)
    ours = task_result(dag_run, "upload_job")["job_ids"][0]
    assert ours in jobs
    assert written and all(j in jobs for j in written)


def test_retry_after_crash_between_write_and_return_makes_no_duplicate(
    release_dag, airflow_env, monkeypatch
):
    from botocore.exceptions import EndpointConnectionError

    from qdn.jobs.store import JobStore

    original = JobStore.create
    calls = {"n": 0}

    def crash_after_write(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            # The write landed; the connection dropped before the task could return.
            raise EndpointConnectionError(endpoint_url="http://s3")
        return result

    monkeypatch.setattr(JobStore, "create", crash_after_write)
    when = datetime.now(UTC).replace(microsecond=0)
    dag_run, states = run(release_dag, mark_job(job_customer_name="Retried"), logical_date=when)
    assert states["upload_job"] == "success", states
    assert calls["n"] == 2
    result = task_result(dag_run, "upload_job")
    assert result["created"] is False
    named = [j for j in all_jobs(airflow_env).values() if j.customer.name == "Retried"]
    assert len(named) == 1


def test_skipped_invalidation_with_a_cached_404_fails_the_smoke_check(
    release_dag, airflow_env, monkeypatch, capfd
):
    """The seed's failure: a customer opened the link before the job existed, the edge cached
    the track API's 404, and without the invalidation the customer keeps seeing it."""
    from qdn.jobs import model
    from qdn.jobs.store import JobStore

    stack = airflow_env
    token = model.new_token()
    monkeypatch.setattr(model, "new_token", lambda: token)
    original = JobStore.create

    def opened_early(self, *args, **kwargs):
        # The customer opens the link a moment before the job is written (within the edge's
        # 10 s error-caching TTL of the smoke check).
        for alias in config.DISTRIBUTION_ALIASES:
            url = f"{stack.edge_url(alias)}{config.TRACK_API_PREFIX}{token}"
            assert http_get(url).status == 404
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JobStore, "create", opened_early)
    monkeypatch.setenv("AIRFLOW_VAR_QDN_SMOKE_DEADLINE", "3")
    dag_run = release_dag.test(
        run_conf=mark_job(job_customer_name="Early Bird"), mark_success_pattern="invalidate"
    )
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states["smoke_check"] == "failed", states
    out = "".join(capfd.readouterr())
    # A cached error, as CloudFront labels it; the token itself never reaches the log.
    assert "got 404 (X-Cache: Error from cloudfront" in out and token not in out


def test_gate_failure_publishes_nothing(release_dag, airflow_env, tmp_path, monkeypatch):
    stack = airflow_env
    # A wrong query key: every route case fails the gate.
    broken = changed_cf(tmp_path, lambda js: js.replace("original_path", "original_paht"))
    monkeypatch.setenv("AIRFLOW_VAR_QDN_CF_DIR", str(broken))
    before, versions = live_etag(stack), bucket_versions(stack)
    _dag_run, states = run(release_dag, mark_job())
    assert states["publish_function"] == "failed"
    assert {states[t] for t in states if t != "publish_function"} == {"upstream_failed"}
    assert live_etag(stack) == before
    assert bucket_versions(stack) == versions


def test_an_incomplete_build_is_refused_before_the_pointer_moves(
    release_dag, airflow_env, tmp_path, capfd
):
    stack = airflow_env
    build_id = stage_variant(stack, tmp_path, "incomplete")
    s3 = stack.client("s3")
    shell = staging.build_prefix(build_id) + "index.html"
    s3.delete_object(Bucket=config.BUCKET, Key=shell)
    before = live_build(stack)
    _dag_run, states = run(release_dag, {"build_id": build_id})
    assert states["promote_content"] == "failed", states
    assert live_build(stack) == before
    out = "".join(capfd.readouterr())
    assert f"build {build_id} is incomplete" in out and "missing index.html" in out


BAD_PARAMS = {
    "build_id": {"build_id": "../../etc"},
    "distributions": {"distributions": ["evil.example.com"]},
    "job_price": mark_job(job_price="600.001"),
    "job_price_negative": mark_job(job_price="-5.00"),
    "job_service_date": mark_job(job_service_date="2026-02-30"),
    "job_status": mark_job(job_status="completed"),
    "job_customer_name": mark_job(job_customer_name=" "),
    "dry_run": {"dry_run": "yes"},
    "order_reference": mark_job(order_reference="ORD 1042"),
    "allow_duplicate_job": mark_job(allow_duplicate_job="yes"),
}


@pytest.mark.parametrize("field", sorted(BAD_PARAMS))
def test_bad_params_are_refused_with_nothing_written(release_dag, airflow_env, field, capfd):
    stack = airflow_env
    before, versions = live_etag(stack), bucket_versions(stack)
    try:
        _dag_run, states = run(release_dag, BAD_PARAMS[field])
    except Exception as err:  # refused by the Params schema before the run was created
        assert field.split("_negative")[0] in str(err)
    else:
        assert states["publish_function"] == "failed", states
        assert field.split("_negative")[0] in "".join(capfd.readouterr())
    assert live_etag(stack) == before
    assert bucket_versions(stack) == versions


def test_dry_run_changes_nothing(release_dag, airflow_env, tmp_path, capfd):
    stack = airflow_env
    build_id = stage_variant(stack, tmp_path, "dry-run")
    before, versions, live = live_etag(stack), bucket_versions(stack), live_build(stack)
    _dag_run, states = run(release_dag, mark_job(dry_run=True))
    assert states == dict.fromkeys(states, "success"), states
    assert live_etag(stack) == before and live_build(stack) == live
    assert bucket_versions(stack) == versions
    out = "".join(capfd.readouterr())
    assert f"dry run: would write live = {build_id} (was {live})" in out


def test_changed_function_is_published_and_the_previous_code_kept(
    release_dag, airflow_env, tmp_path, monkeypatch
):
    stack = airflow_env
    cf = stack.client("cloudfront")
    changed = changed_cf(tmp_path, lambda js: js + "\n// harmless change: a comment\n")
    js = changed / f"{config.FUNCTION_NAME}.js"
    monkeypatch.setenv("AIRFLOW_VAR_QDN_CF_DIR", str(changed))
    before_code = cf.get_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionCode"].read()
    before_etag = live_etag(stack)
    live = live_build(stack)

    dag_run, states = run(release_dag, {})
    assert states == dict.fromkeys(states, "success"), states
    published = task_result(dag_run, "publish_function")
    assert published["published"] is True and published["previous_live_etag"] == before_etag
    code = cf.get_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionCode"].read()
    assert code == render(js.read_bytes(), live)  # the build live now is its fallback
    section = read_manifest(stack.client("s3"), config.BUCKET, dag_run.run_id).manifest.function
    s3 = stack.client("s3")
    for sha, body in ((section.previous_live_sha256, before_code), (section.live_sha256, code)):
        kept = s3.get_object(Bucket=config.BUCKET, Key=function_code_key(sha))
        assert kept["Body"].read() == body

    # And back to the repo's code, so later tests start from it.
    monkeypatch.delenv("AIRFLOW_VAR_QDN_CF_DIR")
    _dag_run, states = run(release_dag, {})
    assert states["publish_function"] == "success"
    live_code = cf.get_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionCode"].read()
    assert canonical(live_code) == (REPO_ROOT / "cf" / f"{config.FUNCTION_NAME}.js").read_bytes()

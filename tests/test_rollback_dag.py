"""qdn_rollback as real Airflow DAG runs against the local stack, and a crawler that reads every
page and its assets through both edges during a release and a rollback."""

from __future__ import annotations

import hashlib
import itertools
import threading

import pytest

from localaws.airflow_local import task_result
from localaws.demo import changed_cf, changed_site
from qdn import config, headers, staging
from qdn.headers import FINGERPRINTED
from qdn.release_manifest import read_history, read_manifest
from qdn.smoke import BUILD_ID_RE, PINNED_ASSET_RE, http_get
from tests.test_release_dag import _bag, live_build, live_etag, run, stage_variant

pytestmark = pytest.mark.airflow


@pytest.fixture
def dags(airflow_db, airflow_env):
    bag = _bag()
    assert not bag.import_errors
    return bag.get_dag("qdn_release"), bag.get_dag("qdn_rollback")


def invalidation_count(stack) -> int:
    cf = stack.client("cloudfront")
    total = 0
    for dist in cf.list_distributions()["DistributionList"]["Items"]:
        listed = cf.list_invalidations(DistributionId=dist["Id"])["InvalidationList"]
        total += listed.get("Quantity", 0)
    return total


def serves(stack, build_id: str) -> bool:
    return all(
        f'content="{build_id}"'.encode() in http_get(stack.edge_url(a) + "/").body
        for a in config.DISTRIBUTION_ALIASES
    )


def test_task_graph(dags):
    _, rollback = dags
    edges = {(t.task_id, d) for t in rollback.tasks for d in t.downstream_task_ids}
    assert edges == {
        ("resolve_target", "publish_function"),
        ("publish_function", "switch_pointer"),
        ("switch_pointer", "smoke_check"),
    }
    assert rollback.max_active_runs == 1
    assert "target" in rollback.params and rollback.params["target"] is None  # the previous release


def test_rollback_moves_the_pointer_back_without_invalidating_and_can_be_undone(
    dags, airflow_env, tmp_path
):
    release, rollback = dags
    stack = airflow_env
    before = live_build(stack)
    new = stage_variant(stack, tmp_path, "to-roll-back")
    _, states = run(release, {})
    assert states == dict.fromkeys(states, "success"), states
    assert live_build(stack) == new
    invalidations = invalidation_count(stack)

    back, states = run(rollback, {})
    assert states == dict.fromkeys(states, "success"), states
    assert live_build(stack) == before and serves(stack, before)
    assert invalidation_count(stack) == invalidations  # content needs none: own cache keys
    target = task_result(back, "resolve_target")
    assert target["build_id"] == before and "live before" in target["why"]
    manifest = read_manifest(stack.client("s3"), config.BUCKET, back.run_id).manifest
    assert manifest.content.kind == "rollback"
    assert (manifest.content.build_before, manifest.content.build_after) == (new, before)
    head = read_history(stack.client("s3"), config.BUCKET).releases[0]
    assert (head.run_id, head.kind) == (back.run_id, "rollback")

    # A rollback is itself rolled back by the next one: back to the release.
    _again, states = run(rollback, {})
    assert states == dict.fromkeys(states, "success"), states
    assert live_build(stack) == new and serves(stack, new)


def test_rollback_restores_the_function_the_target_ran(dags, airflow_env, tmp_path, monkeypatch):
    release, rollback = dags
    stack = airflow_env
    cf = stack.client("cloudfront")
    code_before = cf.get_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionCode"].read()
    stage_variant(stack, tmp_path, "with-new-function")
    changed = changed_cf(tmp_path, lambda js: js + "\n// a function change to roll back\n")
    monkeypatch.setenv("AIRFLOW_VAR_QDN_CF_DIR", str(changed))
    _, states = run(release, {})
    assert states == dict.fromkeys(states, "success"), states
    assert (
        live_etag(stack)
        and b"roll back"
        in cf.get_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionCode"].read()
    )

    monkeypatch.delenv("AIRFLOW_VAR_QDN_CF_DIR")
    back, states = run(rollback, {})
    assert states == dict.fromkeys(states, "success"), states
    assert task_result(back, "publish_function")["published"] is True
    live_code = cf.get_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionCode"].read()
    assert live_code == code_before  # byte for byte, its fallback included


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("build-000000000000", "never staged completely"),
        ("manual__no-such-run", "neither a build id"),
    ],
)
def test_rollback_refuses_a_target_it_cannot_restore(dags, airflow_env, target, message, capfd):
    _, rollback = dags
    stack = airflow_env
    before, etag = live_build(stack), live_etag(stack)
    _, states = run(rollback, {"target": target})
    assert states["resolve_target"] == "failed", states
    assert {states[t] for t in states if t != "resolve_target"} == {"upstream_failed"}
    assert live_build(stack) == before and live_etag(stack) == etag
    out = "".join(capfd.readouterr())
    assert "rollback refused, nothing changed" in out and message in out
    assert "on record:" in out  # the choices were listed


def test_rollback_dry_run_changes_nothing(dags, airflow_env, tmp_path, capfd):
    release, rollback = dags
    stack = airflow_env
    stage_variant(stack, tmp_path, "dry-rollback")
    run(release, {})
    live = live_build(stack)
    _, states = run(rollback, {"dry_run": True})
    assert states == dict.fromkeys(states, "success"), states
    assert live_build(stack) == live
    assert f"(was {live})" in "".join(capfd.readouterr())


def _crawl(stack, stop: threading.Event, seen: list, problems: list) -> None:
    """Every page with all its pinned assets, over and over, through both edges."""
    while not stop.is_set():
        for alias in config.DISTRIBUTION_ALIASES:
            base = stack.edge_url(alias)
            for path in ("/", "/book/", "/track/" + "c" * 32):
                page = http_get(base + path)
                if page.status != 200:
                    problems.append(f"{alias}{path}: {page.status}")
                    continue
                text = page.body.decode("utf-8", "replace")
                build = BUILD_ID_RE.search(text)[1]
                seen.append((alias, build))
                refs = PINNED_ASSET_RE.findall(text)
                if not refs:
                    problems.append(f"{alias}{path} ({build}) references no pinned asset")
                for url in refs:
                    asset = http_get(base + url)
                    digest = hashlib.sha256(asset.body).hexdigest()[: headers.FINGERPRINT_DIGITS]
                    named = FINGERPRINTED.search(url)[0]  # ".<10 hex>.<ext>"
                    if asset.status != 200 or not named.startswith(f".{digest}."):
                        problems.append(
                            f"{alias}{path} of {build}: {url} -> {asset.status}, sha {digest}"
                        )


def test_a_crawler_never_sees_a_page_with_another_build_s_assets(dags, airflow_env, tmp_path):
    release, rollback = dags
    stack = airflow_env
    old = live_build(stack)
    # A change to the script: the new build's pages load an asset the old build does not have.
    workdir = tmp_path / "crawl"
    workdir.mkdir()
    site = changed_site(workdir, "crawled")
    script = site / "assets" / "app.js"
    script.write_text(script.read_text() + "\n// crawled release\n")
    new = staging.stage(stack.client("s3"), site).build_id

    seen: list[tuple[str, str]] = []
    problems: list[str] = []
    stop = threading.Event()
    crawler = threading.Thread(target=_crawl, args=(stack, stop, seen, problems))
    crawler.start()
    try:
        _, states = run(release, {})
        assert states == dict.fromkeys(states, "success"), states
        _, states = run(rollback, {})
        assert states == dict.fromkeys(states, "success"), states
    finally:
        stop.set()
        crawler.join(timeout=60)
    assert not problems, problems[:10]
    assert {b for _, b in seen} == {old, new}
    for alias in config.DISTRIBUTION_ALIASES:
        order = [b for a, b in seen if a == alias]
        flips = sum(1 for x, y in itertools.pairwise(order) if x != y)
        # old ... new ... old: each edge switched once each way, never back and forth.
        assert flips == 2 and order[0] == order[-1] == old, (alias, flips)

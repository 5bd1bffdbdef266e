"""Release = one write of the live pointer: the switch, its refusals, retries and request budget,
against moto and the local CloudFront's KeyValueStore over HTTP (a bucket and store per test)."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localaws.request_counter import RequestCounter
from qdn import config, release_manifest, retention, staging
from qdn.live_pointer import PointerConflict, read_pointer
from qdn.plan import ApplyExecutor, DisplayExecutor, execute
from qdn.switch import Switcher, SwitchError, plan_switch
from tests.test_staging import _site, big_site


class Place:
    """A bucket and a store of its own, so tests never move the session's live pointer."""

    def __init__(self, aws_stack) -> None:
        self.s3 = aws_stack.client("s3")
        self.kvs = aws_stack.client("cloudfront-keyvaluestore")
        self.bucket = f"switch-{uuid.uuid4().hex[:10]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_bucket_versioning(
            Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        store = aws_stack.client("cloudfront").create_key_value_store(Name=self.bucket)
        self.arn = store["KeyValueStore"]["ARN"]

    def stage(self, source: Path) -> str:
        return staging.stage(self.s3, source, self.bucket).build_id

    def plan(self, build_id: str, run_id: str, **kw):
        return plan_switch(
            self.s3, self.kvs, self.bucket, kvs_arn=self.arn, run_id=run_id, build_id=build_id, **kw
        )

    def apply(self, plan, facts, only: tuple[str, ...] | None = None):
        switcher = Switcher(self.s3, self.kvs, self.bucket, facts)
        handlers = switcher.handlers()
        if only is not None:
            handlers = {k: v for k, v in handlers.items() if k in only}
            plan = type(plan)(plan.step, tuple(a for a in plan.actions if a.kind in only))
        execute(plan, ApplyExecutor(handlers))
        return facts

    def release(self, build_id: str, run_id: str):
        return self.apply(*self.plan(build_id, run_id))

    @property
    def live(self) -> str | None:
        return read_pointer(self.kvs, self.arn, config.LIVE_POINTER_KEY).value


@pytest.fixture
def place(aws_stack) -> Place:
    return Place(aws_stack)


def test_a_release_is_one_pointer_write_recorded_in_manifest_and_history(place, tmp_path):
    a = place.stage(_site(tmp_path / "a"))
    first = place.release(a, "run-a")
    assert first.switched and first.build_before is None and place.live == a
    b = place.stage(_site(tmp_path / "b", js="console.log(2);"))
    plan, facts = place.plan(b, "run-b")
    assert [x.kind for x in plan.actions][:3] == ["record", "switch", "finish"]
    place.apply(plan, facts)
    assert place.live == b and facts.build_before == a and facts.verified_files == 4

    content = release_manifest.read_manifest(place.s3, place.bucket, "run-b").manifest.content
    assert (content.build_before, content.build_after) == (a, b)
    assert content.switched_at and content.pointer_etag_after == facts.pointer_etag_after
    head = release_manifest.read_history(place.s3, place.bucket).releases[0]
    assert (head.run_id, head.build_id, head.previous_build) == ("run-b", b, a)
    # b's pages load the unchanged css from a's folder: a must outlive any expiry of a.
    assert head.asset_builds == [a]


def test_releasing_the_live_build_again_plans_nothing(place, tmp_path):
    a = place.stage(_site(tmp_path))
    place.release(a, "run-1")
    plan, facts = place.plan(a, "run-2")
    assert plan.is_noop and not facts.switched and "already live" in facts.summary()
    assert release_manifest.read_manifest(place.s3, place.bucket, "run-2") is None


def test_an_incomplete_build_is_refused_and_nothing_is_written(place, tmp_path):
    a = place.stage(_site(tmp_path / "a"))
    place.release(a, "run-a")
    b = place.stage(_site(tmp_path / "b", js="console.log(3);"))
    prefix = staging.build_prefix(b)
    victim = next(k for k in staging.list_prefix(place.s3, place.bucket, prefix) if ".js" in k)
    place.s3.delete_object(Bucket=place.bucket, Key=prefix + victim)
    with pytest.raises(SwitchError, match=f"incomplete.*missing {victim}.*stage the site again"):
        place.plan(b, "run-b")
    never = "build-000000000000"
    with pytest.raises(SwitchError, match="never staged completely"):
        place.plan(never, "run-c")
    assert place.live == a
    assert release_manifest.read_manifest(place.s3, place.bucket, "run-b") is None


def test_a_lost_race_on_the_pointer_fails_without_a_record_of_success(place, tmp_path):
    a = place.stage(_site(tmp_path / "a"))
    b = place.stage(_site(tmp_path / "b", js="console.log(4);"))
    place.release(a, "run-a")
    plan, facts = place.plan(b, "run-b")
    state = read_pointer(place.kvs, place.arn, config.LIVE_POINTER_KEY)
    place.kvs.put_key(KvsARN=place.arn, Key="other", Value="x", IfMatch=state.etag)
    with pytest.raises(PointerConflict, match="changed since it was read"):
        place.apply(plan, facts)
    assert place.live == a
    assert release_manifest.read_history(place.s3, place.bucket).releases[0].run_id == "run-a"
    place.release(b, "run-b")  # the retry re-reads and wins
    assert place.live == b


def test_a_retry_after_the_write_only_finishes_the_bookkeeping(place, tmp_path):
    a = place.stage(_site(tmp_path / "a"))
    b = place.stage(_site(tmp_path / "b", js="console.log(5);"))
    place.release(a, "run-a")
    plan, facts = place.plan(b, "run-b")
    place.apply(plan, facts, only=("record", "switch"))  # the task died right after the write
    assert place.live == b
    again, facts2 = place.plan(b, "run-b")
    assert again.actions[0].kind == "finish"
    assert facts2.switched and facts2.build_before == a
    place.apply(again, facts2)
    head = release_manifest.read_history(place.s3, place.bucket).releases[0]
    assert (head.run_id, head.previous_build) == ("run-b", a)


def test_dry_run_prints_the_plan_and_writes_nothing(place, tmp_path):
    a = place.stage(_site(tmp_path))
    plan, _ = place.plan(a, "run-dry")
    shown = DisplayExecutor()
    execute(plan, shown)
    assert any(line.startswith(f"write live = {a}") for line in shown.shown)
    assert place.live is None
    assert release_manifest.read_manifest(place.s3, place.bucket, "run-dry") is None


def test_no_op_release_costs_the_same_on_5_and_2000_objects(aws_stack, tmp_path):
    costs = {}
    for size, pages in (("small", 0), ("big", 1996)):
        place = Place(aws_stack)
        build = place.stage(big_site(tmp_path / size, pages))
        place.release(build, "first")
        counter = RequestCounter(place.s3, place.kvs)
        staging.stage(place.s3, tmp_path / size, place.bucket)  # staging an unchanged site
        plan, _ = place.plan(staging.read_latest(place.s3, place.bucket), "again")
        assert plan.is_noop
        costs[size] = dict(counter.counts)
    assert costs["small"] == costs["big"]
    assert sum(costs["big"].values()) <= 8, costs["big"]


def test_a_real_switch_reads_a_listing_not_the_objects(aws_stack, tmp_path):
    place = Place(aws_stack)
    base = place.stage(big_site(tmp_path / "a", 1996))
    place.release(base, "first")
    changed = place.stage(big_site(tmp_path / "b", 1996, variant=" v2"))
    counter = RequestCounter(place.s3, place.kvs)
    place.release(changed, "second")
    counts = counter.counts
    assert "HeadObject" not in counts
    assert counts["ListObjectsV2"] == 2 + 1  # the build's 2,000 files (two pages), builds/
    assert counts["PutKey"] == 1
    assert counter.total <= 20, dict(counts)


def test_retention_keeps_what_a_rollback_needs_and_expires_the_rest():
    now = datetime.now(UTC)
    old, fresh = now - timedelta(days=3), now - timedelta(hours=1)
    ids = [f"build-{i:012x}" for i in range(8)]
    history = release_manifest.History(
        releases=[
            release_manifest.HistoryEntry(
                run_id="r2", build_id=ids[2], previous_build=ids[1], asset_builds=[ids[0]]
            ),
            release_manifest.HistoryEntry(run_id="r1", build_id=ids[1], previous_build=ids[0]),
        ]
    )
    keep = retention.kept_builds(history, live=ids[2], also=(ids[3],), keep_releases=1)
    assert keep == {ids[0], ids[1], ids[2], ids[3]}
    builds = [retention.StagedBuild(b, old) for b in ids[:6]]
    builds += [retention.StagedBuild(ids[6], fresh), retention.StagedBuild(ids[7], None)]
    assert retention.expiring_builds(builds, keep, now=now) == [ids[4], ids[5]]
    rules = retention.desired_rules([{"ID": "theirs", "Status": "Enabled"}], [ids[4]])
    assert [r["ID"] for r in rules] == [
        "theirs",
        retention.NONCURRENT_RULE_ID,
        retention.RULE_PREFIX + ids[4],
    ]
    assert rules[2]["Filter"] == {"Prefix": config.BUILDS_PREFIX + ids[4]}


def test_expiry_rules_are_accepted_by_s3_and_keep_the_bucket_s_own(place):
    place.s3.put_bucket_lifecycle_configuration(
        Bucket=place.bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "reports",
                    "Filter": {"Prefix": config.REPORTS_PREFIX},
                    "Status": "Enabled",
                    "Expiration": {"Days": 90},
                }
            ]
        },
    )
    current = retention.read_rules(place.s3, place.bucket)
    rules = retention.desired_rules(current, ["build-0123456789ab"])
    assert retention.rules_differ(current, rules)
    retention.put_rules(place.s3, place.bucket, rules)
    after = retention.read_rules(place.s3, place.bucket)
    assert {r["ID"] for r in after} == {
        "reports",
        retention.NONCURRENT_RULE_ID,
        retention.RULE_PREFIX + "build-0123456789ab",
    }
    assert not retention.rules_differ(after, rules)


def switch_live(stack, build_id: str, run_id: str) -> None:
    """Make ``build_id`` the session's live build, as a release would, and wait until every edge
    serves it (the store reaches the edges after its propagation delay)."""
    from qdn.smoke import BUILD_ID_RE, http_get

    s3, kvs = stack.client("s3"), stack.client("cloudfront-keyvaluestore")
    arn = stack.client("cloudfront").describe_key_value_store(Name=config.KVS_NAME)[
        "KeyValueStore"
    ]["ARN"]
    plan, facts = plan_switch(s3, kvs, config.BUCKET, kvs_arn=arn, run_id=run_id, build_id=build_id)
    execute(plan, ApplyExecutor(Switcher(s3, kvs, config.BUCKET, facts).handlers()))
    deadline = time.monotonic() + 10  # the propagation delay, with room for a loaded machine
    for alias in config.DISTRIBUTION_ALIASES:
        while True:
            body = http_get(stack.edge_url(alias) + "/book/").body.decode()
            if BUILD_ID_RE.search(body)[1] == build_id:
                break
            assert time.monotonic() < deadline, f"{alias} still serves another build"
            time.sleep(0.2)


def test_an_unreadable_store_at_the_edge_serves_the_compiled_in_fallback(released_site, tmp_path):
    """The session's own site: the function was published with the build live then as its
    fallback; once the pointer names another build, an edge that cannot read the store serves
    the fallback's pages — a whole, older release — never an error page."""
    from qdn.function_release import fallback_of
    from qdn.smoke import BUILD_ID_RE, http_get
    from tests.localaws.cloudfront_support import set_edge_readable

    stack = released_site.stack
    cf = stack.client("cloudfront")
    code = cf.get_function(Name=config.FUNCTION_NAME, Stage="LIVE")["FunctionCode"].read()
    fallback = fallback_of(code)
    before = released_site.build_id
    if before == fallback:  # make the pointer name another build first
        site = _site(tmp_path, js="console.log('fallback test');")
        switch_live(stack, staging.stage(stack.client("s3"), site).build_id, "fallback-test")
    live = released_site.build_id
    assert live != fallback
    edge = released_site.url()

    def shell_build() -> str:
        page = http_get(edge + "/book/")
        assert page.status == 200
        return BUILD_ID_RE.search(page.body.decode())[1]

    deadline = time.monotonic() + 10  # the propagation delay, with room for a loaded machine
    while shell_build() != live and time.monotonic() < deadline:
        time.sleep(0.2)
    assert shell_build() == live
    assert set_edge_readable(stack.cloudfront_url, config.KVS_NAME, False).status == 200
    try:
        assert shell_build() == fallback
    finally:
        set_edge_readable(stack.cloudfront_url, config.KVS_NAME, True)
    assert shell_build() == live
    if live != before:  # the site the later tests expect
        switch_live(stack, before, "fallback-test-back")


def test_the_smoke_check_loads_the_shell_s_assets_and_names_one_that_is_gone(
    released_site, tmp_path
):
    from qdn.smoke import Expectation, smoke_check

    stack = released_site.stack
    s3 = stack.client("s3")
    before = released_site.build_id
    build = staging.stage(s3, _site(tmp_path, js="console.log('smoke assets');")).build_id
    switch_live(stack, build, "smoke-assets")
    expect = Expectation(build_id=build)
    edge = released_site.url()
    assert smoke_check(edge, expect, deadline=10).ok  # the shell and every asset it loads

    manifest = staging.read_build_manifest(s3, build)
    script = next(p for p in manifest.files if p.endswith(".js"))
    key = staging.build_prefix(build) + script
    marker = s3.delete_object(Bucket=config.BUCKET, Key=key)["VersionId"]
    try:
        report = smoke_check(released_site.url("www.quickdumpnow.com"), expect, deadline=1)
        assert not report.ok
        gone = re.compile(rf"{re.escape(build)}/{re.escape(script)} answered 40[34]")
        assert any(gone.search(f) for f in report.failures), report.failures
    finally:
        s3.delete_object(Bucket=config.BUCKET, Key=key, VersionId=marker)  # the file is back
        switch_live(stack, before, "smoke-assets-back")  # the site the later tests expect

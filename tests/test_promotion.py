"""Promotion against a real moto S3 over HTTP: plan by content hash, apply in order, retry."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import boto3
import pytest

from qdn import config, headers, release_manifest, staging
from qdn.promotion import (
    BUILD_ID_META,
    CHANGED,
    HEADERS,
    NEW,
    PromotionError,
    PromotionPlan,
    apply_deletions,
    apply_promotion,
    describe,
    plan_promotion,
)

SHELL = (
    '<meta name="qdn-build-id" content="__QDN_BUILD_ID__">'
    '<link rel="stylesheet" href="/assets/app.css"><script src="/assets/app.js"></script>'
)
BASE = {
    "index.html": SHELL,
    "assets/app.js": "console.log(1);",
    "assets/app.css": "body{}",
    "robots.txt": "User-agent: *\n",
}


def write_site(root: Path, files: dict[str, str]) -> Path:
    for path, body in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
    return root


@pytest.fixture
def s3(moto_url):
    client = boto3.client("s3", endpoint_url=moto_url)
    bucket = f"promo-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return client, bucket


@pytest.fixture
def stage(s3, tmp_path):
    """Stage a site made of BASE plus ``changes`` (a value of None removes a file)."""
    client, bucket = s3
    count = iter(range(1000))

    def _stage(changes: dict[str, str | None] | None = None) -> str:
        files = {**BASE, **(changes or {})}
        files = {p: b for p, b in files.items() if b is not None}
        root = write_site(tmp_path / f"site{next(count)}", files)
        return staging.stage(client, root, bucket).build_id

    return _stage


def versions(client, bucket) -> set[tuple[str, str]]:
    """Every version and delete marker in the bucket: equal before and after means nothing was
    written."""
    listed = client.list_object_versions(Bucket=bucket)
    entries = listed.get("Versions", []) + listed.get("DeleteMarkers", [])
    return {(e["Key"], e["VersionId"]) for e in entries}


def production(client, bucket) -> dict[str, dict]:
    out = {}
    for obj in client.list_objects_v2(Bucket=bucket, Prefix=config.SITE_PREFIX).get("Contents", []):
        out[obj["Key"][len(config.SITE_PREFIX) :]] = client.head_object(
            Bucket=bucket, Key=obj["Key"]
        )
    return out


def manifest_of(client, bucket, run_id) -> release_manifest.ReleaseManifest:
    stored = release_manifest.read_manifest(client, bucket, run_id)
    assert stored is not None
    return stored.manifest


def promote(client, bucket, build_id, run_id, **plan_kwargs):
    plan = plan_promotion(client, bucket, build_id, **plan_kwargs)
    return plan, apply_promotion(client, bucket, plan, run_id=run_id)


def record_copy_calls(client) -> list[tuple[str, str]]:
    """(event, key) for every CopyObject the client sends and finishes, in order."""
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def before(params, **_):
        with lock:
            seen.append(("start", params["Key"]))

    def after(http_response, parsed, model, **_):
        # after-call carries no params; the copy's key is in the request URL.
        with lock:
            seen.append(("done", http_response.url.split("/", 4)[-1].split("?")[0]))

    client.meta.events.register("provide-client-params.s3.CopyObject", before)
    client.meta.events.register("after-call.s3.CopyObject", after)
    return seen


# --- planning -------------------------------------------------------------------------------------


def test_first_promotion_copies_everything(s3, stage):
    client, bucket = s3
    build = stage()
    plan, result = promote(client, bucket, build, "run-first")

    stats = plan.stats
    assert stats.new == 4 and stats.changed == stats.headers == stats.deleted == 0
    assert plan.build_before is None
    assert sorted(result.copied) == sorted(
        staging.read_build_manifest(client, build, bucket)["files"]
    )
    assert result.changed_keys == result.copied and result.deleted_keys == []

    prod = production(client, bucket)
    files = staging.read_build_manifest(client, build, bucket)["files"]
    assert set(prod) == set(files)
    for path, head in prod.items():
        assert head["Metadata"]["sha256"] == files[path]["sha256"]
        assert head["Metadata"][BUILD_ID_META] == build
        assert head["ContentType"] == headers.content_type_for(path)
        assert head["CacheControl"] == headers.cache_control_for(path)
        assert result.new_version_ids[path] == head["VersionId"]
    assert prod["index.html"]["CacheControl"] == headers.SHELL_CACHE_CONTROL
    js = next(p for p in prod if p.endswith(".js"))
    assert prod[js]["CacheControl"] == headers.ASSET_CACHE_CONTROL

    manifest = manifest_of(client, bucket, "run-first")
    assert manifest.content.build_after == build and manifest.content.build_before is None
    assert all(c.previous_version_id is None for c in manifest.content.changes.values())
    assert manifest.content.copies_completed_at is not None
    assert manifest.content.expected == {
        config.SITE_PREFIX + p: m["sha256"] for p, m in files.items()
    }
    assert release_manifest.latest_release(client, bucket).run_id == "run-first"


def test_unchanged_replan_copies_nothing(s3, stage):
    client, bucket = s3
    build = stage()
    promote(client, bucket, build, "run-1")
    before = versions(client, bucket)

    plan = plan_promotion(client, bucket, build)
    assert plan.is_noop and plan.stats.unchanged == 4
    assert plan.build_before == build
    assert "already serves" in plan.summary()
    assert versions(client, bucket) == before  # planning never writes


def test_one_file_change_copies_only_it_and_the_shell(s3, stage):
    client, bucket = s3
    promote(client, bucket, stage(), "run-1")
    # The shell carries the build id, so it changes with any file; the assets do not.
    build = stage({"robots.txt": "User-agent: *\nDisallow: /data/\n"})
    plan = plan_promotion(client, bucket, build)
    assert {s.path: s.reason for s in plan.copies()} == {
        "robots.txt": CHANGED,
        "index.html": CHANGED,
    }
    assert plan.stats.unchanged == 2 and not plan.deletions()


def test_changed_asset_is_new_and_its_old_name_deleted_later(s3, stage):
    client, bucket = s3
    promote(client, bucket, stage(), "run-1")
    old_js = next(p for p in production(client, bucket) if p.endswith(".js"))
    plan = plan_promotion(client, bucket, stage({"assets/app.js": "console.log(2);"}))
    new_js = next(s.path for s in plan.copies() if s.path.endswith(".js"))
    assert new_js != old_js
    assert {s.path: s.reason for s in plan.copies()} == {new_js: NEW, "index.html": CHANGED}
    assert plan.deleted_keys() == [old_js]


def test_header_drift_is_fixed(s3, stage):
    client, bucket = s3
    build = stage()
    promote(client, bucket, build, "run-1")
    key = config.SITE_PREFIX + "robots.txt"
    head = client.head_object(Bucket=bucket, Key=key)
    client.copy_object(  # someone "fixed" it by hand with the wrong headers
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": bucket, "Key": key},
        MetadataDirective="REPLACE",
        Metadata=head["Metadata"],
        ContentType="application/octet-stream",
        CacheControl="no-cache",
    )
    plan = plan_promotion(client, bucket, build)
    [step] = plan.copies()
    assert step.path == "robots.txt" and step.reason == HEADERS
    assert any("Cache-Control" in d for d in step.drift)
    assert any("Content-Type" in d for d in step.drift)

    apply_promotion(client, bucket, plan, run_id="run-2")
    fixed = client.head_object(Bucket=bucket, Key=key)
    assert fixed["CacheControl"] == headers.cache_control_for("robots.txt")
    assert fixed["ContentType"] == headers.content_type_for("robots.txt")
    assert plan_promotion(client, bucket, build).is_noop


def test_content_hash_decides_not_size_or_time(s3, stage):
    client, bucket = s3
    build = stage()
    promote(client, bucket, build, "run-1")
    key = config.SITE_PREFIX + "robots.txt"
    head = client.head_object(Bucket=bucket, Key=key)
    # Same size, newer, and still claiming the right sha256 in its metadata: the bytes differ.
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=body.upper(),
        Metadata=head["Metadata"],
        ContentType=head["ContentType"],
        CacheControl=head["CacheControl"],
    )
    [step] = plan_promotion(client, bucket, build).copies()
    assert step.path == "robots.txt" and step.reason == CHANGED


# --- refusals, with nothing written ---------------------------------------------------------------


def test_delete_cap_refuses_with_nothing_written(s3, stage):
    client, bucket = s3
    pages = {f"page{i}.txt": f"page {i}" for i in range(5)}
    promote(client, bucket, stage(pages), "run-1")
    build = stage({**pages, "page0.txt": None, "page1.txt": None})
    before = versions(client, bucket)

    with pytest.raises(PromotionError) as err:
        plan_promotion(client, bucket, build, delete_cap=1)
    assert "delete 2 objects" in str(err.value) and "cap of 1" in str(err.value)
    assert "delete_cap=2" in str(err.value)
    assert versions(client, bucket) == before

    assert plan_promotion(client, bucket, build, delete_cap=2).deleted_keys() == [
        "page0.txt",
        "page1.txt",
    ]


def test_mass_delete_of_pages_needs_an_explicit_override(s3, stage):
    client, bucket = s3
    pages = {f"page{i}.txt": f"page {i}" for i in range(5)}
    promote(client, bucket, stage(pages), "run-1")  # 7 unfingerprinted files in production
    build = stage()  # drops 5 of them
    before = versions(client, bucket)
    with pytest.raises(PromotionError, match="allow_mass_delete=True"):
        plan_promotion(client, bucket, build)
    assert versions(client, bucket) == before
    assert len(plan_promotion(client, bucket, build, allow_mass_delete=True).deletions()) == 5


def test_tampered_staged_object_is_refused_with_nothing_written(s3, stage):
    client, bucket = s3
    promote(client, bucket, stage(), "run-1")
    build = stage({"robots.txt": "User-agent: *\nDisallow: /x\n"})
    key = staging.build_prefix(build) + "robots.txt"
    head = client.head_object(Bucket=bucket, Key=key)
    # Overwritten with other bytes that even claim the original hash.
    client.put_object(Bucket=bucket, Key=key, Body=b"User-agent: evil\n", Metadata=head["Metadata"])
    before = versions(client, bucket)
    with pytest.raises(PromotionError) as err:
        plan_promotion(client, bucket, build)
    assert "robots.txt: written 2 times" in str(err.value)
    assert "nothing was copied" in str(err.value)
    assert versions(client, bucket) == before


def put_build(client, bucket, build_id, staged: dict[str, bytes], listed: dict[str, str]):
    """A build written by hand: ``staged`` bodies (with their true sha256 metadata) and a
    manifest that lists ``listed`` path -> sha256."""
    for path, body in staged.items():
        client.put_object(
            Bucket=bucket,
            Key=staging.build_prefix(build_id) + path,
            Body=body,
            Metadata={"sha256": staging.sha256_hex(body)},
        )
    manifest = {
        "build_id": build_id,
        "files": {p: {"sha256": h, "size": len(staged.get(p, b""))} for p, h in listed.items()},
    }
    client.put_object(
        Bucket=bucket,
        Key=staging.build_manifest_key(build_id),
        Body=json.dumps(manifest).encode(),
    )


def test_manifest_hash_mismatch_and_missing_file_are_refused(s3):
    client, bucket = s3
    shell, robots = b"<p>shell</p>", b"User-agent: *\n"
    put_build(
        client,
        bucket,
        "build-handmade",
        {"index.html": shell, "robots.txt": robots},
        {
            "index.html": staging.sha256_hex(shell),
            "robots.txt": "0" * 64,
            "missing.txt": "1" * 64,
        },
    )
    before = versions(client, bucket)
    with pytest.raises(PromotionError) as err:
        plan_promotion(client, bucket, "build-handmade")
    text = str(err.value)
    assert (
        "robots.txt: staged sha256" in text and "differs from the manifest's 000000000000" in text
    )
    assert "missing.txt: missing from" in text
    assert "index.html" not in text
    assert versions(client, bucket) == before
    assert production(client, bucket) == {}


def test_a_rewritten_build_manifest_is_refused(s3, stage):
    client, bucket = s3
    build = stage()
    key = staging.build_manifest_key(build)
    manifest = staging.read_build_manifest(client, build, bucket)
    manifest["files"]["robots.txt"]["sha256"] = "0" * 64
    client.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode())
    with pytest.raises(PromotionError, match="written 2 times"):
        plan_promotion(client, bucket, build)
    assert production(client, bucket) == {}


def test_unknown_empty_and_shellless_builds_are_refused(s3, stage):
    client, bucket = s3
    known = stage()
    with pytest.raises(PromotionError, match=f"unknown build build-000000000000.*names {known}"):
        plan_promotion(client, bucket, "build-000000000000")
    with pytest.raises(PromotionError, match="not a build id"):
        plan_promotion(client, bucket, "../data")
    for build_id, files, message in (
        ("build-empty", {}, "is empty"),
        ("build-noshell", {"robots.txt": {"sha256": "a" * 64, "size": 1}}, "has no index.html"),
    ):
        client.put_object(
            Bucket=bucket,
            Key=staging.build_manifest_key(build_id),
            Body=json.dumps({"build_id": build_id, "files": files}).encode(),
        )
        with pytest.raises(PromotionError, match=message):
            plan_promotion(client, bucket, build_id)
    assert production(client, bucket) == {}


def test_default_build_is_latest_and_nothing_staged_is_clear(s3, stage):
    client, bucket = s3
    with pytest.raises(PromotionError, match="nothing has been staged"):
        plan_promotion(client, bucket)
    build = stage()
    assert plan_promotion(client, bucket).build_id == build


# --- applying -------------------------------------------------------------------------------------


def test_assets_are_copied_before_html(s3, stage):
    client, bucket = s3
    build = stage(
        {
            "about.html": "<p>about</p>",
            "assets/extra.js": "1",
            "assets/more.css": "a{}",
            "img/logo.svg": "<svg/>",
        }
    )
    calls = record_copy_calls(client)
    plan = plan_promotion(client, bucket, build)
    apply_promotion(client, bucket, plan, run_id="run-order", executor_workers=4)

    def is_html(key):
        return key.endswith(".html")

    first_html_start = min(i for i, (ev, k) in enumerate(calls) if ev == "start" and is_html(k))
    last_asset_done = max(i for i, (ev, k) in enumerate(calls) if ev == "done" and not is_html(k))
    assert last_asset_done < first_html_start
    assert sum(ev == "start" for ev, _ in calls) == 8


def test_apply_is_idempotent(s3, stage):
    client, bucket = s3
    promote(client, bucket, stage(), "run-1")
    plan = plan_promotion(client, bucket, stage({"robots.txt": "changed\n"}))
    first = apply_promotion(client, bucket, plan, run_id="run-2")
    recorded = manifest_of(client, bucket, "run-2").content.changes
    after_first = versions(client, bucket)

    again = apply_promotion(client, bucket, PromotionPlan.from_dict(plan.to_dict()), run_id="run-2")
    assert again.copied == [] and again.already_done == first.copied
    assert again.new_version_ids == first.new_version_ids
    assert again.changed_keys == first.changed_keys
    # No object was rewritten; only the manifest (attempt count) moved.
    written = versions(client, bucket) - after_first
    assert {key for key, _ in written} == {release_manifest.manifest_key("run-2")}
    assert {
        k: c.previous_version_id
        for k, c in manifest_of(client, bucket, "run-2").content.changes.items()
    } == {k: c.previous_version_id for k, c in recorded.items()}


def test_retry_after_partial_apply_keeps_first_previous_versions(s3, stage):
    client, bucket = s3
    promote(client, bucket, stage(), "run-1")
    original = {p: h["VersionId"] for p, h in production(client, bucket).items()}
    build = stage({"robots.txt": "changed\n", "assets/app.css": "body{color:red}"})

    def fail_the_shell(params, **_):
        if params["Key"].endswith("index.html"):
            raise ConnectionError("network dropped during the HTML batch")

    client.meta.events.register("provide-client-params.s3.CopyObject", fail_the_shell)
    plan = plan_promotion(client, bucket, build)
    with pytest.raises(PromotionError, match="1 of 1 html copies failed"):
        apply_promotion(client, bucket, plan, run_id="run-2")
    client.meta.events.unregister("provide-client-params.s3.CopyObject", fail_the_shell)

    partial = production(client, bucket)
    assert partial["index.html"]["VersionId"] == original["index.html"]  # shell untouched
    assert partial["robots.txt"]["VersionId"] != original["robots.txt"]  # asset batch landed
    first = manifest_of(client, bucket, "run-2").content
    assert first.changes["site/robots.txt"].previous_version_id == original["robots.txt"]
    assert first.copies_completed_at is None

    # The retry plans afresh: robots.txt now looks unchanged, and its current version is the
    # first attempt's own write. The manifest must still name the original as "previous".
    replan = plan_promotion(client, bucket, build)
    assert "robots.txt" not in replan.changed_keys()
    result = apply_promotion(client, bucket, replan, run_id="run-2")
    assert result.copied == ["index.html"]
    assert "robots.txt" in result.already_done and "robots.txt" in result.changed_keys

    content = manifest_of(client, bucket, "run-2").content
    assert content.attempts == 2
    assert content.changes["site/robots.txt"].previous_version_id == original["robots.txt"]
    assert content.changes["site/index.html"].previous_version_id == original["index.html"]
    final = production(client, bucket)
    for path in ("robots.txt", "index.html"):
        assert content.changes[f"site/{path}"].new_version_id == final[path]["VersionId"]
    assert content.copies_completed_at is not None
    assert not plan_promotion(client, bucket, build).copies()


def test_a_change_under_the_plan_stops_the_apply(s3, stage):
    client, bucket = s3
    promote(client, bucket, stage(), "run-1")
    plan = plan_promotion(client, bucket, stage({"robots.txt": "changed\n"}))
    client.put_object(Bucket=bucket, Key="site/robots.txt", Body=b"hand edit\n")
    shell = client.head_object(Bucket=bucket, Key="site/index.html")["VersionId"]
    with pytest.raises(PromotionError, match=r"site/robots\.txt changed since the plan"):
        apply_promotion(client, bucket, plan, run_id="run-2")
    assert client.head_object(Bucket=bucket, Key="site/index.html")["VersionId"] == shell


def test_one_run_promotes_one_build(s3, stage):
    client, bucket = s3
    promote(client, bucket, stage(), "run-1")
    other = plan_promotion(client, bucket, stage({"robots.txt": "x\n"}))
    with pytest.raises(PromotionError, match="one run promotes one build"):
        apply_promotion(client, bucket, other, run_id="run-1")


def test_plan_travels_as_json(s3, stage):
    client, bucket = s3
    promote(client, bucket, stage(), "run-1")
    plan = plan_promotion(client, bucket, stage({"robots.txt": "x\n"}))
    wire = json.loads(json.dumps(plan.to_dict()))
    assert PromotionPlan.from_dict(wire) == plan
    result = apply_promotion(client, bucket, wire, run_id="run-2")
    assert json.loads(json.dumps(result.to_xcom()))["changed_keys"] == ["index.html", "robots.txt"]
    assert len(plan.lines()) == len(plan.steps)
    with pytest.raises(PromotionError, match="not a promotion plan"):
        PromotionPlan.from_dict({"steps": []})


# --- deferred deletions ---------------------------------------------------------------------------


def test_deletions_only_via_apply_deletions_and_only_under_site(s3, stage):
    client, bucket = s3
    with pytest.raises(PromotionError, match="run apply_promotion first"):
        apply_deletions(client, bucket, {"deleted_keys": []}, "run-none")
    promote(client, bucket, stage({"old.txt": "old"}), "run-1")
    client.put_object(Bucket=bucket, Key=config.JOBS_KEY, Body=b"{}")
    plan, result = promote(client, bucket, stage(), "run-2")
    assert result.deleted_keys == ["old.txt"]
    assert "old.txt" in production(client, bucket)  # still served until the invalidation is done

    # Nothing the run did not record, and nothing outside site/, whatever the caller passes.
    with pytest.raises(PromotionError, match="not recorded for deletion"):
        apply_deletions(client, bucket, {"deleted_keys": ["robots.txt"]}, "run-2")
    forged = manifest_of(client, bucket, "run-2").model_copy(deep=True)
    forged.content.changes[config.JOBS_KEY] = release_manifest.ObjectChange(
        action="delete", reason="forged"
    )
    with pytest.raises(PromotionError, match="refusing to delete outside site/"):
        apply_deletions(client, bucket, forged, "run-2")
    client.head_object(Bucket=bucket, Key=config.JOBS_KEY)

    xcom = result.to_xcom()
    assert apply_deletions(client, bucket, xcom, "run-2") == ["old.txt"]
    assert "old.txt" not in production(client, bucket)
    content = manifest_of(client, bucket, "run-2").content
    change = content.changes["site/old.txt"]
    marker = client.list_object_versions(Bucket=bucket, Prefix="site/old.txt")["DeleteMarkers"]
    assert change.new_version_id == marker[0]["VersionId"]
    assert change.previous_version_id is not None  # what a rollback restores
    assert content.deletions_completed_at is not None

    before = versions(client, bucket)
    assert apply_deletions(client, bucket, plan, "run-2") == ["old.txt"]  # idempotent
    assert {key for key, _ in versions(client, bucket) - before} <= {
        release_manifest.manifest_key("run-2")
    }
    client.head_object(Bucket=bucket, Key=config.JOBS_KEY)


def test_deletion_skips_an_object_rewritten_since_the_plan(s3, stage):
    client, bucket = s3
    promote(client, bucket, stage({"old.txt": "old"}), "run-1")
    _, result = promote(client, bucket, stage(), "run-2")
    client.put_object(Bucket=bucket, Key="site/old.txt", Body=b"put back on purpose")
    with pytest.raises(PromotionError, match="left in place because they changed"):
        apply_deletions(client, bucket, result.to_xcom(), "run-2")
    assert "old.txt" in production(client, bucket)


# --- the dry run ----------------------------------------------------------------------------------


def test_describe_is_the_dry_run_and_writes_nothing(s3, stage):
    client, bucket = s3
    promote(client, bucket, stage({"old.txt": "old"}), "run-1")
    plan = plan_promotion(client, bucket, stage({"about.html": "<p>a</p>", "robots.txt": "x\n"}))
    before = versions(client, bucket)
    lines = describe(plan, run_id="run-dry")
    assert versions(client, bucket) == before
    assert release_manifest.read_manifest(client, bucket, "run-dry") is None

    text = "\n".join(lines[1:])
    assert lines[0] == plan.summary()
    assert "releases/run-dry.json" in lines[1]
    assert text.index("assets: ") < text.index("html: ") < text.index("after the invalidation")
    assert "copy staging/" in text and "-> site/robots.txt" in text
    assert "delete site/old.txt" in text
    assert describe(plan.to_dict(), run_id="run-dry") == lines


def test_a_hand_copied_site_is_recognised_and_not_recopied(s3, stage, tmp_path):
    client, bucket = s3
    source = write_site(tmp_path / "boot", BASE)
    build = staging.stage(client, source, bucket).build_id
    # Production copied by hand, as the old manual process did: right bytes, headers and sha256,
    # but no build-id metadata.
    for path, meta in staging.read_build_manifest(client, build, bucket)["files"].items():
        client.copy_object(
            Bucket=bucket,
            Key=config.SITE_PREFIX + path,
            CopySource={"Bucket": bucket, "Key": staging.build_prefix(build) + path},
            ContentType=headers.content_type_for(path),
            CacheControl=headers.cache_control_for(path),
            Metadata={staging.SHA256_META: meta["sha256"]},
            MetadataDirective="REPLACE",
        )
    assert BUILD_ID_META not in client.head_object(Bucket=bucket, Key="site/index.html")["Metadata"]

    plan = plan_promotion(client, bucket, build)
    assert plan.build_before == build  # read from the id staging stamped into the shell
    # Right bytes, right headers; only the build-id metadata is missing, which is no reason to
    # copy: nothing is served differently.
    assert plan.is_noop

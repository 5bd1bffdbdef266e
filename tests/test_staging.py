"""Staging: content-addressed builds, bounded by the change, on a real moto S3 over HTTP."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest

from localaws.request_counter import RequestCounter
from qdn import config, headers, staging


def _site(tmp_path: Path, js: str = "console.log(1);", extra: dict | None = None) -> Path:
    (tmp_path / "assets").mkdir(parents=True, exist_ok=True)
    (tmp_path / "index.html").write_text(
        '<meta name="qdn-build-id" content="__QDN_BUILD_ID__">'
        '<link rel="stylesheet" href="/assets/app.css"><script src="/assets/app.js"></script>'
        "<p>/assets/app.js stays as text</p><a href='/assets/app.css'>css</a>"
    )
    (tmp_path / "assets" / "app.js").write_text(js)
    (tmp_path / "assets" / "app.css").write_text("body{}")
    (tmp_path / "robots.txt").write_text("User-agent: *\n")
    for name, body in (extra or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    return tmp_path


def big_site(root: Path, pages: int, *, variant: str = "") -> Path:
    """``pages`` HTML pages referencing shared assets, plus the shell: a site of any size."""
    _site(root)
    for i in range(pages):
        page = root / "pages" / f"p{i:04d}.html"
        page.parent.mkdir(exist_ok=True)
        extra = variant if i < 20 else ""  # the variant changes exactly 20 pages
        page.write_text(f"<script src='/assets/app.js'></script><p>page {i}{extra}</p>")
    return root


def test_build_fingerprints_assets_and_stamps_the_shell(tmp_path):
    build = staging.build_site(_site(tmp_path))
    js = [p for p in build.files if p.startswith("assets/app.") and p.endswith(".js")]
    css = [p for p in build.files if p.startswith("assets/app.") and p.endswith(".css")]
    assert len(js) == 1 and headers.is_fingerprinted(js[0])
    shell = build.files["index.html"].decode()
    assert f'content="{build.build_id}"' in shell
    pin = f"{config.BUILD_PIN_PREFIX}{build.build_id}/"
    assert f'src="{pin}{js[0]}"' in shell  # pinned to the build the asset first appeared in
    assert f"href='{pin}{css[0]}'" in shell  # single quotes too, in the same pass
    assert build.origins[js[0]] == build.build_id
    assert "<p>/assets/app.js stays as text</p>" in shell  # only attribute values are rewritten
    assert "robots.txt" in build.files


def test_rewrite_references_is_one_pass_over_any_number_of_assets():
    renames = {f"/assets/a{i}.js": f"/assets/a{i}.0123456789.js" for i in range(2000)}
    text = "".join(f'<script src="/assets/a{i}.js"></script>' for i in range(0, 2000, 7))
    out = staging.rewrite_references(text + '<a href="/other.js">', renames)
    assert out.count(".0123456789.js") == len(range(0, 2000, 7))
    assert '"/other.js"' in out


def test_an_unchanged_asset_keeps_its_pinned_url_so_pages_stay_identical(tmp_path):
    first = staging.build_site(_site(tmp_path / "a", extra={"about.html": "<b>1</b>"}))
    about = '<script src="/assets/app.css"></script><b>2</b>'
    second = staging.build_site(
        _site(tmp_path / "b", js="console.log(2);", extra={"about.html": about}),
        first.manifest(),
    )
    css = next(p for p in second.files if p.endswith(".css"))
    js = next(p for p in second.files if p.endswith(".js"))
    assert second.origins[css] == first.build_id  # unchanged: still the first build's URL
    assert second.origins[js] == second.build_id  # changed: this build's own
    assert second.manifest().asset_builds == {first.build_id, second.build_id}
    assert f"{config.BUILD_PIN_PREFIX}{first.build_id}/{css}" in second.files["about.html"].decode()
    third = staging.build_site(
        _site(tmp_path / "c", js="console.log(2);", extra={"about.html": about}),
        second.manifest(),
    )
    # The css's origin is carried over from build to build, not reset to the previous one.
    assert third.origins[css] == first.build_id


def test_build_id_follows_content(tmp_path):
    a = staging.build_site(_site(tmp_path / "a"))
    b = staging.build_site(_site(tmp_path / "b"))
    c = staging.build_site(_site(tmp_path / "c", js="console.log(2);"))
    assert a.build_id == b.build_id
    assert a.build_id != c.build_id


def test_shell_without_placeholder_is_refused(tmp_path):
    _site(tmp_path)
    (tmp_path / "index.html").write_text("<p>no id</p>")
    with pytest.raises(staging.StagingError, match="placeholder"):
        staging.build_site(tmp_path)


def test_cache_control_per_path():
    assert headers.cache_control_for("index.html") == headers.SHELL_CACHE_CONTROL
    assert headers.cache_control_for("assets/app.0123456789.js") == headers.ASSET_CACHE_CONTROL
    assert headers.cache_control_for("assets/app.js") == headers.OTHER_CACHE_CONTROL
    assert headers.content_type_for("assets/app.0123456789.css").startswith("text/css")


def test_bad_build_ids_are_refused():
    for bad in ("", "build-xyz", "../data", "build-0123456789ab/.."):
        with pytest.raises(staging.StagingError, match="not a build id"):
            staging.build_prefix(bad)


@pytest.fixture
def s3(moto_url):
    client = boto3.client("s3", endpoint_url=moto_url)
    bucket = f"stage-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def test_first_stage_uploads_everything_then_writes_manifest_and_latest(s3, tmp_path):
    client, bucket = s3
    site = _site(tmp_path)
    first = staging.stage(client, site, bucket)
    assert len(first.uploaded) == 4 and not first.copied and first.source_build is None
    assert staging.read_latest(client, bucket) == first.build_id
    manifest = staging.read_build_manifest(client, first.build_id, bucket)
    shell_key = staging.build_prefix(first.build_id) + "index.html"
    head = client.head_object(Bucket=bucket, Key=shell_key)
    assert head["Metadata"]["sha256"] == manifest.files["index.html"].sha256
    assert head["ETag"].strip('"') == manifest.files["index.html"].md5
    assert head["ContentType"].startswith("text/html")
    assert head["CacheControl"] == headers.SHELL_CACHE_CONTROL
    listed = staging.list_prefix(client, bucket, staging.build_prefix(first.build_id))
    assert staging.build_problems(manifest, listed) == []

    again = staging.stage(client, site, bucket)
    assert again.build_id == first.build_id and again.complete_before and not again.uploaded


def test_a_change_uploads_only_what_changed_and_copies_the_rest(s3, tmp_path):
    client, bucket = s3
    first = staging.stage(client, _site(tmp_path / "a"), bucket)
    second = staging.stage(client, _site(tmp_path / "b", js="console.log(2);"), bucket)
    assert second.source_build == first.build_id
    # The script changed, so did the shell referencing it (and its build id); css, icon and robots
    # did not.
    uploaded = {k.removeprefix(staging.build_prefix(second.build_id)) for k in second.uploaded}
    new_js = next(p for p in uploaded if p.endswith(".js"))
    assert uploaded == {"index.html", new_js} and len(second.copied) == 2
    copied = second.copied[0]
    head = client.head_object(Bucket=bucket, Key=copied)
    path = copied.removeprefix(staging.build_prefix(second.build_id))
    assert head["CacheControl"] == headers.cache_control_for(path)
    manifest = staging.read_build_manifest(client, second.build_id, bucket)
    listed = staging.list_prefix(client, bucket, staging.build_prefix(second.build_id))
    assert staging.build_problems(manifest, listed) == []


def test_a_half_finished_stage_resumes_without_reuploading(s3, tmp_path):
    client, bucket = s3
    site = _site(tmp_path)
    build = staging.build_site(site)
    client.put_object(
        Bucket=bucket,
        Key=staging.build_prefix(build.build_id) + "robots.txt",
        Body=build.files["robots.txt"],
    )
    result = staging.stage(client, site, bucket)
    assert result.already_there == [staging.build_prefix(build.build_id) + "robots.txt"]
    assert len(result.uploaded) == 3


def test_a_tampered_build_shows_in_its_listing(s3, tmp_path):
    client, bucket = s3
    result = staging.stage(client, _site(tmp_path), bucket)
    prefix = staging.build_prefix(result.build_id)
    client.put_object(Bucket=bucket, Key=prefix + "robots.txt", Body=b"tampered")
    client.put_object(Bucket=bucket, Key=prefix + "extra.txt", Body=b"x")
    client.delete_object(Bucket=bucket, Key=prefix + "index.html")
    manifest = staging.read_build_manifest(client, result.build_id, bucket)
    problems = staging.build_problems(manifest, staging.list_prefix(client, bucket, prefix))
    assert problems[0] == "missing index.html"
    assert problems[1].startswith("changed robots.txt")
    assert problems[2] == "extra extra.txt"


def test_read_latest_before_any_staging_is_none_and_a_missing_manifest_says_what_to_do(s3):
    client, bucket = s3
    assert staging.read_latest(client, bucket) is None
    with pytest.raises(staging.StagingError, match="stage the site again"):
        staging.read_build_manifest(client, "build-0123456789ab", bucket)


def test_manifest_is_written_beside_the_build_never_inside_it(s3, tmp_path):
    client, bucket = s3
    result = staging.stage(client, _site(tmp_path), bucket)
    body = client.get_object(Bucket=bucket, Key=staging.build_manifest_key(result.build_id))
    files = json.loads(body["Body"].read())["files"]
    keys = set(staging.list_prefix(client, bucket, staging.build_prefix(result.build_id)))
    assert set(files) == keys
    assert not staging.build_manifest_key(result.build_id).startswith(
        staging.build_prefix(result.build_id)
    )
    assert config.LATEST_KEY.startswith(config.BUILDS_PREFIX)


def test_staging_2000_objects_costs_the_change_not_the_site(s3, tmp_path):
    """Twenty changed pages of a 2,000-object site: those and the shell uploaded, the rest copied
    server-side, and a fixed handful of other requests — never a HEAD or GET per object."""
    client, bucket = s3
    base = staging.stage(client, big_site(tmp_path / "a", 1996), bucket)
    counter = RequestCounter(client)
    changed = staging.stage(client, big_site(tmp_path / "b", 1996, variant=" v2"), bucket)
    files = len(staging.build_site(tmp_path / "b").files)
    assert files == 2000
    # The shell carries the build id, so it changes with any change: 20 pages + the shell.
    assert len(changed.uploaded) == 21 and len(changed.copied) == files - 21
    assert changed.source_build == base.build_id
    counts = dict(counter.counts)
    assert counts.pop("PutObject") == 21 + 2  # the files, the manifest, builds/LATEST
    assert counts.pop("CopyObject") == files - 21
    assert counts.pop("ListObjectsV2") == 1  # the new build's empty folder: one page
    assert counts.pop("GetObject") == 3  # its missing manifest, LATEST, the previous manifest
    assert counts == {}, counts

    counter.reset()
    again = staging.stage(client, tmp_path / "b", bucket)
    assert again.complete_before and counter.total == 2  # its manifest, then LATEST


def test_a_known_prefix_is_listed_page_by_page_side_by_side_and_nothing_is_missed(s3, monkeypatch):
    client, bucket = s3
    monkeypatch.setattr(staging, "LIST_PAGE", 3)  # small pages, so a few keys make many
    prefix = "builds/build-0123456789ab/"
    expected = [f"f{i:02d}.txt" for i in range(10)]
    extra = ["f00a.txt", "f04b.txt", "f04c.txt", "f04d.txt", "zz.txt"]  # unexpected, everywhere
    for name in expected + extra:
        client.put_object(Bucket=bucket, Key=prefix + name, Body=name.encode())
    plain = staging.list_prefix(client, bucket, prefix)
    counter = RequestCounter(client)
    side_by_side = staging.list_known_prefix(client, bucket, prefix, expected)
    assert side_by_side.keys() == plain.keys() == set(expected + extra)
    assert {k: v["ETag"] for k, v in side_by_side.items()} == {
        k: v["ETag"] for k, v in plain.items()
    }
    # Only the pages the unexpected keys pushed over a boundary needed a second request.
    assert counter.counts["ListObjectsV2"] <= 4 + 3
    for name in extra:
        client.delete_object(Bucket=bucket, Key=prefix + name)
    counter.reset()
    assert staging.list_known_prefix(client, bucket, prefix, expected).keys() == set(expected)
    assert counter.counts["ListObjectsV2"] == 4  # ten keys, pages of three: as a plain listing

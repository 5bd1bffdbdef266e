"""Staging: content-addressed builds, fingerprinted assets, immutable uploads to a real moto S3."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from qdn import config, headers, staging


def _site(tmp_path, js="console.log(1);", extra=None):
    (tmp_path / "assets").mkdir(parents=True, exist_ok=True)
    (tmp_path / "index.html").write_text(
        '<meta name="qdn-build-id" content="__QDN_BUILD_ID__">'
        '<link rel="stylesheet" href="/assets/app.css"><script src="/assets/app.js"></script>'
        "<p>/assets/app.js stays as text</p>"
    )
    (tmp_path / "assets" / "app.js").write_text(js)
    (tmp_path / "assets" / "app.css").write_text("body{}")
    (tmp_path / "robots.txt").write_text("User-agent: *\n")
    for name, body in (extra or {}).items():
        (tmp_path / name).write_text(body)
    return tmp_path


def test_build_fingerprints_assets_and_stamps_the_shell(tmp_path):
    build = staging.build_site(_site(tmp_path))
    js = [p for p in build.files if p.startswith("assets/app.") and p.endswith(".js")]
    assert len(js) == 1 and headers.is_fingerprinted(js[0])
    shell = build.files["index.html"].decode()
    assert f'content="{build.build_id}"' in shell
    assert f'src="/{js[0]}"' in shell
    assert "<p>/assets/app.js stays as text</p>" in shell  # only attribute values are rewritten
    assert "robots.txt" in build.files


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


@pytest.fixture
def s3(moto_url):
    client = boto3.client("s3", endpoint_url=moto_url)
    bucket = f"stage-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


def test_stage_uploads_once_and_points_latest(s3, tmp_path):
    client, bucket = s3
    site = _site(tmp_path)
    first = staging.stage(client, site, bucket)
    assert len(first.uploaded) == 4 and not first.already_there
    assert staging.read_latest(client, bucket) == first.build_id
    manifest = staging.read_build_manifest(client, first.build_id, bucket)
    shell_key = staging.build_prefix(first.build_id) + "index.html"
    head = client.head_object(Bucket=bucket, Key=shell_key)
    assert head["Metadata"]["sha256"] == manifest["files"]["index.html"]["sha256"]
    assert head["ContentType"].startswith("text/html")
    assert head["CacheControl"] == headers.SHELL_CACHE_CONTROL

    again = staging.stage(client, site, bucket)
    assert again.build_id == first.build_id and not again.uploaded


def test_staged_build_is_immutable(s3, tmp_path):
    client, bucket = s3
    site = _site(tmp_path)
    build = staging.build_site(site)
    # Someone wrote other bytes under this build's prefix: staging must refuse, not overwrite.
    client.put_object(
        Bucket=bucket, Key=staging.build_prefix(build.build_id) + "robots.txt", Body=b"tampered"
    )
    with pytest.raises(staging.StagingError, match="immutable"):
        staging.stage(client, site, bucket)
    assert client.list_objects_v2(Bucket=bucket, Prefix=config.LATEST_KEY)["KeyCount"] == 0


def test_read_latest_without_staging_says_what_to_do(s3):
    client, bucket = s3
    with pytest.raises(staging.StagingError, match="run the stage command"):
        staging.read_latest(client, bucket)


def test_manifest_lists_every_file(s3, tmp_path):
    client, bucket = s3
    result = staging.stage(client, _site(tmp_path), bucket)
    body = client.get_object(Bucket=bucket, Key=staging.build_manifest_key(result.build_id))
    files = json.loads(body["Body"].read())["files"]
    keys = {
        o["Key"].removeprefix(staging.build_prefix(result.build_id))
        for o in client.list_objects_v2(
            Bucket=bucket, Prefix=staging.build_prefix(result.build_id)
        )["Contents"]
    }
    assert set(files) == keys

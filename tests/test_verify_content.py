"""The nightly content check against the session's released stack: it passes as released, and
each planted drift (an object changed, deleted or added in the live build, the pointer moved
outside a release) fails it, naming the drift. Every test puts back what it changed."""

from __future__ import annotations

from qdn import config, staging
from qdn.live_pointer import kvs_arn, read_pointer, write_pointer
from qdn.verify.content import check_content


def _check(site) -> object:
    stack = site.stack
    return check_content(
        stack.client("s3"),
        stack.client("cloudfront"),
        stack.client("cloudfront-keyvaluestore"),
        config.BUCKET,
    )


def test_the_released_site_passes(released_site) -> None:
    result = _check(released_site)
    assert result.passed, result.summary()
    assert released_site.build_id in result.summary()


def _saved(s3, key: str) -> dict:
    """The object as it was, with the headers the edge serves it with."""
    got = s3.get_object(Bucket=config.BUCKET, Key=key)
    headers = {"ContentType": got["ContentType"]}
    if got.get("CacheControl"):
        headers["CacheControl"] = got["CacheControl"]
    return {"Key": key, "Body": got["Body"].read(), **headers}


def test_objects_changed_deleted_or_added_outside_a_release_are_named(released_site) -> None:
    s3 = released_site.stack.client("s3")
    prefix = staging.build_prefix(released_site.build_id)
    index, robots = _saved(s3, prefix + "index.html"), _saved(s3, prefix + "robots.txt")
    try:
        s3.put_object(
            **{**index, "Body": index["Body"] + b"<!-- edited by hand -->"}, Bucket=config.BUCKET
        )
        s3.delete_object(Bucket=config.BUCKET, Key=robots["Key"])
        s3.put_object(Bucket=config.BUCKET, Key=prefix + "stray.html", Body=b"stray")
        result = _check(released_site)
        assert not result.passed
        text = result.summary()
        assert "3 object(s) of the live build" in text
        assert "changed index.html" in text and "missing robots.txt" in text
        assert "extra stray.html" in text
    finally:
        s3.put_object(Bucket=config.BUCKET, **index)
        s3.put_object(Bucket=config.BUCKET, **robots)
        s3.delete_object(Bucket=config.BUCKET, Key=prefix + "stray.html")
    assert _check(released_site).passed


def test_a_pointer_moved_outside_a_release_is_named(released_site) -> None:
    """The pointer is set to another build by hand (no release, no history entry), then put back
    before the edges could serve it (they follow the store after its propagation delay)."""
    stack = released_site.stack
    kvs = stack.client("cloudfront-keyvaluestore")
    arn = kvs_arn(stack.client("cloudfront"), config.KVS_NAME)
    live = released_site.build_id
    other = "build-0123456789ab"  # well-formed, never staged: what a typo by hand would do
    state = read_pointer(kvs, arn, config.LIVE_POINTER_KEY)
    write_pointer(kvs, state, other)
    try:
        result = _check(released_site)
    finally:
        write_pointer(kvs, read_pointer(kvs, arn, config.LIVE_POINTER_KEY), live)
    assert not result.passed
    assert f"the live pointer names {other} but the last" in result.summary()
    assert "moved outside a release" in result.summary()
    assert f"the live build {other} has no usable manifest" in result.summary()
    assert _check(released_site).passed

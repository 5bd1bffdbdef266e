"""``python -m infra.first_deploy`` on a new bucket and store of the local stack: it refuses to
run before the stack and a staged build exist, then seeds the pointer with its history entry, the
export and the canary, and a second run writes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from infra.first_deploy import FirstDeployError, first_deploy
from localaws.bootstrap import SITE_SOURCE
from qdn import config, staging
from qdn.canary import read_canary_note
from qdn.live_pointer import read_pointer
from qdn.release_manifest import read_history


@pytest.fixture
def fresh(aws_stack: Any) -> tuple[str, str]:
    """A bucket and a KeyValueStore as the template creates them: empty."""
    suffix = uuid.uuid4().hex[:10]
    bucket, store = f"qdn-first-deploy-{suffix}", f"qdn-first-{suffix}"
    s3 = aws_stack.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    aws_stack.client("cloudfront").create_key_value_store(Name=store)
    return bucket, store


def test_first_deploy_refuses_without_the_stack(aws_stack: Any, fresh: tuple[str, str]) -> None:
    bucket, _ = fresh
    staging.stage(aws_stack.client("s3"), SITE_SOURCE, bucket)
    with pytest.raises(FirstDeployError, match=r"does not exist.*deploy infra/quickdumpnow.yaml"):
        first_deploy(aws_stack.client, bucket=bucket, store="qdn-no-such-store")


def test_first_deploy_refuses_before_a_build_is_staged(
    aws_stack: Any, fresh: tuple[str, str]
) -> None:
    bucket, store = fresh
    with pytest.raises(FirstDeployError, match=r"python -m qdn.cli stage"):
        first_deploy(aws_stack.client, bucket=bucket, store=store)
    assert read_history(aws_stack.client("s3"), bucket).releases == []


def test_first_deploy_makes_the_staged_build_live_once(
    aws_stack: Any, fresh: tuple[str, str]
) -> None:
    bucket, store = fresh
    s3 = aws_stack.client("s3")
    staged = staging.stage(s3, SITE_SOURCE, bucket).build_id

    report = first_deploy(aws_stack.client, bucket=bucket, store=store)

    assert report.changed >= 3, report.lines
    arn = aws_stack.client("cloudfront").describe_key_value_store(Name=store)["KeyValueStore"][
        "ARN"
    ]
    pointer = read_pointer(
        aws_stack.client("cloudfront-keyvaluestore"), arn, config.LIVE_POINTER_KEY
    )
    assert pointer.value == staged
    assert [e.build_id for e in read_history(s3, bucket).releases] == [staged]
    assert read_canary_note(s3, bucket) is not None
    s3.head_object(Bucket=bucket, Key=config.JOBS_KEY)

    again = first_deploy(aws_stack.client, bucket=bucket, store=store)
    assert again.changed == 0, again.lines
    assert (
        read_pointer(
            aws_stack.client("cloudfront-keyvaluestore"), arn, config.LIVE_POINTER_KEY
        ).value
        == staged
    )

"""Invalidations on the local CloudFront: InProgress, then Completed, as botocore's waiter sees it.

The shared stack runs with a 1 s invalidation delay (tests/conftest.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from cloudfront_support import (
    distribution_config,
    invalidation_batch,
    remove_distribution,
    unique,
    wait_completed,
)


@pytest.fixture
def dist_id(cf: Any) -> Any:
    dist_id = cf.create_distribution(DistributionConfig=distribution_config("b"))["Distribution"][
        "Id"
    ]
    yield dist_id
    remove_distribution(cf, dist_id)


def test_in_progress_then_completed_with_botocores_waiter(cf: Any, dist_id: str) -> None:
    created = cf.create_invalidation(
        DistributionId=dist_id, InvalidationBatch=invalidation_batch("/*")
    )
    inv = created["Invalidation"]
    assert inv["Status"] == "InProgress"
    assert inv["Id"].startswith("I") and len(inv["Id"]) == 14
    assert created["Location"].endswith(f"/distribution/{dist_id}/invalidation/{inv['Id']}")
    assert (
        cf.get_invalidation(DistributionId=dist_id, Id=inv["Id"])["Invalidation"]["Status"]
        == "InProgress"
    )
    assert cf.get_distribution(Id=dist_id)["Distribution"]["InProgressInvalidationBatches"] == 1

    wait_completed(cf, dist_id, inv["Id"])

    done = cf.get_invalidation(DistributionId=dist_id, Id=inv["Id"])["Invalidation"]
    assert done["Status"] == "Completed"
    assert done["InvalidationBatch"]["Paths"]["Items"] == ["/*"]
    listed = cf.list_invalidations(DistributionId=dist_id)["InvalidationList"]
    assert [(i["Id"], i["Status"]) for i in listed["Items"]] == [(inv["Id"], "Completed")]
    assert cf.get_distribution(Id=dist_id)["Distribution"]["InProgressInvalidationBatches"] == 0


def test_same_caller_reference_same_paths_returns_the_same_invalidation(
    cf: Any, dist_id: str
) -> None:
    ref = unique("ref")
    first = cf.create_invalidation(
        DistributionId=dist_id, InvalidationBatch=invalidation_batch("/a", "/b", ref=ref)
    )
    again = cf.create_invalidation(
        DistributionId=dist_id, InvalidationBatch=invalidation_batch("/b", "/a", ref=ref)
    )
    assert again["Invalidation"]["Id"] == first["Invalidation"]["Id"]
    assert len(cf.list_invalidations(DistributionId=dist_id)["InvalidationList"]["Items"]) == 1


def test_same_caller_reference_other_paths_is_refused(cf: Any, dist_id: str) -> None:
    ref = unique("ref")
    cf.create_invalidation(
        DistributionId=dist_id, InvalidationBatch=invalidation_batch("/a", ref=ref)
    )
    with pytest.raises(cf.exceptions.ClientError) as exc:
        cf.create_invalidation(
            DistributionId=dist_id, InvalidationBatch=invalidation_batch("/a", "/c", ref=ref)
        )
    assert exc.value.response["Error"]["Code"] == "InvalidationBatchAlreadyExists"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_unknown_ids_are_named_errors(cf: Any, dist_id: str) -> None:
    with pytest.raises(cf.exceptions.NoSuchInvalidation) as exc:
        cf.get_invalidation(DistributionId=dist_id, Id="I0000000000000")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(cf.exceptions.NoSuchDistribution):
        cf.create_invalidation(
            DistributionId="E0000000000000", InvalidationBatch=invalidation_batch("/a", ref="r")
        )
    with pytest.raises(cf.exceptions.NoSuchDistribution):
        cf.list_invalidations(DistributionId="E0000000000000")


def test_paths_follow_cloudfronts_rules(cf: Any, dist_id: str) -> None:
    for bad in ("/a*/b", "no-slash"):
        with pytest.raises(cf.exceptions.InvalidArgument):
            cf.create_invalidation(
                DistributionId=dist_id, InvalidationBatch=invalidation_batch(bad)
            )
    batch = invalidation_batch("/a")
    batch["Paths"]["Quantity"] = 3
    with pytest.raises(cf.exceptions.InconsistentQuantities):
        cf.create_invalidation(DistributionId=dist_id, InvalidationBatch=batch)
    many = [f"/p{i}" for i in range(3001)]
    with pytest.raises(cf.exceptions.BatchTooLarge):
        cf.create_invalidation(DistributionId=dist_id, InvalidationBatch=invalidation_batch(*many))


def test_wildcard_invalidations_in_progress_are_limited_to_15(cf: Any, dist_id: str) -> None:
    for i in range(15):
        cf.create_invalidation(
            DistributionId=dist_id, InvalidationBatch=invalidation_batch(f"/w{i}/*")
        )
    with pytest.raises(cf.exceptions.TooManyInvalidationsInProgress):
        cf.create_invalidation(DistributionId=dist_id, InvalidationBatch=invalidation_batch("/x/*"))

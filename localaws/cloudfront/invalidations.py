"""Invalidations: InProgress for a configurable delay, then Completed, then the edge forgets.

AWS takes minutes to complete an invalidation and serves the old content until then; a release
that does not wait for ``Completed`` races its own smoke check. Keeping that window (seconds here)
is the point: the pipeline must wait with botocore's ``invalidation_completed`` waiter, and the
edge keeps serving cached content until the invalidation completes.

Completion is evaluated lazily: ``settle()`` (called at the start of every control-plane call and
every edge request) completes every invalidation whose time has come and hands its paths to the
edge cache, so what ``GetInvalidation`` reports and what the edge serves always agree.

CallerReference follows AWS: the same reference with the same paths returns the existing
invalidation; the same reference with other paths is ``InvalidationBatchAlreadyExists``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from localaws.cloudfront import ids
from localaws.cloudfront.errors import CloudFrontError, check_quantities, invalid_argument
from localaws.cloudfront.paging import marked_list_page

IN_PROGRESS = "InProgress"
COMPLETED = "Completed"

# AWS's limits: at most 3,000 paths in one batch and in progress per distribution, and at most
# 15 wildcard paths in progress; beyond them it refuses with these codes.
MAX_PATHS = 3000
MAX_WILDCARDS_IN_PROGRESS = 15


@dataclass
class StoredInvalidation:
    id: str
    distribution_id: str
    caller_reference: str
    paths: list[str]
    create_time: datetime
    completes_at: float  # time.monotonic() at which it becomes Completed
    status: str = IN_PROGRESS

    def document(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Status": self.status,
            "CreateTime": self.create_time,
            "InvalidationBatch": {
                "Paths": {"Quantity": len(self.paths), "Items": list(self.paths)},
                "CallerReference": self.caller_reference,
            },
        }


def _check_paths(paths: list[str]) -> None:
    if not paths:
        raise invalid_argument("InvalidationBatch.Paths must list at least one path.")
    if len(paths) > MAX_PATHS:
        raise CloudFrontError(
            "BatchTooLarge", f"{len(paths)} paths in one invalidation; at most {MAX_PATHS}."
        )
    for path in paths:
        if not path.startswith("/"):
            raise invalid_argument(f"Invalidation path {path!r} must start with /.")
        if "*" in path[:-1]:
            raise invalid_argument(
                f"Invalidation path {path!r}: * is only allowed as the last character."
            )


class InvalidationStore:
    """Every invalidation of every distribution. Not thread-safe: the service holds its lock."""

    def __init__(self, *, delay: float, on_completed: Callable[[StoredInvalidation], None]) -> None:
        self._delay = delay
        self._on_completed = on_completed
        self._by_dist: dict[str, list[StoredInvalidation]] = {}

    def __iter__(self) -> Iterator[StoredInvalidation]:
        """Every invalidation, each distribution's in the order they were created."""
        return iter([inv for invs in self._by_dist.values() for inv in invs])

    def add(self, inv: StoredInvalidation) -> None:
        """Put back an invalidation saved earlier (see ``state``); add them oldest first."""
        self._by_dist.setdefault(inv.distribution_id, []).append(inv)

    def settle(self) -> None:
        """Complete every invalidation whose delay has passed, evicting its paths at the edge."""
        now = time.monotonic()
        for invalidations in self._by_dist.values():
            for inv in invalidations:
                if inv.status == IN_PROGRESS and now >= inv.completes_at:
                    inv.status = COMPLETED
                    self._on_completed(inv)

    def in_progress(self, dist_id: str) -> int:
        return sum(1 for i in self._by_dist.get(dist_id, []) if i.status == IN_PROGRESS)

    def forget(self, dist_id: str) -> None:
        self._by_dist.pop(dist_id, None)

    def create(self, dist_id: str, batch: dict[str, Any]) -> dict[str, Any]:
        check_quantities(batch, "InvalidationBatch")
        paths = list(batch["Paths"].get("Items") or [])
        _check_paths(paths)
        ref = batch["CallerReference"]
        existing = self._by_dist.setdefault(dist_id, [])
        for inv in existing:
            if inv.caller_reference == ref:
                if sorted(inv.paths) == sorted(paths):
                    return self._created(dist_id, inv)
                raise CloudFrontError(
                    "InvalidationBatchAlreadyExists",
                    f"CallerReference {ref!r} was already used for invalidation {inv.id} with "
                    "other paths; use a new CallerReference for a new batch.",
                )
        running = [i for i in existing if i.status == IN_PROGRESS]
        plain = sum(1 for i in running for p in i.paths if not p.endswith("*"))
        wildcards = sum(1 for i in running for p in i.paths if p.endswith("*"))
        new_plain = sum(1 for p in paths if not p.endswith("*"))
        if plain + new_plain > MAX_PATHS or wildcards + len(paths) - new_plain > (
            MAX_WILDCARDS_IN_PROGRESS
        ):
            raise CloudFrontError(
                "TooManyInvalidationsInProgress",
                f"Distribution {dist_id} has {plain} paths and {wildcards} wildcard paths being "
                f"invalidated; AWS allows {MAX_PATHS} and {MAX_WILDCARDS_IN_PROGRESS}. "
                "Wait for them to complete.",
            )
        inv = StoredInvalidation(
            id=ids.invalidation_id(),
            distribution_id=dist_id,
            caller_reference=ref,
            paths=paths,
            create_time=datetime.now(UTC),
            completes_at=time.monotonic() + self._delay,
        )
        existing.append(inv)
        return self._created(dist_id, inv)

    @staticmethod
    def _created(dist_id: str, inv: StoredInvalidation) -> dict[str, Any]:
        return {
            "Location": (
                f"https://cloudfront.amazonaws.com/2020-05-31/distribution/{dist_id}"
                f"/invalidation/{inv.id}"
            ),
            "Invalidation": inv.document(),
        }

    def get(self, dist_id: str, inv_id: str) -> dict[str, Any]:
        for inv in self._by_dist.get(dist_id, []):
            if inv.id == inv_id:
                return {"Invalidation": inv.document()}
        raise CloudFrontError(
            "NoSuchInvalidation",
            f"Distribution {dist_id} has no invalidation {inv_id}.",
        )

    def list(self, dist_id: str, p: dict[str, Any]) -> dict[str, Any]:
        # Newest first, as AWS lists them; the marker is the id to start from.
        ordered = list(reversed(self._by_dist.get(dist_id, [])))
        marker = p.get("Marker") or ""
        start = next((i for i, inv in enumerate(ordered) if inv.id == marker), 0)
        return {
            "InvalidationList": marked_list_page(
                p,
                ordered[start:],
                lambda inv: inv.id,
                lambda inv: {"Id": inv.id, "CreateTime": inv.create_time, "Status": inv.status},
            )
        }

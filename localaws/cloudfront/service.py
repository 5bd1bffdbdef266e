"""The account's CloudFront state in one place, behind one lock, and the operations on it.

The control plane (HTTP, many threads) and the edges (HTTP, many threads) share this object. Every
operation runs under one lock: calls are microseconds, and one lock makes "the invalidation is
Completed" and "the edge no longer serves the old object" a single atomic step.

``snapshot`` and ``restore`` hand the account to and from ``state`` (the ``--state-file``);
``on_changed`` runs, still under the lock, after every call that changed the account, which is
when that file is written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from localaws.cloudfront.cache import EdgeCache
from localaws.cloudfront.distributions import DistributionStore, StoredDistribution
from localaws.cloudfront.errors import CloudFrontError
from localaws.cloudfront.functions import FunctionStore, StoredFunction
from localaws.cloudfront.invalidations import InvalidationStore, StoredInvalidation
from localaws.cloudfront.runtime import FunctionRun, run_function


@dataclass(frozen=True)
class EdgeView:
    """What one edge request needs, read atomically: the config and the LIVE functions."""

    distribution_id: str
    domain_name: str
    config: dict[str, Any]
    live_functions: dict[str, tuple[str, bytes]]  # ARN -> (name, LIVE code)
    cache: EdgeCache


# The operations that change the account: after each one that succeeds, ``on_changed`` runs.
MUTATIONS = frozenset(
    {
        "CreateFunction",
        "UpdateFunction",
        "PublishFunction",
        "DeleteFunction",
        "CreateDistribution",
        "CreateDistributionWithTags",
        "UpdateDistribution",
        "DeleteDistribution",
        "CreateInvalidation",
    }
)


@dataclass(frozen=True)
class Account:
    """The whole account at one instant: what ``state`` saves and restores."""

    functions: list[StoredFunction]
    distributions: list[StoredDistribution]
    invalidations: list[StoredInvalidation]  # each distribution's oldest first


class CloudFrontService:
    def __init__(
        self,
        *,
        invalidation_delay: float,
        deploy_delay: float = 0.0,
        run: Callable[[str, dict], FunctionRun] = run_function,
    ) -> None:
        self._lock = threading.RLock()
        self._run = run
        self.functions = FunctionStore(is_associated=self._function_in_use)
        self.distributions = DistributionStore(
            deploy_delay=deploy_delay,
            has_live_function=lambda arn: self.functions.live_code(arn) is not None,
            in_progress_invalidations=lambda dist_id: self.invalidations.in_progress(dist_id),
        )
        self.invalidations = InvalidationStore(
            delay=invalidation_delay, on_completed=self._invalidation_completed
        )
        self._caches: dict[str, EdgeCache] = {}
        # Called (under the lock) when a distribution appears, changes or goes: the edge
        # listeners follow the distributions.
        self.on_distribution_created: Callable[[StoredDistribution], None] = lambda d: None
        self.on_distribution_updated: Callable[[StoredDistribution], None] = lambda d: None
        self.on_distribution_deleted: Callable[[StoredDistribution], None] = lambda d: None
        self.on_changed: Callable[[], None] = lambda: None
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateFunction": self.functions.create,
            "DescribeFunction": self.functions.describe,
            "GetFunction": self.functions.get,
            "UpdateFunction": self.functions.update,
            "PublishFunction": self.functions.publish,
            "TestFunction": lambda p: self.functions.test(p, self._run),
            "ListFunctions": self.functions.list,
            "DeleteFunction": self.functions.delete,
            "CreateDistribution": lambda p: self._create_distribution(p["DistributionConfig"]),
            "CreateDistributionWithTags": lambda p: self._create_distribution(
                p["DistributionConfigWithTags"]["DistributionConfig"]
            ),
            "GetDistribution": self.distributions.get,
            "GetDistributionConfig": self.distributions.get_config,
            "ListDistributions": self.distributions.list,
            "UpdateDistribution": self._update_distribution,
            "DeleteDistribution": self._delete_distribution,
            "CreateInvalidation": self._create_invalidation,
            "GetInvalidation": self._get_invalidation,
            "ListInvalidations": self._list_invalidations,
        }

    @property
    def operations(self) -> frozenset[str]:
        return frozenset(self._operations)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._operations.get(operation)
        if handler is None:
            raise CloudFrontError(
                "UnsupportedOperation",
                f"{operation} is not implemented by the local CloudFront; it implements "
                f"{', '.join(sorted(self._operations))}.",
            )
        with self._lock:
            self.invalidations.settle()
            result = handler(params)
            if operation in MUTATIONS:
                self.on_changed()
            return result

    def snapshot(self) -> Account:
        """A copy of every record, consistent as of one instant (later calls do not change it)."""
        with self._lock:
            return Account(
                functions=[replace(fn) for fn in self.functions],
                distributions=[replace(dist) for dist in self.distributions],
                invalidations=[replace(inv) for inv in self.invalidations],
            )

    def restore(self, account: Account) -> None:
        """Load a saved account into this empty one; each distribution gets an empty cache.

        The edge listeners are not started here: the caller knows which port each one had.
        """
        with self._lock:
            for fn in account.functions:
                self.functions.add(fn)
            for dist in account.distributions:
                self.distributions.add(dist)
                self._caches[dist.id] = EdgeCache()
            for inv in account.invalidations:
                self.invalidations.add(inv)
            self.invalidations.settle()

    def edge_view(self, dist_id: str) -> EdgeView | None:
        """The distribution as an edge request sees it now, after due invalidations evicted."""
        with self._lock:
            self.invalidations.settle()
            try:
                dist = self.distributions.get_stored(dist_id)
            except CloudFrontError:
                return None
            live = {}
            for arn in dist.function_arns():
                code = self.functions.live_code(arn)
                if code is not None:
                    live[arn] = code
            return EdgeView(dist.id, dist.domain_name, dist.config, live, self._caches[dist.id])

    # --- glue between the stores -----------------------------------------------------------------

    def _function_in_use(self, arn: str) -> bool:
        return self.distributions.uses_function(arn)

    def _invalidation_completed(self, inv: StoredInvalidation) -> None:
        cache = self._caches.get(inv.distribution_id)
        if cache is not None:
            cache.invalidate(inv.paths)

    def _create_distribution(self, config: dict[str, Any]) -> dict[str, Any]:
        dist, result = self.distributions.create(config)
        self._caches[dist.id] = EdgeCache()
        self.on_distribution_created(dist)
        return result

    def _update_distribution(self, p: dict[str, Any]) -> dict[str, Any]:
        dist, result = self.distributions.update(p)
        self.on_distribution_updated(dist)
        return result

    def _delete_distribution(self, p: dict[str, Any]) -> dict[str, Any]:
        dist = self.distributions.delete(p)
        self.invalidations.forget(dist.id)
        self._caches.pop(dist.id, None)
        self.on_distribution_deleted(dist)
        return {}

    def _create_invalidation(self, p: dict[str, Any]) -> dict[str, Any]:
        dist = self.distributions.get_stored(p["DistributionId"])
        return self.invalidations.create(dist.id, p["InvalidationBatch"])

    def _get_invalidation(self, p: dict[str, Any]) -> dict[str, Any]:
        dist = self.distributions.get_stored(p["DistributionId"])
        return self.invalidations.get(dist.id, p["Id"])

    def _list_invalidations(self, p: dict[str, Any]) -> dict[str, Any]:
        dist = self.distributions.get_stored(p["DistributionId"])
        return self.invalidations.list(dist.id, p)

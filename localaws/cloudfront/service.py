"""The account's CloudFront state in one place, behind one lock, and the operations on it.

The control plane (HTTP, many threads) and the edges (HTTP, many threads) share this object. Every
operation runs under one lock: calls are microseconds, and one lock makes "the invalidation is
Completed" and "the edge no longer serves the old object" a single atomic step.

``snapshot`` and ``restore`` hand the account to and from ``state`` (the ``--state-file``);
``on_changed`` runs, still under the lock, after every call that changed the account, which is
when that file is written.

Two APIs meet here: the control plane (``call``) and the key value store data plane
(``call_data``), whose operation names overlap (both have a DescribeKeyValueStore). An import from
S3 for CreateKeyValueStore is read before the lock is taken: a slow or absent moto must not stall
the edges.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from localaws.cloudfront.cache import EdgeCache
from localaws.cloudfront.distributions import DistributionStore, StoredDistribution
from localaws.cloudfront.errors import CloudFrontError
from localaws.cloudfront.functions import FunctionStore, StoredFunction
from localaws.cloudfront.invalidations import InvalidationStore, StoredInvalidation
from localaws.cloudfront.keyvaluestores import KeyValueStores, StoredKeyValueStore, read_import
from localaws.cloudfront.kvsdata import DataPlane
from localaws.cloudfront.runtime import DEFAULT_RUNTIME, FunctionRunner, KvsView, run_function


@dataclass(frozen=True)
class LiveFunction:
    """A function's LIVE stage as an edge runs it."""

    name: str
    code: bytes
    kvs: KvsView | None  # its key value store as the edges read it now; None: no association
    runtime: str = DEFAULT_RUNTIME  # FunctionConfig.Runtime: which built-ins the code gets


@dataclass(frozen=True)
class EdgeView:
    """What one edge request needs, read atomically: the config and the LIVE functions."""

    distribution_id: str
    domain_name: str
    config: dict[str, Any]
    live_functions: dict[str, LiveFunction]  # by function ARN
    cache: EdgeCache


def _no_s3(bucket: str, key: str) -> bytes:
    raise OSError("this local CloudFront was started without an S3 endpoint")


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
        "CreateKeyValueStore",
        "UpdateKeyValueStore",
        "DeleteKeyValueStore",
    }
)
# The data plane's operations that change a store's keys.
DATA_MUTATIONS = frozenset({"PutKey", "DeleteKey", "UpdateKeys"})
# Where CreateKeyValueStore's parameters carry the keys read from its ImportSource (no model
# member has this name).
_IMPORTED = "_imported_items"


@dataclass(frozen=True)
class Account:
    """The whole account at one instant: what ``state`` saves and restores."""

    functions: list[StoredFunction]
    distributions: list[StoredDistribution]
    invalidations: list[StoredInvalidation]  # each distribution's oldest first
    key_value_stores: list[StoredKeyValueStore] = field(default_factory=list)


class CloudFrontService:
    def __init__(
        self,
        *,
        invalidation_delay: float,
        deploy_delay: float = 0.0,
        kvs_propagation_delay: float = 0.0,
        run: FunctionRunner = run_function,
        read_s3_object: Callable[[str, str], bytes] = _no_s3,
    ) -> None:
        self._lock = threading.RLock()
        self._run = run
        self._read_s3_object = read_s3_object
        self.functions = FunctionStore(
            is_associated=self._function_in_use,
            store_exists=lambda arn: self.key_value_stores.by_arn(arn) is not None,
        )
        self.key_value_stores = KeyValueStores(in_use=self.functions.uses_store)
        self.kvs_data = DataPlane(self.key_value_stores, propagation_delay=kvs_propagation_delay)
        self.distributions = DistributionStore(
            deploy_delay=deploy_delay,
            has_live_function=lambda arn: self.functions.live_copy(arn) is not None,
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
            "TestFunction": lambda p: self.functions.test(p, self._run, self._current_view),
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
            "CreateKeyValueStore": lambda p: self.key_value_stores.create(p, p.get(_IMPORTED)),
            "DescribeKeyValueStore": self.key_value_stores.describe,
            "ListKeyValueStores": self.key_value_stores.list,
            "UpdateKeyValueStore": self.key_value_stores.update,
            "DeleteKeyValueStore": self.key_value_stores.delete,
        }
        self._data_operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "DescribeKeyValueStore": self.kvs_data.describe,
            "GetKey": self.kvs_data.get_key,
            "PutKey": self.kvs_data.put_key,
            "DeleteKey": self.kvs_data.delete_key,
            "ListKeys": self.kvs_data.list_keys,
            "UpdateKeys": self.kvs_data.update_keys,
        }

    @property
    def operations(self) -> frozenset[str]:
        return frozenset(self._operations)

    @property
    def data_operations(self) -> frozenset[str]:
        return frozenset(self._data_operations)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """A control-plane (2020-05-31) operation."""
        handler = self._operations.get(operation)
        if handler is None:
            raise CloudFrontError(
                "UnsupportedOperation",
                f"{operation} is not implemented by the local CloudFront; it implements "
                f"{', '.join(sorted(self._operations))}.",
            )
        if operation == "CreateKeyValueStore" and params.get("ImportSource"):
            imported = read_import(params["ImportSource"], self._read_s3_object)
            params = {**params, _IMPORTED: imported}
        with self._lock:
            self.invalidations.settle()
            result = handler(params)
            if operation in MUTATIONS:
                self.on_changed()
            return result

    def call_data(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """A key value store data-plane (``cloudfront-keyvaluestore``) operation."""
        handler = self._data_operations.get(operation)
        if handler is None:
            raise CloudFrontError(
                "ValidationException",
                f"{operation} is not implemented by the local key value store data plane; it "
                f"implements {', '.join(sorted(self._data_operations))}.",
            )
        with self._lock:
            result = handler(params)
            if operation in DATA_MUTATIONS:
                self.on_changed()
            return result

    def set_edge_readable(self, name: str, readable: bool) -> bool:
        """Make the store's reads at the edge fail (or work again), so a function's fallback can
        be tested; False if there is no such store. Not kept across a restart."""
        with self._lock:
            try:
                store = self.key_value_stores.get_stored(name)
            except CloudFrontError:
                return False
            store.edge_readable = readable
            return True

    def snapshot(self) -> Account:
        """A copy of every record, consistent as of one instant (later calls do not change it)."""
        with self._lock:
            return Account(
                functions=[replace(fn) for fn in self.functions],
                distributions=[replace(dist) for dist in self.distributions],
                invalidations=[replace(inv) for inv in self.invalidations],
                # The current data only: older versions live just for the edges' delay.
                key_value_stores=[
                    replace(store, versions=[store.data]) for store in self.key_value_stores
                ],
            )

    def restore(self, account: Account) -> None:
        """Load a saved account into this empty one; each distribution gets an empty cache.

        The edge listeners are not started here: the caller knows which port each one had.
        """
        with self._lock:
            for store in account.key_value_stores:
                self.key_value_stores.add(store)
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
                found = self.functions.live_copy(arn)
                if found is not None:
                    name, copy = found
                    kvs = self._edge_view_of(copy.kvs_arns[0]) if copy.kvs_arns else None
                    live[arn] = LiveFunction(name, copy.code, kvs, copy.runtime)
            return EdgeView(dist.id, dist.domain_name, dist.config, live, self._caches[dist.id])

    # --- glue between the stores -----------------------------------------------------------------

    def _current_view(self, store_arn: str) -> KvsView:
        store = self.key_value_stores.by_arn(store_arn)
        return KvsView(None) if store is None else self.kvs_data.current_view(store)

    def _edge_view_of(self, store_arn: str) -> KvsView:
        store = self.key_value_stores.by_arn(store_arn)
        return KvsView(None) if store is None else self.kvs_data.edge_view(store)

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

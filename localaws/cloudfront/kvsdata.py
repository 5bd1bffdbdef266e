"""The key value store data plane (``cloudfront-keyvaluestore``): keys, their ETag, propagation.

Every write (PutKey, DeleteKey, UpdateKeys) takes ``IfMatch`` = the store's current data ETag and
returns the new one: a stale ETag is ``ConflictException``, so two writers never lose each other's
keys. A missing store or key is ``ResourceNotFoundException``; AWS's limits are enforced with the
codes AWS uses: ``ValidationException`` for a key over 512 bytes, a value over 1 KB, more than 50
changes in one UpdateKeys or a bad page request, ``ServiceQuotaExceededException`` for a store
that would pass 5 MB. UpdateKeys is all or nothing; a key it deletes that is not there is no error
(the call's aim, the key being gone, holds).

Propagation: AWS copies a write to its edge locations within seconds, so a function at the edge
keeps reading the old value for a while. Here the edge reads each store as it was
``propagation_delay`` seconds ago (``--kvs-propagation-delay``); GetKey and TestFunction read it
as it is now. A store's versions are kept just as long as an edge may still read one.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import time
from datetime import UTC, datetime
from typing import Any

from localaws.cloudfront import ids
from localaws.cloudfront.errors import CloudFrontError
from localaws.cloudfront.keyvaluestores import (
    MAX_STORE_BYTES,
    READY,
    DataVersion,
    KeyValueStores,
    StoredKeyValueStore,
    check_key,
    check_value,
    data_size,
)
from localaws.cloudfront.runtime import KvsView

# UpdateKeys takes at most 50 puts and deletes together (AWS's quota for one request).
MAX_UPDATE_KEYS = 50
# ListKeys: 10 keys a page unless MaxResults says otherwise, at most 50 (the model's bounds).
DEFAULT_LIST_RESULTS = 10
MAX_LIST_RESULTS = 50


def _validation(message: str) -> CloudFrontError:
    return CloudFrontError("ValidationException", message)


def _summary(data: DataVersion) -> dict[str, Any]:
    return {"ItemCount": len(data.items), "TotalSizeInBytes": data.size}


class DataPlane:
    """The data-plane operations on the account's stores. Not thread-safe: the service's lock."""

    def __init__(self, stores: KeyValueStores, *, propagation_delay: float) -> None:
        self._stores = stores
        self._delay = propagation_delay

    def _store(self, arn: str) -> StoredKeyValueStore:
        store = self._stores.by_arn(arn)
        if store is None:
            raise CloudFrontError(
                "ResourceNotFoundException", f"The key value store {arn} does not exist."
            )
        return store

    # --- what functions read ---------------------------------------------------------------------

    def current_view(self, store: StoredKeyValueStore) -> KvsView:
        """The store as TestFunction reads it: every write so far."""
        return KvsView(store.data.items, store.id, store.created, store.data.modified)

    def edge_view(self, store: StoredKeyValueStore) -> KvsView:
        """The store as an edge reads it now: as it was ``propagation_delay`` seconds ago."""
        self._forget_unreachable(store, time.monotonic())
        data = store.versions[0]
        items = data.items if store.edge_readable else None
        return KvsView(items, store.id, store.created, data.modified)

    def _forget_unreachable(self, store: StoredKeyValueStore, now: float) -> None:
        """Drop the versions no edge can read any more: all before the newest one written at least
        ``propagation_delay`` ago, which is what the edges read (the first version always is)."""
        horizon = now - self._delay
        reached = 0
        for i, version in enumerate(store.versions):
            if version.written_at <= horizon:
                reached = i
        del store.versions[:reached]

    def _write(self, store: StoredKeyValueStore, items: dict[str, str]) -> dict[str, Any]:
        size = data_size(items)
        if size > MAX_STORE_BYTES:
            raise CloudFrontError(
                "ServiceQuotaExceededException",
                f"The key value store would hold {size} bytes; at most {MAX_STORE_BYTES} (5 MB).",
            )
        now = time.monotonic()
        self._forget_unreachable(store, now)
        data = DataVersion(
            items, ids.key_value_store_data_etag(), datetime.now(UTC), size, written_at=now
        )
        store.versions.append(data)
        return {**_summary(data), "ETag": data.etag}

    @staticmethod
    def _check_if_match(store: StoredKeyValueStore, if_match: str | None) -> None:
        if not if_match:
            raise _validation("IfMatch (the store's ETag from DescribeKeyValueStore) is required.")
        if if_match != store.data.etag:
            raise CloudFrontError(
                "ConflictException",
                f"The If-Match version {if_match!r} is not the current ETag of the key value "
                "store; describe it again and retry with the new ETag.",
            )

    # --- operations ------------------------------------------------------------------------------

    def describe(self, p: dict[str, Any]) -> dict[str, Any]:
        store = self._store(p["KvsARN"])
        return {
            **_summary(store.data),
            "KvsARN": store.arn,
            "Created": store.created,
            "ETag": store.data.etag,
            "LastModified": store.data.modified,
            "Status": READY,
        }

    def get_key(self, p: dict[str, Any]) -> dict[str, Any]:
        store = self._store(p["KvsARN"])
        value = store.data.items.get(p["Key"])
        if value is None:
            raise CloudFrontError(
                "ResourceNotFoundException", f"The key {p['Key']!r} does not exist in the store."
            )
        return {"Key": p["Key"], "Value": value, **_summary(store.data)}

    def put_key(self, p: dict[str, Any]) -> dict[str, Any]:
        store = self._store(p["KvsARN"])
        key, value = p["Key"], p["Value"]
        check_key(key)
        check_value(key, value)
        self._check_if_match(store, p.get("IfMatch"))
        return self._write(store, {**store.data.items, key: value})

    def delete_key(self, p: dict[str, Any]) -> dict[str, Any]:
        store = self._store(p["KvsARN"])
        check_key(p["Key"])
        self._check_if_match(store, p.get("IfMatch"))
        if p["Key"] not in store.data.items:
            raise CloudFrontError(
                "ResourceNotFoundException", f"The key {p['Key']!r} does not exist in the store."
            )
        items = dict(store.data.items)
        del items[p["Key"]]
        return self._write(store, items)

    def update_keys(self, p: dict[str, Any]) -> dict[str, Any]:
        store = self._store(p["KvsARN"])
        puts = [(item["Key"], item["Value"]) for item in p.get("Puts") or []]
        deletes = [item["Key"] for item in p.get("Deletes") or []]
        if len(puts) + len(deletes) > MAX_UPDATE_KEYS:
            raise _validation(
                f"UpdateKeys takes at most {MAX_UPDATE_KEYS} puts and deletes together; this "
                f"request has {len(puts) + len(deletes)}."
            )
        named = [key for key, _ in puts] + deletes
        if len(set(named)) != len(named):
            raise _validation("UpdateKeys names a key more than once.")
        for key, value in puts:
            check_key(key)
            check_value(key, value)
        for key in deletes:
            check_key(key)
        self._check_if_match(store, p.get("IfMatch"))
        if not named:
            return {**_summary(store.data), "ETag": store.data.etag}
        items = {**store.data.items, **dict(puts)}
        for key in deletes:
            items.pop(key, None)
        return self._write(store, items)

    def list_keys(self, p: dict[str, Any]) -> dict[str, Any]:
        store = self._store(p["KvsARN"])
        size = p.get("MaxResults", DEFAULT_LIST_RESULTS)
        if not 1 <= size <= MAX_LIST_RESULTS:
            raise _validation(f"MaxResults must be 1 to {MAX_LIST_RESULTS}, not {size}.")
        keys = sorted(store.data.items)
        start = bisect.bisect_left(keys, _token_key(p["NextToken"])) if p.get("NextToken") else 0
        shown = keys[start : start + size]
        result: dict[str, Any] = {
            "Items": [{"Key": k, "Value": store.data.items[k]} for k in shown]
        }
        if start + size < len(keys):
            result["NextToken"] = _key_token(keys[start + size])
        return result


def _key_token(key: str) -> str:
    """A NextToken: the key the next page starts from, opaque to the caller as AWS's are."""
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")


def _token_key(token: str) -> str:
    try:
        return base64.b64decode(token, altchars=b"-_", validate=True).decode("utf-8")
    except (UnicodeError, ValueError, binascii.Error):
        raise _validation(f"NextToken {token!r} is not one this store handed out.") from None

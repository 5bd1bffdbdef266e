"""Key value stores: the control plane's records (Create/Describe/List/Update/Delete), their data,
and the limits AWS puts on both.

A store has two version stamps. The control plane's ``ETag`` (DescribeKeyValueStore of the
2020-05-31 API) guards its metadata: UpdateKeyValueStore (the comment) and DeleteKeyValueStore
take it as ``IfMatch``, with CloudFront's ``InvalidIfMatchVersion`` and ``PreconditionFailed``.
The data plane's ETag (``kvsdata``) guards the keys. A store cannot be deleted while any
function, in either stage, is associated with it (``CannotDeleteEntityWhileInUse``).

The data is kept as a list of immutable versions, oldest first, the last the current one: a write
makes a new mapping instead of changing one, so a view handed to a function run, an edge still
serving an older version, or a snapshot for the state file never sees a later write.

CreateKeyValueStore may import its first keys from S3 (``ImportSource``: a JSON document
``{"data": [{"key": ..., "value": ...}]}``). AWS creates such a store at once and reports a file
it cannot import as a failed provisioning later; here the file is read during the call and a file
that cannot be imported is refused with the reason, so a caller learns the same thing sooner.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localaws.cloudfront import ids
from localaws.cloudfront.errors import CloudFrontError, check_if_match, invalid_argument
from localaws.cloudfront.paging import list_page

READY = "READY"
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}\Z")  # the model's KeyValueStoreName pattern
# The model's KeyValueStoreComment length.
MAX_COMMENT_CHARS = 128
# AWS's quotas: 50 stores per account; a key at most 512 bytes and a value 1 KB; a store (and an
# import file) at most 5 MB in all.
MAX_STORES = 50
MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 1024
MAX_STORE_BYTES = 5 * 1024 * 1024
_S3_OBJECT_ARN = re.compile(r"arn:aws:s3:::(?P<bucket>[^/]+)/(?P<key>.+)\Z")


@dataclass(frozen=True)
class DataVersion:
    """One version of a store's keys, never changed once made."""

    items: Mapping[str, str]
    etag: str  # the data plane's ETag for exactly these items
    modified: datetime
    size: int  # TotalSizeInBytes: the UTF-8 bytes of every key and value
    # time.monotonic() of the write; -inf for data every edge had from its start
    written_at: float = float("-inf")


def data_size(items: Mapping[str, str]) -> int:
    return sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in items.items())


def first_version(items: Mapping[str, str], etag: str | None = None) -> DataVersion:
    """The data a store starts with (created, imported or loaded): at every edge already."""
    return DataVersion(
        dict(items), etag or ids.key_value_store_data_etag(), datetime.now(UTC), data_size(items)
    )


@dataclass
class StoredKeyValueStore:
    name: str
    id: str
    arn: str
    comment: str
    created: datetime
    last_modified: datetime  # of the metadata (LastModifiedTime); the data has its own
    etag: str  # the control plane's
    versions: list[DataVersion]  # oldest first; the last is the current data
    # False: edges cannot read it (the local route ``/_localaws/key-value-stores``); not saved
    edge_readable: bool = field(default=True, compare=False)

    @property
    def data(self) -> DataVersion:
        return self.versions[-1]

    def document(self) -> dict[str, Any]:
        """The ``KeyValueStore`` structure of the control plane's responses."""
        return {
            "Name": self.name,
            "Id": self.id,
            "Comment": self.comment,
            "ARN": self.arn,
            "Status": READY,
            "LastModifiedTime": self.last_modified,
        }


def check_key(key: str) -> None:
    size = len(key.encode("utf-8"))
    if not 1 <= size <= MAX_KEY_BYTES:
        raise CloudFrontError(
            "ValidationException", f"A key is 1 to {MAX_KEY_BYTES} bytes; this one is {size}."
        )


def check_value(key: str, value: str) -> None:
    size = len(value.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise CloudFrontError(
            "ValidationException",
            f"The value of {key!r} is {size} bytes; a value is at most {MAX_VALUE_BYTES} bytes.",
        )


def parse_import(source_arn: str, raw: bytes) -> dict[str, str]:
    """The keys of an import file, or why CloudFront would not import it."""
    if len(raw) > MAX_STORE_BYTES:
        raise CloudFrontError(
            "EntitySizeLimitExceeded",
            f"The import file {source_arn} is {len(raw)} bytes; at most {MAX_STORE_BYTES}.",
        )
    try:
        doc = json.loads(raw.decode("utf-8"))
        entries = doc["data"]
        pairs = [(entry["key"], entry["value"]) for entry in entries]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise invalid_argument(
            f'The import file {source_arn} is not UTF-8 JSON of the form {{"data": [{{"key": '
            f'"...", "value": "..."}}]}} ({exc!r}).'
        ) from None
    items: dict[str, str] = {}
    for key, value in pairs:
        if not isinstance(key, str) or not isinstance(value, str):
            raise invalid_argument(f"The import file {source_arn}: keys and values are strings.")
        if key in items:
            raise invalid_argument(f"The import file {source_arn} has the key {key!r} twice.")
        try:
            check_key(key)
            check_value(key, value)
        except CloudFrontError as exc:
            raise invalid_argument(f"The import file {source_arn}: {exc.message}") from None
        items[key] = value
    return items


def read_import(source: dict[str, Any], read_object: Callable[[str, str], bytes]) -> dict[str, str]:
    """The keys ``ImportSource`` names, read from S3 with ``read_object(bucket, key)``."""
    kind = source.get("SourceType")
    if kind != "S3":
        raise invalid_argument(f"ImportSource.SourceType must be S3, not {kind!r}.")
    arn = source.get("SourceARN", "")
    m = _S3_OBJECT_ARN.match(arn)
    if m is None:
        raise invalid_argument(
            f"ImportSource.SourceARN must be an S3 object ARN (arn:aws:s3:::bucket/key), "
            f"not {arn!r}."
        )
    try:
        raw = read_object(m["bucket"], m["key"])
    except OSError as exc:
        raise invalid_argument(f"CloudFront could not read the import file {arn}: {exc}") from None
    return parse_import(arn, raw)


class KeyValueStores:
    """Every key value store of the account. Not thread-safe: the service holds its lock."""

    def __init__(self, in_use: Callable[[str], bool]) -> None:
        # Whether a function (either stage) is associated with the store's ARN.
        self._in_use = in_use
        self._by_name: dict[str, StoredKeyValueStore] = {}

    def __iter__(self) -> Iterator[StoredKeyValueStore]:
        return iter(list(self._by_name.values()))

    def add(self, store: StoredKeyValueStore) -> None:
        """Put back a store saved earlier (see ``state``), ids and ETags as they were."""
        self._by_name[store.name] = store

    def get_stored(self, name: str) -> StoredKeyValueStore:
        store = self._by_name.get(name)
        if store is None:
            raise CloudFrontError("EntityNotFound", f"The key value store {name} does not exist.")
        return store

    def by_arn(self, arn: str) -> StoredKeyValueStore | None:
        return next((s for s in self._by_name.values() if s.arn == arn), None)

    # --- operations ------------------------------------------------------------------------------

    def create(self, p: dict[str, Any], imported: dict[str, str] | None) -> dict[str, Any]:
        """CreateKeyValueStore; ``imported`` is what ``read_import`` read (before the lock)."""
        name = p["Name"]
        if not _NAME.match(name):
            raise invalid_argument(
                f"Key value store name {name!r} must be 1-64 letters, digits, - and _."
            )
        comment = _check_comment(p.get("Comment", ""))
        if name in self._by_name:
            raise CloudFrontError(
                "EntityAlreadyExists", f"A key value store named {name} already exists."
            )
        if len(self._by_name) >= MAX_STORES:
            raise CloudFrontError(
                "EntityLimitExceeded",
                f"The account has {MAX_STORES} key value stores, as many as CloudFront allows.",
            )
        store_id = ids.key_value_store_id()
        now = datetime.now(UTC)
        store = StoredKeyValueStore(
            name=name,
            id=store_id,
            arn=ids.key_value_store_arn(store_id),
            comment=comment,
            created=now,
            last_modified=now,
            etag=ids.etag(),
            versions=[first_version(imported or {})],
        )
        self._by_name[name] = store
        return {
            "KeyValueStore": store.document(),
            "ETag": store.etag,
            "Location": f"https://cloudfront.amazonaws.com/2020-05-31/key-value-store/{name}",
        }

    def describe(self, p: dict[str, Any]) -> dict[str, Any]:
        store = self.get_stored(p["Name"])
        return {"KeyValueStore": store.document(), "ETag": store.etag}

    def update(self, p: dict[str, Any]) -> dict[str, Any]:
        store = self.get_stored(p["Name"])
        check_if_match(p.get("IfMatch"), store.etag, f"key value store {store.name}")
        store.comment = _check_comment(p["Comment"])
        store.etag = ids.etag()
        store.last_modified = datetime.now(UTC)
        return {"KeyValueStore": store.document(), "ETag": store.etag}

    def delete(self, p: dict[str, Any]) -> dict[str, Any]:
        store = self.get_stored(p["Name"])
        check_if_match(p.get("IfMatch"), store.etag, f"key value store {store.name}")
        if self._in_use(store.arn):
            raise CloudFrontError(
                "CannotDeleteEntityWhileInUse",
                f"Key value store {store.name} is associated with a function; remove the "
                "association (UpdateFunction, and PublishFunction for LIVE) before deleting it.",
            )
        del self._by_name[store.name]
        return {}

    def list(self, p: dict[str, Any]) -> dict[str, Any]:
        status = p.get("Status")
        marker = p.get("Marker") or ""
        remaining = [
            store
            for name, store in sorted(self._by_name.items())
            if name >= marker and status in (None, "", READY)
        ]
        return {
            "KeyValueStoreList": list_page(
                p, remaining, lambda s: s.name, StoredKeyValueStore.document
            )
        }


def _check_comment(comment: str) -> str:
    if len(comment) > MAX_COMMENT_CHARS:
        raise invalid_argument(
            f"The comment is {len(comment)} characters; at most {MAX_COMMENT_CHARS}."
        )
    return comment

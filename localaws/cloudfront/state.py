"""The account in a JSON file (``--state-file``), so a restarted local CloudFront is the same one.

What a restart keeps: every function (both stages, code, ETags, ARN, times, key value store
association), every distribution (id, ARN, domain name, config, ETag, status, and the port its
edge listened on), every invalidation (id, batch, status, create time) and every key value store
(name, id, ARN, comment, both ETags, times, and its keys). Clients that remembered an id or an
ETag before the restart go on working with it, and a person's edge URL stays the same. A store's
keys are kept as they are now: the edges of the restarted process read them at once, as edges
whose propagation delay has passed would (a restart takes longer than that delay).

What it does not keep: the edge caches. A restart is a cold cache, as a new CloudFront edge
location would be: every first request after it is a ``Miss`` that goes to the origin. Cached
responses are bulky, short-lived and rebuilt by the next request, so saving them would only make
the file large and let a restart serve something stale that an invalidation was meant to clear.

Deadlines (a distribution's deployment, an invalidation's completion) run on the monotonic clock
in memory, which means nothing in another process, so they are written as wall-clock times: an
invalidation still InProgress when the process stopped is Completed at load if its delay has
passed by then, and otherwise completes when it would have.

The file is written after every successful call that changes the account and on SIGTERM, always
to a temporary file that then replaces it (``os.replace``), so a reader or a crash mid-write never
sees half a file. ``schema_version`` says which layout it has; a file this code cannot read stops
the start-up with an error naming it, never a silently empty account. Version 1 files (from
before key value stores) load as an account without stores and functions without associations.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localaws.cloudfront.distributions import StoredDistribution
from localaws.cloudfront.functions import StageCopy, StoredFunction
from localaws.cloudfront.invalidations import COMPLETED, IN_PROGRESS, StoredInvalidation
from localaws.cloudfront.keyvaluestores import DataVersion, StoredKeyValueStore, data_size
from localaws.cloudfront.service import Account

# 2 added key value stores and function associations; 1 is still read.
SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
_DEPLOYED = "Deployed"


class StateFileError(Exception):
    """The state file exists but cannot be loaded; the message names it and says what to do."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(
            f"cannot load the local CloudFront state from {path}: {why}. Delete the file to "
            "start with an empty account (functions and distributions are then created afresh)."
        )


@dataclass(frozen=True)
class SavedState:
    account: Account
    edge_ports: dict[str, int]  # distribution id -> the port its edge listened on


# --- writing -------------------------------------------------------------------------------------


def save(path: Path, account: Account, edge_ports: dict[str, int]) -> None:
    """Write the account to ``path`` atomically.

    No fsync: ``os.replace`` already keeps the file whole for readers and across a crash of this
    process; only a power cut could lose the last change, which a local emulator can afford, while
    an fsync on every API call would slow every test that drives it.
    """
    text = json.dumps(_document(account, edge_ports), indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _document(account: Account, edge_ports: dict[str, int]) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "saved_at": datetime.now(UTC).isoformat(),
        "functions": [
            {
                "name": fn.name,
                "arn": fn.arn,
                "created": fn.created.isoformat(),
                "development": _stage_document(fn.development),
                "live": _stage_document(fn.live) if fn.live else None,
            }
            for fn in account.functions
        ],
        "distributions": [
            {
                "id": dist.id,
                "arn": dist.arn,
                "domain_name": dist.domain_name,
                "etag": dist.etag,
                "last_modified": dist.last_modified.isoformat(),
                "status": dist.status,
                "deployed_at": _wall_clock(dist.deployed_at),
                "edge_port": edge_ports.get(dist.id),
                "config": dist.config,
            }
            for dist in account.distributions
        ],
        "invalidations": [
            {
                "id": inv.id,
                "distribution_id": inv.distribution_id,
                "caller_reference": inv.caller_reference,
                "paths": inv.paths,
                "create_time": inv.create_time.isoformat(),
                "status": inv.status,
                "completes_at": _wall_clock(inv.completes_at),
            }
            for inv in account.invalidations
        ],
        "key_value_stores": [
            {
                "name": store.name,
                "id": store.id,
                "arn": store.arn,
                "comment": store.comment,
                "created": store.created.isoformat(),
                "last_modified": store.last_modified.isoformat(),
                "etag": store.etag,
                "data_etag": store.data.etag,
                "data_modified": store.data.modified.isoformat(),
                # Pairs, not an object: the order the keys were written in is kept too.
                "items": [[key, value] for key, value in store.data.items.items()],
            }
            for store in account.key_value_stores
        ],
    }


def _stage_document(copy: StageCopy) -> dict[str, Any]:
    return {
        # Base64: function code is bytes as the API received it, not necessarily UTF-8.
        "code_base64": base64.b64encode(copy.code).decode("ascii"),
        "comment": copy.comment,
        "runtime": copy.runtime,
        "etag": copy.etag,
        "last_modified": copy.last_modified.isoformat(),
        "kvs_arns": list(copy.kvs_arns),
    }


def _wall_clock(monotonic_deadline: float) -> float:
    return time.time() + (monotonic_deadline - time.monotonic())


# --- reading -------------------------------------------------------------------------------------


def load(path: Path) -> SavedState | None:
    """The account saved at ``path``; None if there is no such file (a first start)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(path, f"it cannot be read ({exc})") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateFileError(path, f"it is not JSON ({exc})") from exc
    version = doc.get("schema_version") if isinstance(doc, dict) else None
    if version not in READABLE_VERSIONS:
        raise StateFileError(
            path,
            f"its schema_version is {version!r}; this version reads "
            f"{' and '.join(map(str, READABLE_VERSIONS))}",
        )
    try:
        return _saved_state(doc)
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
        raise StateFileError(path, f"a record is missing or malformed ({exc!r})") from exc


def _saved_state(doc: dict[str, Any]) -> SavedState:
    stores = [_key_value_store(k) for k in doc.get("key_value_stores", [])]
    store_arns = {store.arn for store in stores}
    functions = [
        StoredFunction(
            name=f["name"],
            arn=f["arn"],
            created=_time(f["created"]),
            development=_stage(f["development"]),
            live=_stage(f["live"]) if f["live"] is not None else None,
        )
        for f in doc["functions"]
    ]
    for fn in functions:
        for copy in (fn.development, fn.live):
            unknown = set(copy.kvs_arns) - store_arns if copy else set()
            if unknown:
                raise ValueError(f"function {fn.name} names unknown key value store {unknown}")
    distributions = [
        StoredDistribution(
            id=d["id"],
            arn=d["arn"],
            domain_name=d["domain_name"],
            config=dict(d["config"]),
            etag=d["etag"],
            last_modified=_time(d["last_modified"]),
            deployed_at=_deadline(float(d["deployed_at"]), done=d["status"] == _DEPLOYED),
        )
        for d in doc["distributions"]
    ]
    known = {d.id for d in distributions}
    invalidations = []
    for i in doc["invalidations"]:
        if i["distribution_id"] not in known:
            raise ValueError(f"invalidation {i['id']} names unknown distribution")
        if i["status"] not in (IN_PROGRESS, COMPLETED):
            raise ValueError(f"invalidation {i['id']} has status {i['status']!r}")
        invalidations.append(
            StoredInvalidation(
                id=i["id"],
                distribution_id=i["distribution_id"],
                caller_reference=i["caller_reference"],
                paths=[str(p) for p in i["paths"]],
                create_time=_time(i["create_time"]),
                completes_at=_deadline(float(i["completes_at"]), done=i["status"] == COMPLETED),
                status=i["status"],
            )
        )
    ports = {d["id"]: int(d["edge_port"]) for d in doc["distributions"] if d["edge_port"]}
    return SavedState(Account(functions, distributions, invalidations, stores), ports)


def _stage(doc: dict[str, Any]) -> StageCopy:
    return StageCopy(
        code=base64.b64decode(doc["code_base64"], validate=True),
        comment=doc["comment"],
        runtime=doc["runtime"],
        etag=doc["etag"],
        last_modified=_time(doc["last_modified"]),
        kvs_arns=tuple(str(arn) for arn in doc.get("kvs_arns", [])),
    )


def _key_value_store(doc: dict[str, Any]) -> StoredKeyValueStore:
    items: dict[str, str] = {}
    for key, value in doc["items"]:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"key value store {doc['name']} has a key or value that is no string")
        items[key] = value
    # Written long enough ago for every edge: a restarted process's edges read it at once.
    data = DataVersion(items, doc["data_etag"], _time(doc["data_modified"]), data_size(items))
    return StoredKeyValueStore(
        name=doc["name"],
        id=doc["id"],
        arn=doc["arn"],
        comment=doc["comment"],
        created=_time(doc["created"]),
        last_modified=_time(doc["last_modified"]),
        etag=doc["etag"],
        versions=[data],
    )


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no time zone")
    return value


def _deadline(wall_clock: float, *, done: bool) -> float:
    """A saved wall-clock deadline on this process's monotonic clock; one already reached stays
    reached even if the wall clock has since been set back."""
    now = time.monotonic()
    deadline = now + (wall_clock - time.time())
    return min(deadline, now) if done else deadline

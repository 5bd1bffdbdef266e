"""CloudFront Functions: the DEVELOPMENT and LIVE stages, their ETags, and TestFunction.

AWS keeps two copies of a function. Create and Update write DEVELOPMENT; Publish copies DEVELOPMENT
to LIVE; the edge only ever runs LIVE. Each stage has its own ETag: Describe/Get with ``Stage``
return that stage's, and Update, Publish and Test take ``IfMatch`` = the ETag of the stage they
act on (DEVELOPMENT for Update and Publish). A stale ETag is ``PreconditionFailed``, a missing one
``InvalidIfMatchVersion``: the locking the release DAG relies on so two publishers never clobber
each other.

``FunctionConfig.KeyValueStoreAssociations`` belongs to the stage like the code: Create and Update
set DEVELOPMENT's, Publish carries it to LIVE. AWS allows it on cloudfront-js-2.0 only, one store
at most, and the store must exist; TestFunction runs with the store's current data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from localaws.cloudfront import ids, runtime, runtime_builtins
from localaws.cloudfront.errors import (
    CloudFrontError,
    check_if_match,
    check_quantities,
    invalid_argument,
)
from localaws.cloudfront.paging import list_page

DEVELOPMENT = "DEVELOPMENT"
LIVE = "LIVE"
STAGES = (DEVELOPMENT, LIVE)
RUNTIMES = runtime_builtins.RUNTIMES
# Only this runtime reads key value stores.
KVS_RUNTIME = runtime_builtins.RUNTIME_2
# AWS associates at most one key value store with a function.
MAX_KVS_ASSOCIATIONS = 1
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}\Z")  # AWS's FunctionName pattern

# One source of truth with the runtime: CloudFront refuses function code over 10 KB.
MAX_CODE_BYTES = runtime.MAX_CODE_BYTES
# TestFunction's EventObject is at most 40 KB (the model's length constraint).
MAX_EVENT_BYTES = 40960


@dataclass(frozen=True)
class StageCopy:
    """What one stage holds: code and config, stamped with that stage's ETag."""

    code: bytes
    comment: str
    runtime: str
    etag: str
    last_modified: datetime
    kvs_arns: tuple[str, ...] = ()  # the associated key value store (at most one)

    def associations(self) -> dict[str, Any]:
        """``KeyValueStoreAssociations`` as the API returns it."""
        doc: dict[str, Any] = {"Quantity": len(self.kvs_arns)}
        if self.kvs_arns:
            doc["Items"] = [{"KeyValueStoreARN": arn} for arn in self.kvs_arns]
        return doc


@dataclass
class StoredFunction:
    name: str
    arn: str
    created: datetime
    development: StageCopy
    live: StageCopy | None = None

    def stage(self, stage: str) -> StageCopy:
        copy = self.development if stage == DEVELOPMENT else self.live
        if copy is None:
            raise CloudFrontError(
                "NoSuchFunctionExists",
                f"Function {self.name} has no {stage} stage; publish it first.",
            )
        return copy


def _now() -> datetime:
    return datetime.now(UTC)


def _check_stage(stage: str | None) -> str:
    stage = stage or DEVELOPMENT
    if stage not in STAGES:
        raise invalid_argument(f"Stage must be DEVELOPMENT or LIVE, not {stage!r}.")
    return stage


@dataclass(frozen=True)
class _Config:
    comment: str
    runtime: str
    kvs_arns: tuple[str, ...]


def _check_config(config: dict[str, Any], store_exists: Callable[[str], bool]) -> _Config:
    runtime_name = config.get("Runtime", "")
    if runtime_name not in RUNTIMES:
        raise invalid_argument(
            f"FunctionConfig.Runtime must be one of {', '.join(RUNTIMES)}, not {runtime_name!r}."
        )
    associations = config.get("KeyValueStoreAssociations") or {"Quantity": 0}
    check_quantities(associations, "FunctionConfig.KeyValueStoreAssociations")
    arns = tuple(item["KeyValueStoreARN"] for item in associations.get("Items") or [])
    if arns and runtime_name != KVS_RUNTIME:
        raise invalid_argument(
            f"Key value stores can only be associated with {KVS_RUNTIME} functions, not "
            f"{runtime_name}."
        )
    if len(arns) > MAX_KVS_ASSOCIATIONS:
        raise invalid_argument(
            f"A function can be associated with at most {MAX_KVS_ASSOCIATIONS} key value store; "
            f"this config names {len(arns)}."
        )
    for arn in arns:
        if not store_exists(arn):
            raise invalid_argument(f"The key value store {arn} does not exist.")
    return _Config(config.get("Comment", ""), runtime_name, arns)


def _check_code(code: bytes) -> bytes:
    if len(code) > MAX_CODE_BYTES:
        raise CloudFrontError(
            "FunctionSizeLimitExceeded",
            f"The function code is {len(code)} bytes; CloudFront allows at most "
            f"{MAX_CODE_BYTES} bytes (10 KB).",
        )
    if not code:
        raise invalid_argument("FunctionCode must not be empty.")
    return code


class FunctionStore:
    """Every function of the account. Not thread-safe: the service holds its lock around calls."""

    def __init__(
        self, is_associated: Callable[[str], bool], store_exists: Callable[[str], bool]
    ) -> None:
        # Whether a distribution uses the function's ARN: decides ASSOCIATED status and whether
        # Delete is FunctionInUse. The distribution store answers it.
        self._is_associated = is_associated
        # Whether a key value store has this ARN, for KeyValueStoreAssociations.
        self._store_exists = store_exists
        self._functions: dict[str, StoredFunction] = {}

    def __iter__(self) -> Iterator[StoredFunction]:
        return iter(list(self._functions.values()))

    def add(self, fn: StoredFunction) -> None:
        """Put back a function saved earlier (see ``state``), ids and ETags as they were."""
        self._functions[fn.name] = fn

    def get_stored(self, name: str) -> StoredFunction:
        fn = self._functions.get(name)
        if fn is None:
            raise CloudFrontError("NoSuchFunctionExists", f"The function {name} does not exist.")
        return fn

    def live_copy(self, arn: str) -> tuple[str, StageCopy] | None:
        """(name, LIVE stage) of the function at ``arn``, or None if it has no LIVE stage."""
        name = ids.function_name_from_arn(arn)
        fn = self._functions.get(name or "")
        if fn is None or fn.live is None:
            return None
        return fn.name, fn.live

    def uses_store(self, arn: str) -> bool:
        """Whether any function, in either stage, is associated with the key value store."""
        return any(
            arn in copy.kvs_arns
            for fn in self._functions.values()
            for copy in (fn.development, fn.live)
            if copy is not None
        )

    def summary(self, fn: StoredFunction, stage: str) -> dict[str, Any]:
        copy = fn.stage(stage)
        if fn.live is None:
            status = "UNPUBLISHED"
        elif self._is_associated(fn.arn):
            status = "DEPLOYED"
        else:
            status = "UNASSOCIATED"
        return {
            "Name": fn.name,
            "Status": status,
            "FunctionConfig": {
                "Comment": copy.comment,
                "Runtime": copy.runtime,
                "KeyValueStoreAssociations": copy.associations(),
            },
            "FunctionMetadata": {
                "FunctionARN": fn.arn,
                "Stage": stage,
                "CreatedTime": fn.created,
                "LastModifiedTime": copy.last_modified,
            },
        }

    # --- operations ------------------------------------------------------------------------------

    def create(self, p: dict[str, Any]) -> dict[str, Any]:
        name = p["Name"]
        if not _NAME.match(name):
            raise invalid_argument(
                f"Function name {name!r} must be 1-64 characters of letters, digits, - and _."
            )
        config = _check_config(p["FunctionConfig"], self._store_exists)
        code = _check_code(p["FunctionCode"])
        if name in self._functions:
            raise CloudFrontError(
                "FunctionAlreadyExists", f"A function named {name} already exists."
            )
        now = _now()
        fn = StoredFunction(
            name=name,
            arn=ids.function_arn(name),
            created=now,
            development=_stage_copy(code, config, now),
        )
        self._functions[name] = fn
        return {
            "FunctionSummary": self.summary(fn, DEVELOPMENT),
            "Location": f"https://cloudfront.amazonaws.com/2020-05-31/function/{fn.arn}",
            "ETag": fn.development.etag,
        }

    def describe(self, p: dict[str, Any]) -> dict[str, Any]:
        stage = _check_stage(p.get("Stage"))
        fn = self.get_stored(p["Name"])
        return {"FunctionSummary": self.summary(fn, stage), "ETag": fn.stage(stage).etag}

    def get(self, p: dict[str, Any]) -> dict[str, Any]:
        stage = _check_stage(p.get("Stage"))
        copy = self.get_stored(p["Name"]).stage(stage)
        return {
            "FunctionCode": copy.code,
            "ETag": copy.etag,
            "ContentType": "application/octet-stream",
        }

    def update(self, p: dict[str, Any]) -> dict[str, Any]:
        fn = self.get_stored(p["Name"])
        check_if_match(p.get("IfMatch"), fn.development.etag, f"function {fn.name} (DEVELOPMENT)")
        config = _check_config(p["FunctionConfig"], self._store_exists)
        code = _check_code(p["FunctionCode"])
        fn.development = _stage_copy(code, config, _now())
        return {"FunctionSummary": self.summary(fn, DEVELOPMENT), "ETag": fn.development.etag}

    def publish(self, p: dict[str, Any]) -> dict[str, Any]:
        fn = self.get_stored(p["Name"])
        check_if_match(p.get("IfMatch"), fn.development.etag, f"function {fn.name} (DEVELOPMENT)")
        fn.live = replace(fn.development, etag=ids.etag(), last_modified=_now())
        return {"FunctionSummary": self.summary(fn, LIVE)}

    def delete(self, p: dict[str, Any]) -> dict[str, Any]:
        fn = self.get_stored(p["Name"])
        etags = (fn.development.etag,) + ((fn.live.etag,) if fn.live else ())
        check_if_match(p.get("IfMatch"), etags, f"function {fn.name}")
        if self._is_associated(fn.arn):
            raise CloudFrontError(
                "FunctionInUse",
                f"Function {fn.name} is associated with a distribution; remove the association "
                "(UpdateDistribution) before deleting it.",
            )
        del self._functions[fn.name]
        return {}

    def list(self, p: dict[str, Any]) -> dict[str, Any]:
        stage = p.get("Stage")
        if stage is not None:
            _check_stage(stage)
        marker = p.get("Marker") or ""
        remaining = [
            fn
            for name, fn in sorted(self._functions.items())
            if name >= marker and (stage != LIVE or fn.live is not None)
        ]
        return {
            "FunctionList": list_page(
                p, remaining, lambda fn: fn.name, lambda fn: self.summary(fn, stage or DEVELOPMENT)
            )
        }

    def test(
        self,
        p: dict[str, Any],
        run: runtime.FunctionRunner,
        store_view: Callable[[str], runtime.KvsView],
    ) -> dict:
        """TestFunction: the stage's code on the event, reading its store (``store_view`` of the
        association's ARN) as it is now."""
        stage = _check_stage(p.get("Stage"))
        fn = self.get_stored(p["Name"])
        copy = fn.stage(stage)
        check_if_match(p.get("IfMatch"), copy.etag, f"function {fn.name} ({stage})")
        event = _read_event(p["EventObject"])
        kvs = store_view(copy.kvs_arns[0]) if copy.kvs_arns else None
        try:
            outcome = run(
                copy.code.decode("utf-8", errors="replace"), event, kvs=kvs, runtime=copy.runtime
            )
        except Exception as exc:  # the engine itself broke, not the function: AWS's 500
            raise CloudFrontError(
                "TestFunctionFailed", f"The function could not be run: {exc}"
            ) from exc
        # AWS sends every field, the one that does not apply as an empty string. An origin the
        # function chose is not shown: AWS's test does not check origin modification either.
        return {
            "TestResult": {
                "FunctionSummary": self.summary(fn, stage),
                "ComputeUtilization": str(outcome.compute_utilization),
                "FunctionExecutionLogs": list(outcome.logs),
                "FunctionErrorMessage": outcome.error or "",
                "FunctionOutput": (
                    json.dumps(outcome.output, separators=(",", ":"))
                    if outcome.output is not None
                    else ""
                ),
            }
        }


def _stage_copy(code: bytes, config: _Config, now: datetime) -> StageCopy:
    return StageCopy(code, config.comment, config.runtime, ids.etag(), now, config.kvs_arns)


def _read_event(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_EVENT_BYTES:
        raise invalid_argument(f"EventObject is {len(raw)} bytes; at most {MAX_EVENT_BYTES}.")
    try:
        event = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid_argument(f"EventObject is not valid JSON: {exc}") from exc
    if not isinstance(event, dict) or not isinstance(event.get("request"), dict):
        raise invalid_argument(
            "EventObject must be a JSON object with a 'request' object "
            '(and "context": {"eventType": "viewer-request"}).'
        )
    return event

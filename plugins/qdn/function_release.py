"""Publishing the CloudFront Function: plan, gate, publish — without Airflow.

The function routes every viewer request, so a bad publish breaks the whole site at once. The
release therefore tests the exact code in DEVELOPMENT against every case in ``cf/`` (AWS's
``TestFunction``, the same engine that will run it) and publishes only if all pass with headroom
on compute utilisation. If LIVE already runs the repo's code the plan is empty.

The repo's source carries a placeholder for the fallback build (the build served if the
KeyValueStore cannot be read). Publishing compiles in the build live at that moment, which the
build retention keeps, so the code in LIVE is the source with one literal filled in:
:func:`canonical` turns it back into the source to compare, and a rollback republishes the code
it recorded byte for byte through the same plan and gate.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from qdn import config
from qdn.function_cases import FunctionCase, check_output
from qdn.plan import Action, Plan

# AWS throttles a function above 100% utilisation; 70 leaves room for busier edge hosts and
# larger real requests than the test events (AWS's own guidance for TestFunction).
MAX_COMPUTE_UTILIZATION = 70
# One run's utilisation is noisy (a garbage collection, a busy host land on it), on AWS and here
# alike; a case judged too slow is run this many times in all and its fastest run counts. A truly
# slow function is slow every time.
UTILIZATION_RUNS = 3
# CloudFront Functions' hard limit on code size.
MAX_CODE_BYTES = 10 * 1024

FALLBACK_PLACEHOLDER = "__QDN_FALLBACK_BUILD__"
# The one line of cf/qdn-track-rewrite.js that publishing fills in.
_FALLBACK_LINE = re.compile(rb"var FALLBACK_BUILD = '([A-Za-z0-9_-]*)';")


class FunctionReleaseError(RuntimeError):
    """The function must not be published; the message says why and what to do."""


class FunctionApi(Protocol):
    """The CloudFront calls this step needs (``CloudFrontHook`` provides them)."""

    def get_function_code(self, name: str, stage: str) -> tuple[bytes, str]: ...
    def describe_function(self, name: str, stage: str) -> tuple[dict[str, Any], str]: ...
    def update_function(
        self, name: str, code: bytes, function_config: dict[str, Any], if_match: str
    ) -> str: ...
    def test_function(self, name: str, if_match: str, event: bytes) -> dict[str, Any]: ...
    def publish_function(self, name: str, if_match: str) -> dict[str, Any]: ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def diff_summary(old: bytes, new: bytes) -> str:
    """``+a/-b lines`` between two versions, for a log line a person can judge at a glance."""
    added = removed = 0
    for line in difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(),
        new.decode("utf-8", "replace").splitlines(),
        lineterm="",
        n=0,
    ):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return f"+{added}/-{removed} lines"


# --- the fallback literal -------------------------------------------------------------------------


def fallback_of(code: bytes) -> str | None:
    """The build compiled into published code; None for the source's placeholder or no line."""
    match = _FALLBACK_LINE.search(code)
    if not match or match[1].decode() == FALLBACK_PLACEHOLDER:
        return None
    return match[1].decode()


def canonical(code: bytes) -> bytes:
    """The code with its fallback literal back to the placeholder: what the repo holds."""
    return _FALLBACK_LINE.sub(f"var FALLBACK_BUILD = '{FALLBACK_PLACEHOLDER}';".encode(), code, 1)


def render(source: bytes, fallback_build: str) -> bytes:
    """The source with ``fallback_build`` compiled in, refusing source without the line."""
    if not _FALLBACK_LINE.search(source):
        raise FunctionReleaseError(
            f"the function source has no line var FALLBACK_BUILD = '{FALLBACK_PLACEHOLDER}'; "
            "the release fills it with the build to serve when the KeyValueStore cannot be read"
        )
    return _FALLBACK_LINE.sub(f"var FALLBACK_BUILD = '{fallback_build}';".encode(), source, 1)


def check_size(code: bytes, where: str) -> bytes:
    if len(code) > MAX_CODE_BYTES:
        raise FunctionReleaseError(
            f"{where} is {len(code)} bytes; CloudFront Functions take at most {MAX_CODE_BYTES}"
        )
    return code


# --- the gate -------------------------------------------------------------------------------------


def run_gate(
    api: FunctionApi, name: str, etag: str, cases: list[FunctionCase], live_build: str | None
) -> tuple[int, list[str]]:
    """Run every case through ``TestFunction`` on DEVELOPMENT; returns (passed, failures).

    TestFunction reads the associated store, so ``{live}`` in an expected URI is the build the
    pointer names while the gate runs.
    """
    failures: list[str] = []
    passed = 0
    for case in cases:
        result = api.test_function(name, etag, case.event_json.encode())
        problems = check_output(
            case,
            result.get("FunctionOutput"),
            result.get("FunctionErrorMessage") or None,
            live_build=live_build,
        )
        utilisation = int(result.get("ComputeUtilization") or 0)
        for _ in range(UTILIZATION_RUNS - 1):
            if utilisation <= MAX_COMPUTE_UTILIZATION:
                break
            again = api.test_function(name, etag, case.event_json.encode())
            utilisation = min(utilisation, int(again.get("ComputeUtilization") or 0))
        if utilisation > MAX_COMPUTE_UTILIZATION:
            problems.append(
                f"compute utilisation {utilisation} is over the limit {MAX_COMPUTE_UTILIZATION}"
            )
        failures.extend(f"case {case.name}: {p}" for p in problems)
        passed += not problems
    return passed, failures


# --- plan -----------------------------------------------------------------------------------------


@dataclass
class FunctionFacts:
    """What planning read, and what the outcome reports (small enough for XCom)."""

    name: str
    code_sha256: str  # the code the plan publishes (or LIVE already runs)
    previous_live_sha256: str
    previous_live_etag: str
    fallback_build: str | None  # compiled into the code the plan publishes / LIVE runs
    live_build: str | None  # what the pointer names while planning (the gate's {live})
    kvs_arn: str | None
    diff: str = ""
    published: bool = False
    live_etag: str | None = None
    cases_passed: int = 0
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.dry_run:
            return f"dry run: function {self.name}: " + "; ".join(self.notes)
        if not self.published:
            return (
                f"function {self.name}: LIVE already runs this code (sha256 "
                f"{self.code_sha256[:12]}, ETag {self.previous_live_etag}, fallback "
                f"{self.fallback_build}); nothing published"
            )
        return (
            f"published function {self.name}: LIVE ETag {self.previous_live_etag} -> "
            f"{self.live_etag} ({self.diff}, code sha256 {self.code_sha256[:12]}, fallback "
            f"{self.fallback_build}), {self.cases_passed} test cases passed"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_publish(
    api: FunctionApi,
    code: bytes | None,
    *,
    source: bytes | None = None,
    cases: list[FunctionCase],
    live_build: str | None,
    kvs_arn: str | None,
    name: str = config.FUNCTION_NAME,
    step: str = "publish_function",
) -> tuple[Plan, FunctionFacts]:
    """Plan publishing ``code`` (a rollback's recorded code) or the repo's ``source``.

    For ``source``, LIVE counts as current when it is the source with any fallback filled in;
    otherwise the source is compiled with the build live now as its fallback.
    """
    live_code, live_etag = api.get_function_code(name, "LIVE")
    if code is None:
        if source is None:
            raise FunctionReleaseError("plan_publish needs the code to publish or the source")
        if canonical(live_code) == source and fallback_of(live_code):
            code = live_code
        else:
            fallback = live_build or fallback_of(live_code)
            if not fallback:
                raise FunctionReleaseError(
                    "no build is live yet and LIVE has no fallback compiled in: release a build "
                    "first (the bootstrap writes the live pointer), then publish the function"
                )
            code = render(source, fallback)
    check_size(code, f"function {name}")
    facts = FunctionFacts(
        name=name,
        code_sha256=sha256_hex(code),
        previous_live_sha256=sha256_hex(live_code),
        previous_live_etag=live_etag,
        fallback_build=fallback_of(code),
        live_build=live_build,
        kvs_arn=kvs_arn,
        live_etag=live_etag,
    )
    summary, _ = api.describe_function(name, "LIVE")
    associated = _associated_stores(summary)
    if live_code == code and (kvs_arn is None or associated == [kvs_arn]):
        facts.notes.append("LIVE already runs this code; nothing to publish")
        return Plan(step, checked=(facts.summary(),)), facts
    facts.diff = diff_summary(live_code, code)
    dev_code, dev_etag = api.get_function_code(name, "DEVELOPMENT")
    dev_summary, _ = api.describe_function(name, "DEVELOPMENT")
    function_config = _function_config(dev_summary, kvs_arn)
    actions = []
    if dev_code != code or function_config != _function_config(dev_summary, None):
        actions.append(
            Action(
                "update_function",
                f"update {name} DEVELOPMENT (ETag {dev_etag}, {diff_summary(dev_code, code)}"
                f"{', store ' + kvs_arn if kvs_arn else ''})",
                {"code": code, "function_config": function_config, "if_match": dev_etag},
            )
        )
    actions.append(
        Action(
            "gate",
            f"test {name} DEVELOPMENT with every case in cf/ (live build {live_build})",
            {"dev_etag": dev_etag},
        )
    )
    actions.append(
        Action(
            "publish",
            f"publish {name} to LIVE ({facts.diff} against LIVE ETag {live_etag}, code sha256 "
            f"{facts.code_sha256[:12]}, fallback {facts.fallback_build})",
            {},
        )
    )
    facts.notes.append("; then ".join(a.line for a in actions))
    return Plan(step, tuple(actions)), facts


def _associated_stores(summary: dict[str, Any]) -> list[str]:
    assoc = summary.get("FunctionConfig", {}).get("KeyValueStoreAssociations") or {}
    return [i["KeyValueStoreARN"] for i in assoc.get("Items", []) or []]


def _function_config(summary: dict[str, Any], kvs_arn: str | None) -> dict[str, Any]:
    """DEVELOPMENT's config as UpdateFunction takes it, with ``kvs_arn`` as its one store."""
    current = summary.get("FunctionConfig", {})
    out: dict[str, Any] = {
        "Comment": current.get("Comment", ""),
        "Runtime": current.get("Runtime", config.FUNCTION_RUNTIME),
    }
    stores = [kvs_arn] if kvs_arn else _associated_stores(summary)
    if stores:
        out["KeyValueStoreAssociations"] = {
            "Quantity": len(stores),
            "Items": [{"KeyValueStoreARN": arn} for arn in stores],
        }
    return out


class Publisher:
    """The handlers that apply a publish plan; they share the DEVELOPMENT ETag as it moves."""

    def __init__(
        self, api: FunctionApi, facts: FunctionFacts, cases: list[FunctionCase], log: Any = None
    ) -> None:
        self.api = api
        self.facts = facts
        self.cases = cases
        self.log = log
        self.dev_etag: str | None = None

    def handlers(self) -> dict[str, Any]:
        return {"update_function": self.update, "gate": self.gate, "publish": self.publish}

    def update(self, code: bytes, function_config: dict[str, Any], if_match: str) -> None:
        self.dev_etag = self.api.update_function(self.facts.name, code, function_config, if_match)

    def gate(self, dev_etag: str) -> None:
        etag = self.dev_etag or dev_etag
        self.dev_etag = etag
        passed, failures = run_gate(
            self.api, self.facts.name, etag, self.cases, self.facts.live_build
        )
        if failures:
            raise FunctionReleaseError(
                f"{len(failures)} test case failure(s) on {self.facts.name} DEVELOPMENT (ETag "
                f"{etag}); nothing was published, LIVE is unchanged:\n  " + "\n  ".join(failures)
            )
        self.facts.cases_passed = passed

    def publish(self) -> None:
        assert self.dev_etag is not None  # the gate always runs first
        self.api.publish_function(self.facts.name, self.dev_etag)
        _, self.facts.live_etag = self.api.describe_function(self.facts.name, "LIVE")
        self.facts.published = True

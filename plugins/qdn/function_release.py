"""Publishing the CloudFront Function: decide, gate, publish — without Airflow.

The function routes every viewer request, so a bad publish breaks the whole site at once. The
release therefore tests the exact code in DEVELOPMENT against every case in ``cf/`` (AWS's
``TestFunction``, the same engine that will run it) and publishes only if all pass with headroom
on compute utilisation. If LIVE already runs the repo's code the step does nothing at all.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from qdn import config
from qdn.function_cases import FunctionCase, check_output, load_cases

# AWS throttles a function above 100% utilisation; 70 leaves room for busier edge hosts and
# larger real requests than the test events (AWS's own guidance for TestFunction).
MAX_COMPUTE_UTILIZATION = 70


class FunctionReleaseError(RuntimeError):
    """The function must not be published; the message lists every failed case."""


class FunctionApi(Protocol):
    """The CloudFront calls this step needs (``CloudFrontHook`` provides them)."""

    def get_function_code(self, name: str, stage: str) -> tuple[bytes, str]: ...
    def describe_function(self, name: str, stage: str) -> tuple[dict[str, Any], str]: ...
    def update_function(
        self, name: str, code: bytes, runtime: str, comment: str, if_match: str
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


@dataclass
class FunctionOutcome:
    """What the step did, small enough for XCom and complete enough for a rollback."""

    name: str
    published: bool
    repo_sha256: str
    previous_live_sha256: str | None
    previous_live_etag: str | None
    live_etag: str | None
    cases_passed: int = 0
    diff: str = ""
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.dry_run:
            return f"dry run: function {self.name}: " + "; ".join(self.notes)
        if not self.published:
            return (
                f"function {self.name}: LIVE already runs the repo's code "
                f"(sha256 {self.repo_sha256[:12]}, ETag {self.live_etag}); nothing published"
            )
        return (
            f"published function {self.name}: LIVE ETag {self.previous_live_etag} -> "
            f"{self.live_etag} ({self.diff}, code sha256 {self.repo_sha256[:12]}), "
            f"{self.cases_passed} test cases passed"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_gate(
    api: FunctionApi, name: str, etag: str, cases: list[FunctionCase]
) -> tuple[int, list[str]]:
    """Run every case through ``TestFunction`` on DEVELOPMENT; returns (passed, failures)."""
    failures: list[str] = []
    passed = 0
    for case in cases:
        result = api.test_function(name, etag, case.event_json.encode())
        problems = check_output(
            case, result.get("FunctionOutput"), result.get("FunctionErrorMessage") or None
        )
        utilisation = int(result.get("ComputeUtilization") or 0)
        if utilisation > MAX_COMPUTE_UTILIZATION:
            problems.append(
                f"compute utilisation {utilisation} is over the limit {MAX_COMPUTE_UTILIZATION}"
            )
        failures.extend(f"case {case.name}: {p}" for p in problems)
        passed += not problems
    return passed, failures


def release_function(
    api: FunctionApi,
    code_path: Path,
    cf_dir: Path,
    *,
    name: str = config.FUNCTION_NAME,
    dry_run: bool = False,
    log: Any = None,
    keep_previous: Callable[[bytes], None] | None = None,
) -> FunctionOutcome:
    """Update DEVELOPMENT if needed, gate it, publish it — or do nothing if LIVE matches.

    ``keep_previous`` receives the LIVE code about to be replaced, before the publish, so a
    rollback can republish it byte for byte.
    """
    say = log.info if log else (lambda *a: None)
    code = code_path.read_bytes()
    if len(code) > 10 * 1024:  # CloudFront Functions' hard limit: 10 KB of code
        raise FunctionReleaseError(
            f"{code_path} is {len(code)} bytes; CloudFront Functions take at most 10240"
        )
    cases = load_cases(cf_dir)  # refuses an empty set: nothing is published untested
    live_code, live_etag = api.get_function_code(name, "LIVE")
    outcome = FunctionOutcome(
        name=name,
        published=False,
        repo_sha256=sha256_hex(code),
        previous_live_sha256=sha256_hex(live_code),
        previous_live_etag=live_etag,
        live_etag=live_etag,
        dry_run=dry_run,
    )
    if live_code == code:
        outcome.notes.append("LIVE already matches the repo; nothing to publish")
        return outcome
    outcome.diff = diff_summary(live_code, code)
    dev_code, dev_etag = api.get_function_code(name, "DEVELOPMENT")
    if dry_run:
        outcome.notes.append(
            f"would update DEVELOPMENT ({diff_summary(dev_code, code)}), test "
            f"{len(cases)} cases and publish to LIVE ({outcome.diff} against LIVE)"
        )
        return outcome
    if dev_code != code:
        summary, _ = api.describe_function(name, "DEVELOPMENT")
        runtime = summary["FunctionConfig"].get("Runtime", config.FUNCTION_RUNTIME)
        comment = summary["FunctionConfig"].get("Comment", "")
        dev_etag = api.update_function(name, code, runtime, comment, dev_etag)
        say(
            "updated %s DEVELOPMENT: ETag now %s (%s)", name, dev_etag, diff_summary(dev_code, code)
        )
    passed, failures = run_gate(api, name, dev_etag, cases)
    if failures:
        raise FunctionReleaseError(
            f"{len(failures)} test case failure(s) on {name} DEVELOPMENT (ETag {dev_etag}); "
            "nothing was published, LIVE is unchanged:\n  " + "\n  ".join(failures)
        )
    say("gate passed: %d/%d cases on %s DEVELOPMENT ETag %s", passed, len(cases), name, dev_etag)
    if keep_previous:
        keep_previous(live_code)
    published = api.publish_function(name, dev_etag)
    _, outcome.live_etag = api.describe_function(name, "LIVE")
    outcome.published = True
    outcome.cases_passed = passed
    stage = published.get("FunctionMetadata", {}).get("Stage", "LIVE")
    outcome.notes.append(f"published to {stage}")
    return outcome

"""Check the live site as a customer would, through the edge, and say exactly what was seen.

The seed's release "succeeded" while customers saw "Job not found": nothing looked at the site
afterwards. This check fetches the customer's own tracking URL, the track API, the booking page and
a private path, and retries with backoff for a bounded time because an edge may lag behind an
invalidation for a little while. On failure the message names each check with what it expected and
what it got, including ``X-Cache`` and ``Age``, the two headers that tell a stale cache from a
broken origin.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qdn import config, headers
from qdn.jobs.model import redact_token

# A customer's browser would give up long before this; one request never holds the check longer.
REQUEST_TIMEOUT = 10.0
# The whole check, retries included: long enough for an edge to settle after an invalidation
# reported Completed, short enough that a broken release is reported while ops are still watching.
DEFAULT_DEADLINE = 120.0
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 15.0

BUILD_ID_RE = re.compile(
    r'<meta\s+name="' + re.escape(config.BUILD_ID_META_NAME) + r'"\s+content="([^"]*)"', re.I
)
# The assets a page loads, by their build-pinned URLs (qdn.staging writes them so).
PINNED_ASSET_RE = re.compile(
    r"""(?:src|href)=["']("""
    + re.escape(config.BUILD_PIN_PREFIX)
    + r"""build-[0-9a-f]+/[^"']+)["']"""
)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def cache_state(self) -> str:
        return f"X-Cache: {self.headers.get('x-cache', '-')}, Age: {self.headers.get('age', '-')}"


def http_get(url: str) -> Response:
    request = urllib.request.Request(url, headers={"User-Agent": "qdn-smoke-check/1"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as resp:  # noqa: S310
            return Response(
                resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
            )
    except urllib.error.HTTPError as err:
        return Response(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


@dataclass
class Expectation:
    """What the customer-facing site must show for this release."""

    build_id: str | None
    token: str | None = None
    job: dict[str, Any] | None = None  # the job's public view


@dataclass
class SmokeReport:
    base_url: str
    passed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


def _shell_problem(resp: Response, expect: Expectation, what: str) -> str | None:
    if resp.status != 200:
        return f"{what}: expected 200 with the shell, got {resp.status} ({resp.cache_state()})"
    match = BUILD_ID_RE.search(resp.body.decode("utf-8", "replace"))
    seen = match.group(1) if match else None
    if seen is None:
        return (
            f"{what}: expected the shell with a build id, got a page without one "
            f"({resp.cache_state()})"
        )
    if expect.build_id and seen != expect.build_id:
        return (
            f"{what}: expected build {expect.build_id}, got build {seen} — a stale copy "
            f"({resp.cache_state()})"
        )
    return None


def _assets_problem(
    resp: Response, expect: Expectation, what: str, base: str, get: Callable[[str], Response]
) -> str | None:
    """The shell's own assets load, each holding the content its fingerprint names: a page that
    points at an asset the edge cannot serve is a broken release even when the shell is right."""
    problem = _shell_problem(resp, expect, what)
    if problem:
        return problem
    refs = PINNED_ASSET_RE.findall(resp.body.decode("utf-8", "replace"))
    if not refs:
        return f"{what}: the shell loads no build-pinned asset; was it staged by the stage command?"
    for ref in refs:
        got = get(base + ref)
        if got.status != 200:
            return f"{what}: {ref} answered {got.status} ({got.cache_state()})"
        fingerprint = headers.FINGERPRINTED.search(ref)
        digest = hashlib.sha256(got.body).hexdigest()[: headers.FINGERPRINT_DIGITS]
        if fingerprint and not fingerprint[0].startswith(f".{digest}."):
            return f"{what}: {ref} holds other content (sha256 {digest}…) ({got.cache_state()})"
    return None


def _api_problem(resp: Response, expect: Expectation, what: str) -> str | None:
    if resp.status != 200:
        return f"{what}: expected 200 with the job, got {resp.status} ({resp.cache_state()})"
    try:
        job = json.loads(resp.body)["job"]
    except (ValueError, KeyError, TypeError):
        return f"{what}: expected JSON with a job, got {resp.body[:120]!r} ({resp.cache_state()})"
    wrong = {
        k: (v, job.get(k))
        for k, v in (expect.job or {}).items()
        if k not in {"updated_at", "history"} and job.get(k) != v
    }
    if wrong:
        detail = ", ".join(f"{k} expected {v!r} got {s!r}" for k, (v, s) in sorted(wrong.items()))
        return f"{what}: wrong job fields: {detail} ({resp.cache_state()})"
    extra = set(job) - set(expect.job or job)
    if extra:
        return f"{what}: the API revealed fields beyond the public ones: {sorted(extra)}"
    return None


def refused_problem(resp: Response, what: str) -> str | None:
    if resp.status in (403, 404):
        return None
    return f"{what}: expected 403 or 404 (private data), got {resp.status} ({resp.cache_state()})"


def checks_for(
    base_url: str, expect: Expectation, get: Callable[[str], Response] = http_get
) -> list[tuple[str, str, Callable[..., Any]]]:
    """(label, url, judge) for every check; labels never carry a full token."""
    base = base_url.rstrip("/")
    checks: list[tuple[str, str, Callable[..., Any]]] = []
    if expect.token:
        hint = redact_token(expect.token)
        checks.append(
            (f"GET /track/{hint}", f"{base}/track/{expect.token}",
             lambda r, w: _shell_problem(r, expect, w))
        )  # fmt: skip
        api = config.TRACK_API_PREFIX
        checks.append(
            (f"GET {api}{hint}", f"{base}{api}{expect.token}",
             lambda r, w: _api_problem(r, expect, w))
        )  # fmt: skip
    checks.append(
        ("GET /book/ and its assets", f"{base}/book/",
         lambda r, w: _assets_problem(r, expect, w, base, get))
    )  # fmt: skip
    for private in ("/jobs.json", "/" + config.JOBS_KEY):
        checks.append((f"GET {private}", base + private, lambda r, w: refused_problem(r, w)))
    return checks


def smoke_check(
    base_url: str,
    expect: Expectation,
    *,
    deadline: float = DEFAULT_DEADLINE,
    get: Callable[[str], Response] = http_get,
    sleep: Callable[[float], None] = time.sleep,
    log: Any = None,
) -> SmokeReport:
    """Run every check until all pass or the deadline passes; the report says what was seen."""
    report = SmokeReport(base_url)
    pending = checks_for(base_url, expect, get)
    backoff = FIRST_BACKOFF
    started = time.monotonic()
    while True:
        report.attempts += 1
        still: list[tuple[str, str, Callable[..., Any]]] = []
        failures: list[str] = []
        for label, url, judge in pending:
            try:
                problem = judge(get(url), label)
            except OSError as err:
                problem = f"{label}: expected an answer, got a connection error: {err}"
            if problem:
                failures.append(problem)
                still.append((label, url, judge))
            else:
                report.passed.append(label)
                if log:
                    log.info("smoke check passed on %s: %s", base_url, label)
        pending = still
        if not pending:
            report.failures = []
            return report
        if time.monotonic() - started + backoff > deadline:
            report.failures = failures
            return report
        if log:
            log.info(
                "smoke check attempt %d on %s: %d check(s) not yet right, retrying in %.0f s: %s",
                report.attempts, base_url, len(pending), backoff, failures[0],
            )  # fmt: skip
        sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)

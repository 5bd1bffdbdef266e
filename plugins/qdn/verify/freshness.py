"""The nightly freshness check: no edge serves the shell or the canary's track API answer older
than the max-age its origin gives, so a copy an edge failed to let go of is found before a
customer sees yesterday's page or last week's job status.

Per edge, two requests: the canary's tracking page (the shell) and its API answer. A copy whose
``Age`` is past its max-age is stale, whatever it holds; the message says whether its body still
matches the origin's current one (harmless today, wrong after the next change) or differs (wrong
now), with ``X-Cache`` and ``Age`` as the edge sent them and the paths to invalidate.

The max-ages are the origin's own: the live shell object's Cache-Control in S3 (what the edge
was told when it fetched it), and the Cache-Control the track API sends with its answer (which the
edge passes on). The origin's current bodies are the shell object and the canary's public view
from its record: one read each, whatever the number of edges.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from qdn import config, staging
from qdn.canary import CanaryError, CanaryNote, read_canary_note
from qdn.distribution_spec import distributions_by_alias
from qdn.jobs.model import redact_token
from qdn.jobs.records import JobRecordInvalid, JobRecords
from qdn.live_pointer import kvs_arn, read_pointer
from qdn.routes import SHELL_KEY
from qdn.s3_errors import is_missing_key
from qdn.smoke import Response, http_get
from qdn.verify.result import CheckResult

# Directives that forbid a shared cache from keeping a copy at all: any Age is then too old.
_NOT_STORED = ("no-store", "no-cache", "private")
# The shell's viewer path when there is no canary to track: any route serves the same shell.
_SHELL_FALLBACK_PATH = "/book/"


def max_age(cache_control: str | None) -> int | None:
    """How long a shared cache may serve a copy, by the origin's Cache-Control: ``s-maxage``
    (meant for shared caches) before ``max-age``; 0 when it may not keep one; None when it says
    nothing (the distribution's default TTL applies, which this check cannot judge)."""
    directives: dict[str, str] = {}
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip().strip('"')
    if any(name in directives for name in _NOT_STORED):
        return 0
    for name in ("s-maxage", "max-age"):
        if directives.get(name, "").isdigit():
            return int(directives[name])
    return None


def _age(resp: Response) -> int | None:
    text = resp.headers.get("age", "").strip()
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class _Origin:
    """What the origin serves now for one viewer path: its body test and its max-age."""

    path: str  # as requested (may hold a token)
    shown: str  # as a message may show it
    matches: Callable[[Response], bool]
    lifetime: Callable[[Response], tuple[int | None, str]]  # (max-age, where it comes from)
    invalidate: str


def check_freshness(
    s3: Any,
    cloudfront: Any,
    kvs: Any,
    bucket: str,
    site_urls: Mapping[str, str],
    *,
    get: Callable[[str], Response] = http_get,
) -> CheckResult:
    result = CheckResult("freshness")
    live = read_pointer(kvs, kvs_arn(cloudfront, config.KVS_NAME), config.LIVE_POINTER_KEY).value
    try:
        note = read_canary_note(s3, bucket)
    except CanaryError as err:
        note = None
        result.warnings.append(f"{err}; only the shell is checked")
    if note is None:
        result.warnings.append(
            f"no canary note at s3://{bucket}/{config.CANARY_KEY}: the shell is checked at "
            f"{_SHELL_FALLBACK_PATH} and no API answer is (the canary check names this)"
        )
    origins = [o for o in (_shell(s3, bucket, live, note, result), _api(s3, bucket, note)) if o]

    dist_ids: dict[str, str] | None = None
    oldest = 0
    for alias, base in sorted(site_urls.items()):
        for origin in origins:
            label = f"{alias} GET {origin.shown}"
            try:
                resp = get(base.rstrip("/") + origin.path)
            except OSError as err:
                result.problems.append(f"{label}: no answer, freshness unknown: {err}")
                continue
            age = _age(resp)
            limit, source = origin.lifetime(resp)
            if age is not None and limit is None:
                result.warnings.append(
                    f"{label}: served from cache ({resp.cache_state()}) but {source} gives no "
                    "max-age: the distribution's default TTL applies, not judged here"
                )
            if age is None or limit is None or age <= limit:
                oldest = max(oldest, age or 0)
                continue
            if dist_ids is None:
                dist_ids = {a: d["Id"] for a, d in distributions_by_alias(cloudfront).items()}
            held = (
                "its body still matches the origin's current one (right today, wrong once the "
                "origin changes)"
                if origin.matches(resp)
                else "its body differs from the origin's current one (customers see old content)"
            )
            result.problems.append(
                f"{label}: a stale copy ({resp.cache_state()}) is {age} s old, past its max-age "
                f"of {limit} s ({source}); {held}; invalidate {origin.invalidate} on "
                f"distribution {dist_ids.get(alias, f'(none has the alias {alias})')}"
            )
    result.notes.append(
        f"{len(origins)} path(s) on {len(site_urls)} edge(s) checked against their max-age "
        f"(oldest fresh copy {oldest} s) on build {live or '(no live pointer)'}"
    )
    return result


def _shell(
    s3: Any, bucket: str, live: str | None, note: CanaryNote | None, result: CheckResult
) -> _Origin | None:
    if not live:
        result.warnings.append("no live pointer: the shell is not checked (content names this)")
        return None
    key = staging.build_prefix(live) + SHELL_KEY
    try:
        got = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if not is_missing_key(err):
            raise
        result.warnings.append(f"no shell at s3://{bucket}/{key}: not checked (content names this)")
        return None
    body, cache_control = got["Body"].read(), got.get("CacheControl")
    path, shown, route = _SHELL_FALLBACK_PATH, _SHELL_FALLBACK_PATH, _SHELL_FALLBACK_PATH
    if note is not None:
        path, shown, route = (
            f"/track/{note.token}",
            f"/track/{redact_token(note.token)}",
            "/track/*",
        )
    source = f"Cache-Control {cache_control!r} of s3://{bucket}/{key}"
    return _Origin(
        path,
        shown,
        matches=lambda resp: resp.body == body,
        lifetime=lambda resp: (max_age(cache_control), source),
        invalidate=f"/{live}/{SHELL_KEY} and {route}",
    )


def _api(s3: Any, bucket: str, note: CanaryNote | None) -> _Origin | None:
    if note is None:
        return None
    try:
        job = JobRecords(s3, bucket).get(note.job_id)
    except JobRecordInvalid:
        job = None  # the canary check names it; an answer then never matches
    current = {"job": job.public_view()} if job is not None else None

    def matches(resp: Response) -> bool:
        try:
            return current is not None and json.loads(resp.body) == current
        except ValueError:
            return False

    def lifetime(resp: Response) -> tuple[int | None, str]:
        cache_control = resp.headers.get("cache-control")
        return max_age(cache_control), f"the track API's Cache-Control {cache_control!r}"

    prefix = config.TRACK_API_PREFIX
    return _Origin(
        prefix + note.token,
        prefix + redact_token(note.token),
        matches,
        lifetime,
        # One wildcard path: an exact one would have to carry the token into this message.
        invalidate=prefix + "*",
    )

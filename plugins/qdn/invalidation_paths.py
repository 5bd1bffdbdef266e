"""Which paths a release invalidates, derived from what it changed — and no more.

Three sources, one list:

* every changed or deleted object, at its own path (site keys are served at ``/<key>`` because
  the origin path is ``/site``);
* every viewer path the CloudFront Function rewrites onto a changed object (AWS: invalidate both
  the viewer URI and the rewritten one), taken from ``qdn.routes.ROUTES`` — the same table the
  function carries, proved equal by ``tests/test_routes_agree.py``. The function answers the bare
  route (``/track``) itself with a redirect, which CloudFront never caches, so only the slash
  form is invalidated. ``/`` is the shell too: the distributions' DefaultRootObject is the shell;
* ``/api/track/<token>`` for every job the run changed: a "not found" cached before the job
  existed is exactly what broke the old manual release.

Deleted objects are invalidated with the rest, before they are deleted (deletions wait for the
invalidation): they are mostly superseded fingerprinted assets that no new page references, and
a page that still does keeps working until its own TTL.

CloudFront's rules: paths are case sensitive, must start with ``/``, may end in ``*`` (nowhere
else), and non-ASCII or RFC 1738 "unsafe" characters must be percent-encoded — and nothing else,
or the cached object is not matched. Past ``collapse_threshold`` exact paths the list is folded
into directory wildcards, and into ``/*`` if that is still too many.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from qdn import config
from qdn.jobs.model import TOKEN_PATTERN, redact_token
from qdn.routes import ROUTES, SHELL_KEY

# Each release invalidates both distributions, so it spends 2 x paths of the 1,000 free paths a
# month (a wildcard counts as one). 20 exact paths, plus the three route wildcards, keeps about
# twenty releases a month inside the free tier; beyond it a wildcard is cheaper than the paths.
COLLAPSE_THRESHOLD = 20
# CloudFront's hard limit: 3,000 exact paths in progress per distribution.
MAX_EXACT_PATHS = 3000
# CloudFront allows 15 wildcard paths in progress at once. Seven per invalidation lets a retried
# or overlapping release run beside another without hitting TooManyInvalidationsInProgress.
MAX_WILDCARDS = 7
EVERYTHING = "/*"

# RFC 1738's unsafe characters, plus "?" and "*" which would otherwise start a query string or
# a wildcard; "%" first so that an encoded key is encoded again rather than decoded by the edge.
_UNSAFE = '%<>"#{}|\\^~[]` ?*'
_TOKEN = re.compile(TOKEN_PATTERN)


def encode_path(key: str) -> str:
    """``/<key>`` as CloudFront expects it: unsafe and non-ASCII bytes percent-encoded only."""
    out = []
    for ch in key:
        if ch in _UNSAFE or ord(ch) < 0x20 or ord(ch) == 0x7F or ord(ch) > 0x7E:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "/" + "".join(out)


def _check_key(key: str, what: str) -> str:
    if not isinstance(key, str) or not key or key.startswith("/"):
        raise ValueError(
            f"{what} {key!r} is not a site-relative key (like 'index.html' or "
            "'assets/app.0123456789.js'); pass keys relative to the site root, without '/'"
        )
    return key


def _token_path(token: str) -> str:
    if not isinstance(token, str) or not _TOKEN.match(token):
        shown = redact_token(token) if isinstance(token, str) else type(token).__name__
        raise ValueError(
            f"job token {shown} is not a tracking token (URL-safe, 22-64 characters); pass the "
            "tokens of the jobs the run changed"
        )
    return config.TRACK_API_PREFIX + token


def _redact(path: str) -> str:
    if path.startswith(config.TRACK_API_PREFIX) and not path.endswith("*"):
        return config.TRACK_API_PREFIX + redact_token(path[len(config.TRACK_API_PREFIX) :])
    return path


def _covered(path: str, wildcards: Iterable[str]) -> bool:
    return any(path != w and path.startswith(w[:-1]) for w in wildcards)


def _ancestors(path: str) -> list[str]:
    """``/a/b/c.js`` -> ``["/a/", "/a/b/"]``: the directories a wildcard could cover it with."""
    parts = path.split("/")[1:-1]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


@dataclass
class InvalidationPaths:
    """The paths for one invalidation, sorted and de-duplicated (so a retry sends the same list
    and a CallerReference derived from it is stable). ``repr`` and ``for_logs`` hide tokens."""

    paths: list[str] = field(default_factory=list)
    collapsed: list[str] = field(default_factory=list)  # what folding did, for the log

    def __bool__(self) -> bool:
        return bool(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __iter__(self) -> Iterator[str]:
        return iter(self.paths)

    def __repr__(self) -> str:
        return f"InvalidationPaths({self.for_logs()!r}, collapsed={self.collapsed!r})"

    __str__ = __repr__

    @property
    def wildcards(self) -> list[str]:
        return [p for p in self.paths if p.endswith("*")]

    @property
    def exact(self) -> list[str]:
        return [p for p in self.paths if not p.endswith("*")]

    def for_logs(self) -> list[str]:
        """The paths with every tracking token cut to a hint (``/api/track/AbC1…``)."""
        return [_redact(p) for p in self.paths]

    def summary(self) -> str:
        folded = f"; {'; '.join(self.collapsed)}" if self.collapsed else ""
        return (
            f"{len(self.paths)} path(s) ({len(self.exact)} exact, {len(self.wildcards)} "
            f"wildcard){folded}"
        )

    def invalidation_batch(self, caller_reference: str) -> dict[str, Any]:
        """The ``InvalidationBatch`` for ``create_invalidation``."""
        if not self.paths:
            raise ValueError("no paths: skip the invalidation instead of creating an empty one")
        return {
            "Paths": {"Quantity": len(self.paths), "Items": list(self.paths)},
            "CallerReference": caller_reference,
        }


def _collapse(paths: set[str], threshold: int, max_wildcards: int) -> tuple[list[str], list[str]]:
    wildcards = {p for p in paths if p.endswith("*")}
    exact = {p for p in paths if not p.endswith("*") and not _covered(p, wildcards)}
    notes: list[str] = []
    while len(exact) > threshold:
        under: dict[str, set[str]] = defaultdict(set)
        for path in exact:
            for directory in _ancestors(path):
                under[directory].add(path)
        # The directory whose wildcard replaces the most paths; on a tie the deeper one (it
        # evicts less), then the name, so the result never depends on set order.
        best = max(
            ((d, ps) for d, ps in under.items() if len(ps) >= 2),
            key=lambda item: (len(item[1]), item[0].count("/"), item[0]),
            default=None,
        )
        if best is None:
            notes.append(f"{len(exact)} exact paths in no shared directory: folded into /*")
            return [EVERYTHING], notes
        directory, members = best
        wildcard = directory + "*"
        wildcards = {w for w in wildcards if not w.startswith(directory)} | {wildcard}
        exact = {p for p in exact if not p.startswith(directory)}
        notes.append(f"{len(members)} paths under {directory} folded into {wildcard}")
        if len(wildcards) > max_wildcards:
            notes.append(f"more than {max_wildcards} wildcards: folded into /*")
            return [EVERYTHING], notes
    if len(wildcards) > max_wildcards:
        notes.append(f"{len(wildcards)} wildcards, more than {max_wildcards}: folded into /*")
        return [EVERYTHING], notes
    return sorted(exact | wildcards), notes


def invalidation_paths(
    changed_keys: Iterable[str],
    deleted_keys: Iterable[str],
    job_tokens: Iterable[str],
    *,
    routes: Mapping[str, str] = ROUTES,
    collapse_threshold: int = COLLAPSE_THRESHOLD,
    max_wildcards: int = MAX_WILDCARDS,
) -> InvalidationPaths:
    """Everything a release must evict from the edge; empty when it changed nothing."""
    if not 0 <= collapse_threshold <= MAX_EXACT_PATHS:
        raise ValueError(
            f"collapse_threshold {collapse_threshold} must be 0..{MAX_EXACT_PATHS} (CloudFront "
            "takes at most 3,000 exact paths in progress per distribution)"
        )
    if max_wildcards < 1:
        raise ValueError("max_wildcards must be at least 1 (the /* fallback is a wildcard)")
    changed = [_check_key(k, "changed key") for k in changed_keys]
    deleted = [_check_key(k, "deleted key") for k in deleted_keys]
    paths = {encode_path(k) for k in changed + deleted}
    changed_uris = {"/" + k for k in changed}
    for prefix, target in routes.items():
        if target in changed_uris:
            paths.add(prefix + "*")  # "/track/*" covers "/track/" and every "/track/<token>"
    if SHELL_KEY in changed:
        paths.add("/")  # DefaultRootObject: "/" is cached apart from "/index.html"
    paths |= {_token_path(t) for t in job_tokens}
    folded, notes = _collapse(paths, collapse_threshold, max_wildcards)
    return InvalidationPaths(paths=folded, collapsed=notes)

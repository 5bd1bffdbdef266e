"""Which paths a release invalidates: only what has no build id in its cache key.

With atomic releases every page and asset is served from ``builds/<live>/``: the function rewrites
the path before CloudFront computes the cache key, so a new build has new cache keys and a release
invalidates no content at all. What stays is the track API (``/api/*``, a behaviour without the
function, cached by path): ``/api/track/<token>`` for every job the run changed, because a "not
found" cached before the job existed is exactly what broke the old manual release.

CloudFront's rules: paths are case sensitive, must start with ``/``, may end in ``*`` (nowhere
else). Tokens are URL-safe, so a token path needs no encoding. Past ``collapse_threshold`` job
paths the list becomes the one wildcard ``/api/track/*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from qdn import config
from qdn.jobs.model import TOKEN_PATTERN, redact_token

# Each release invalidates both distributions, so it spends 2 x paths of the 1,000 free paths a
# month (a wildcard counts as one). Past 20 jobs in one run, one wildcard is cheaper than the
# paths and keeps about twenty releases a month inside the free tier.
COLLAPSE_THRESHOLD = 20
# CloudFront's hard limit: 3,000 exact paths in progress per distribution.
MAX_EXACT_PATHS = 3000
TRACK_API_WILDCARD = config.TRACK_API_PREFIX + "*"
_TOKEN = re.compile(TOKEN_PATTERN)


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

    def for_logs(self) -> list[str]:
        """The paths with every tracking token cut to a hint (``/api/track/AbC1…``)."""
        return [_redact(p) for p in self.paths]


def invalidation_paths(
    job_tokens: Iterable[str], *, collapse_threshold: int = COLLAPSE_THRESHOLD
) -> InvalidationPaths:
    """The track API paths of the jobs a run changed; empty when it changed none."""
    if not 0 <= collapse_threshold <= MAX_EXACT_PATHS:
        raise ValueError(
            f"collapse_threshold {collapse_threshold} must be 0..{MAX_EXACT_PATHS} (CloudFront "
            "takes at most 3,000 exact paths in progress per distribution)"
        )
    paths = sorted({_token_path(t) for t in job_tokens})
    if len(paths) > collapse_threshold:
        return InvalidationPaths(
            [TRACK_API_WILDCARD],
            [f"{len(paths)} job paths, more than {collapse_threshold}: {TRACK_API_WILDCARD}"],
        )
    return InvalidationPaths(paths)

"""One distribution's edge cache: responses by cache key, with TTLs, and invalidation.

The cache key is the URI *after* the viewer-request function (plus the query string where the
behaviour puts it in the key), as CloudFront computes it, so ``/track/abc`` and ``/track/xyz``
both hit the cached ``/index.html``. Each entry also remembers the viewer URIs served from it, and
an invalidation path evicts an entry when it matches the key's URI or any of those viewer URIs:
invalidating ``/track/*`` or ``/index.html`` both clear the shell, as AWS's guidance (invalidate
the viewer URI and the rewritten one) expects.

A response fetched from the origin while an invalidation completed is not stored if that
invalidation covers it: otherwise a request in flight could put old content back just after the
invalidation removed it.

A copy can be *held* (local only, through the control plane's stale-copy route): made older by a
number of seconds, its body optionally replaced by older content, and kept past its expiry. That
is the fault a real edge shows when it goes on serving a copy older than its max-age, which no
API can cause on purpose. A held copy is an ordinary entry otherwise: an invalidation covering it
evicts it, and a restart starts with an empty cache as always.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

# Bounded so a crawl of unique URLs cannot grow the emulator's memory without limit; far more
# than the site has objects.
MAX_ENTRIES = 5000
# How many recent invalidations an in-flight fetch is checked against; more than can complete
# during one origin fetch.
RECENT_INVALIDATIONS = 256


@dataclass
class CachedResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    stored_at: float  # time.time(), for the Age header
    expires_at: float  # time.monotonic()
    uri: str  # the URI part of the cache key
    viewer_uris: set[str] = field(default_factory=set)
    held: bool = False  # kept past expires_at until released or invalidated (see hold_stale)

    @property
    def age(self) -> int:
        return max(int(time.time() - self.stored_at), 0)


def path_matches(path: str, key: str, uri: str, viewer_uris: set[str]) -> bool:
    """Whether invalidation ``path`` covers an entry (exact, or a prefix ending in ``*``)."""
    if path.endswith("*"):
        prefix = path[:-1]
        return key.startswith(prefix) or any(v.startswith(prefix) for v in viewer_uris)
    return path in (key, uri) or path in viewer_uris


class EdgeCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self._epoch = 0
        self._recent: list[tuple[int, tuple[str, ...]]] = []

    def lookup(self, key: str, viewer_uri: str) -> CachedResponse | None:
        """The live entry for ``key`` (recording ``viewer_uri`` on it), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if not entry.held and time.monotonic() >= entry.expires_at:
                del self._entries[key]
                return None
            entry.viewer_uris.add(viewer_uri)
            self._entries.move_to_end(key)
            return entry

    def begin_fetch(self) -> int:
        """A token for a fetch about to start; pass it to ``store``."""
        with self._lock:
            return self._epoch

    def store(self, key: str, entry: CachedResponse, started: int) -> bool:
        """Keep ``entry`` unless an invalidation completed during its fetch covers it."""
        with self._lock:
            for epoch, paths in self._recent:
                if epoch > started and any(
                    path_matches(p, key, entry.uri, entry.viewer_uris) for p in paths
                ):
                    return False
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)
            return True

    def invalidate(self, paths: list[str]) -> int:
        """Evict every entry any of ``paths`` covers; returns how many went."""
        with self._lock:
            self._epoch += 1
            self._recent.append((self._epoch, tuple(paths)))
            del self._recent[:-RECENT_INVALIDATIONS]
            doomed = [
                key
                for key, e in self._entries.items()
                if any(path_matches(p, key, e.uri, e.viewer_uris) for p in paths)
            ]
            for key in doomed:
                del self._entries[key]
            return len(doomed)

    def hold_stale(self, path: str, age: float, body: bytes | None = None) -> list[str]:
        """Make every live entry ``path`` covers (as an invalidation path would) ``age`` seconds
        old and keep it past its expiry, its body replaced when ``body`` is given; returns the
        keys held. An entry already expired is not revived: only a copy the edge holds can go
        stale."""
        now = time.monotonic()
        with self._lock:
            held = []
            for key, entry in self._entries.items():
                if not entry.held and now >= entry.expires_at:
                    continue
                if path_matches(path, key, entry.uri, entry.viewer_uris):
                    entry.stored_at = time.time() - age
                    entry.held = True
                    if body is not None:
                        entry.body = body
                    held.append(key)
            return held

    def release_stale(self, path: str | None = None) -> int:
        """Evict the held entries ``path`` covers (every held entry when None), so the next
        request fetches the origin's current copy; returns how many went."""
        with self._lock:
            doomed = [
                key
                for key, e in self._entries.items()
                if e.held and (path is None or path_matches(path, key, e.uri, e.viewer_uris))
            ]
            for key in doomed:
                del self._entries[key]
            return len(doomed)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

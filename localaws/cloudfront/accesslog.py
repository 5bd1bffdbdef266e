"""The edge's access log: one line per viewer request.

``2026-11-26T15:00:00Z E2ABC... GET /track/dvJk… 200 Hit fn=ok``: time, distribution, method,
path, status, cache result, function outcome. Tracking links carry their customer's token in the
path, and tokens are never logged in full, so token-like path segments are shortened; query
strings (which can carry the same path) are not logged at all.
"""

from __future__ import annotations

import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

# A path segment this long made only of URL-safe token characters is treated as a secret:
# the site's tokens are at least 128 bits (22+ characters), its file names are shorter or
# contain a dot.
_TOKEN_LIKE = re.compile(r"^[A-Za-z0-9_-]{20,}$")
# Enough of a token to tell two apart in the log, far too little to use one.
_TOKEN_SHOWN = 4


def redact_path(path: str) -> str:
    return "/".join(
        seg[:_TOKEN_SHOWN] + "…" if _TOKEN_LIKE.match(seg) else seg for seg in path.split("/")
    )


class AccessLog:
    def __init__(self, path: str | None) -> None:
        self._lock = threading.Lock()
        self._owned = path is not None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._out: TextIO = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        else:
            self._out = sys.stderr

    def write(
        self, dist_id: str, method: str, path: str, status: int, cache: str, function: str
    ) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{stamp} {dist_id} {method} {redact_path(path)} {status} {cache} fn={function}\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()

    def close(self) -> None:
        if self._owned:
            with self._lock:
                self._out.close()

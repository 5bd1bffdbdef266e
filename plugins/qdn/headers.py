"""Content-Type and Cache-Control per site path: staging and promotion both take them from here.

The shell must be short-lived (a release changes it and viewers must see the new build soon even
where an invalidation is slow), while fingerprinted assets never change under their name and can be
cached for a year. Anything else is in between.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import PurePosixPath

# app.3f9a0c1b2d.js: ten hex digits of the content's sha256, added by staging (qdn.staging).
FINGERPRINT_DIGITS = 10
FINGERPRINTED = re.compile(rf"\.[0-9a-f]{{{FINGERPRINT_DIGITS}}}\.[A-Za-z0-9]+$")

# One minute: browsers pick up a new shell quickly; the edge copy is evicted by the release's
# invalidation anyway.
SHELL_CACHE_CONTROL = "public, max-age=60"
# A year, the longest HTTP caches honour; "immutable" spares revalidation on reload.
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
# Unfingerprinted files (robots.txt, favicon): an hour is stale-tolerable and cheap on the origin.
OTHER_CACHE_CONTROL = "public, max-age=3600"
# Customer data: never stored by a shared cache, never reused by a browser.
PRIVATE_CACHE_CONTROL = "private, no-store"

_EXTRA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
}


def content_type_for(path: str) -> str:
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def is_html(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in {".html", ".htm"}


def is_fingerprinted(path: str) -> bool:
    return bool(FINGERPRINTED.search(PurePosixPath(path).name))


def cache_control_for(path: str) -> str:
    if is_html(path):
        return SHELL_CACHE_CONTROL
    if is_fingerprinted(path):
        return ASSET_CACHE_CONTROL
    return OTHER_CACHE_CONTROL

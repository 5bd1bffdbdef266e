"""The viewer routes the CloudFront Function rewrites onto the single-page shell.

``cf/qdn-track-rewrite.js`` carries the same table; ``tests/test_routes_agree.py`` proves the two
agree, so the invalidation planner (which must invalidate the viewer paths that map onto a changed
shell) and the edge never drift apart.
"""

from __future__ import annotations

SHELL_KEY = "index.html"
SHELL_URI = "/" + SHELL_KEY

# Viewer path prefix -> the URI the function rewrites it to.
ROUTES: dict[str, str] = {
    "/track/": SHELL_URI,
    "/book/": SHELL_URI,
    "/dashboard/": SHELL_URI,
}

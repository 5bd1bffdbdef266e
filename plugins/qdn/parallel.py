"""Many small S3 requests at once, through one client: the one thread pool helper.

botocore keeps 10 connections per client by default: 8 workers never wait for one (nor log
"Connection pool is full"), and S3 serves thousands of requests per second per prefix, so the
bound is about our client, not about S3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS = 8


def parallel(fn: Callable[[T], R], items: Iterable[T], workers: int = WORKERS) -> list[R]:
    """``fn`` of each item, in order; one item runs in the caller's thread."""
    items = list(items)
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))

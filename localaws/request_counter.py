"""Count the AWS requests a client sends, by operation, through botocore's own event hooks.

The tests hold the release to request budgets with it, and the benchmarks report the requests
each contender made; both count the same way.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


class RequestCounter:
    """Registers on ``before-send`` (fired once per HTTP request, retries included)."""

    def __init__(self, *clients: Any) -> None:
        self.counts: Counter[str] = Counter()
        for client in clients:
            client.meta.events.register("before-send", self._count)

    def _count(self, event_name: str, **_: Any) -> None:
        # before-send.<service>.<Operation>
        self.counts[event_name.split(".", 2)[-1]] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def reset(self) -> None:
        self.counts.clear()

    def take(self) -> Counter[str]:
        """The counts so far, and a fresh start."""
        taken, self.counts = self.counts, Counter()
        return taken

"""Count the AWS requests a client sends, by operation, through botocore's own event hooks."""

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

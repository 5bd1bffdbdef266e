"""Which state a rollback returns to, from the release history alone.

A rollback is a release of an older build: the same switch of the live pointer, the same publish
gate for the function that build ran with. What it needs is the target, chosen by ops as

* nothing — the build that was live before the current one (so a second rollback returns to the
  release the first one undid),
* a run id from the history — the build and function that run made live,
* a build id — that build, with the function it last ran with (or the current one if the history
  no longer knows).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from qdn.release_manifest import History, HistoryEntry
from qdn.staging import BUILD_ID_RE

# The rollback's log and error messages list this many recent switches as targets.
RECENT_SHOWN = 10


class RollbackError(ValueError):
    """The target cannot be rolled back to; the message lists the choices."""


@dataclass(frozen=True)
class RollbackTarget:
    build_id: str
    function_sha256: str | None  # None: keep the function LIVE runs now
    from_run: str | None  # the history entry whose state is restored
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recent(history: History, count: int = RECENT_SHOWN) -> list[str]:
    return [e.line() for e in history.releases[:count]]


def _choices(history: History) -> str:
    lines = recent(history)
    return (
        ("recent switches, newest first:\n  " + "\n  ".join(lines))
        if lines
        else ("the release history is empty")
    )


def _last_made_live(history: History, build_id: str, after: int = 0) -> HistoryEntry | None:
    return next((e for e in history.releases[after:] if e.build_id == build_id), None)


def resolve(history: History, live: str | None, target: str = "") -> RollbackTarget:
    target = (target or "").strip()
    if not target:
        if not history.releases:
            raise RollbackError("nothing to roll back to: " + _choices(history))
        head = history.releases[0]
        if head.build_id != live:
            raise RollbackError(
                f"the live pointer names {live}, but the last switch on record made "
                f"{head.build_id} live: someone moved it by hand. Give the target explicitly; "
                + _choices(history)
            )
        if not head.previous_build:
            raise RollbackError(
                f"{head.run_id} made the first build live; there is nothing before it. "
                + _choices(history)
            )
        entry = _last_made_live(history, head.previous_build, after=1)
        build_id, why = head.previous_build, f"the build live before {head.run_id}"
    elif BUILD_ID_RE.match(target):
        entry = _last_made_live(history, target)
        build_id, why = target, f"build {target}"
    else:
        entry = next((e for e in history.releases if e.run_id == target), None)
        if entry is None:
            raise RollbackError(
                f"target {target!r} is neither a build id (build-<12 hex digits>) nor a run id on "
                "record; leave it empty for the previous release. " + _choices(history)
            )
        build_id, why = entry.build_id, f"what run {target} made live"
    if build_id == live:
        raise RollbackError(f"{build_id} ({why}) is already live; " + _choices(history))
    return RollbackTarget(
        build_id=build_id,
        function_sha256=entry.function_sha256 if entry else None,
        from_run=entry.run_id if entry else None,
        why=why,
    )

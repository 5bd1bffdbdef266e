"""The one way a release step changes anything: plan a value, then run it through an executor.

Every step (publish the function, switch the live pointer, write a job, invalidate, roll back)
first reads what it needs and returns a :class:`Plan` — the actions it would take, each with one
line an on-call engineer can read and the ids involved, plus the facts it checked on the way. The
plan is plain data. Then one of two executors runs it:

* :class:`ApplyExecutor` performs each action through the step's handlers, in order, logging one
  line per action;
* :class:`DisplayExecutor` only logs what each action would do — that is the dry run.

So a dry run prints exactly the actions a real run would take, because it is the same plan
(chalice's deployer has the same shape: a planner emits instructions, one executor applies them,
another prints them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class PlanError(RuntimeError):
    """A plan names an action its executor has no handler for: a programming error."""


@dataclass(frozen=True)
class Action:
    """One change: ``kind`` selects the handler, ``args`` are its keyword arguments."""

    kind: str
    line: str  # "write live = build-… (was build-…) with IfMatch E…": what, with its ids
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    step: str
    actions: tuple[Action, ...] = ()
    # What planning established (the build verified, LIVE already current, …): logged either way.
    checked: tuple[str, ...] = ()

    @property
    def is_noop(self) -> bool:
        return not self.actions

    def lines(self) -> list[str]:
        return [*self.checked, *(a.line for a in self.actions)]


class Executor(Protocol):
    dry_run: bool
    log: Any

    def run(self, action: Action) -> Any: ...


class ApplyExecutor:
    """Performs each action with the handler registered for its kind."""

    dry_run = False

    def __init__(
        self, handlers: Mapping[str, Callable[..., Any]], logger: Any | None = None
    ) -> None:
        self.handlers = handlers
        self.log = logger or log

    def run(self, action: Action) -> Any:
        handler = self.handlers.get(action.kind)
        if handler is None:
            raise PlanError(f"no handler for action {action.kind!r} ({action.line})")
        result = handler(**action.args)
        self.log.info("%s", action.line)
        return result


class DisplayExecutor:
    """Logs what each action would do and does nothing: the dry run."""

    dry_run = True

    def __init__(self, logger: Any | None = None) -> None:
        self.log = logger or log
        self.shown: list[str] = []

    def run(self, action: Action) -> None:
        self.shown.append(action.line)
        self.log.info("dry run: would %s", action.line)


def execute(plan: Plan, executor: Executor) -> list[Any]:
    """Log what the plan checked, then run its actions in order; the results, in order."""
    prefix = "dry run: " if executor.dry_run else ""
    for line in plan.checked:
        executor.log.info("%s%s: %s", prefix, plan.step, line)
    return [executor.run(action) for action in plan.actions]


def executor_for(
    dry_run: bool, handlers: Mapping[str, Callable[..., Any]], logger: Any | None = None
) -> Executor:
    return DisplayExecutor(logger) if dry_run else ApplyExecutor(handlers, logger)

"""What every nightly check returns: one verdict that the check's task logs, the report collects
and the alert quotes, so all three say the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# On-call needs the first few problems to act, and the count; a thousand lines bury them.
SHOWN = 20


def shown(items: list[str]) -> str:
    """The first ``SHOWN`` items, then how many more there are."""
    text = ", ".join(items[:SHOWN])
    if len(items) > SHOWN:
        text += f" and {len(items) - SHOWN} more"
    return text


@dataclass
class CheckResult:
    """One check's verdict: ``problems`` empty means it passed; ``warnings`` never fail it."""

    name: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        warned = f"; warning: {'; '.join(self.warnings[:SHOWN])}" if self.warnings else ""
        if self.passed:
            return f"{self.name}: passed ({'; '.join(self.notes) or 'nothing to note'}){warned}"
        listed = "; ".join(self.problems[:SHOWN])
        more = f"; and {len(self.problems) - SHOWN} more" if len(self.problems) > SHOWN else ""
        return f"{self.name}: {len(self.problems)} problem(s): {listed}{more}{warned}"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "problems": self.problems,
            "warnings": self.warnings,
            "notes": self.notes,
            "counts": self.counts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            name=data["name"],
            problems=list(data.get("problems", [])),
            warnings=list(data.get("warnings", [])),
            notes=list(data.get("notes", [])),
            counts=dict(data.get("counts", {})),
        )

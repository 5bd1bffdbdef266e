"""The verification's verdict: one JSON report per run in the bucket, and the one line on-call
reads first.

The report lives under ``reports/verify/<date>/`` beside the release records: private (outside
``builds/``, so no edge serves it), one object per run, so a retry of the report task rewrites its
own run's report and nothing else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qdn import config, headers
from qdn.verify.result import CheckResult

# Run ids hold ":" and "+" ("scheduled__2026-12-04T03:00:00+00:00"); keys keep to characters
# that need no escaping in a URL or a shell, and the report's body keeps the exact run id.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class VerifyReport:
    dag_id: str
    run_id: str
    finished_at: datetime
    results: list[CheckResult]
    # Checks whose task left no verdict (it crashed, or never ran), with the task's state.
    silent: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if not r.passed] + sorted(self.silent)

    @property
    def passed(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """ "7 checks passed, 1 failed: content — 2 object(s) …": each failed check with its
        first problem, so the line alone says where to look."""
        passed = sum(r.passed for r in self.results)
        head = f"{passed} check{'s' if passed != 1 else ''} passed"
        if self.passed:
            warned = [r.name for r in self.results if r.warnings]
            tail = f" (warnings: {', '.join(warned)})" if warned else ""
            return f"{head}, none failed{tail}"
        reasons = [f"{r.name} — {r.problems[0]}" for r in self.results if not r.passed]
        reasons += [
            f"{name} — no verdict (its task ended {state}; read its log)"
            for name, state in sorted(self.silent.items())
        ]
        return f"{head}, {len(self.failed)} failed: " + "; ".join(reasons)

    def as_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "finished_at": self.finished_at.isoformat(),
            "passed": self.passed,
            "summary": self.summary(),
            "checks": [r.as_json() for r in self.results],
            "silent": self.silent,
        }


def report_key(run_id: str, day: datetime) -> str:
    return f"{config.REPORTS_PREFIX}{day:%Y-%m-%d}/{_UNSAFE.sub('_', run_id)}.json"


def build_report(
    dag_id: str,
    run_id: str,
    finished_at: datetime,
    order: Sequence[str],
    verdicts: Mapping[str, dict[str, Any] | None],
    states: Mapping[str, str],
) -> VerifyReport:
    """The report from each check task's verdict (its XCom), in the checks' order."""
    results, silent = [], {}
    for task_id in order:
        verdict = verdicts.get(task_id)
        if verdict:
            results.append(CheckResult.from_json(verdict))
        else:
            silent[task_id] = states.get(task_id, "unknown")
    return VerifyReport(dag_id, run_id, finished_at, results, silent)


def write_report(s3: Any, bucket: str, report: VerifyReport) -> str:
    key = report_key(report.run_id, report.finished_at)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(report.as_json(), indent=2).encode(),
        ContentType="application/json",
        CacheControl=headers.PRIVATE_CACHE_CONTROL,
    )
    return key

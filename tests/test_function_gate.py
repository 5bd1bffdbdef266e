"""The cf/ cases through the local CloudFront's TestFunction, and the release's publish gate."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from qdn import config
from qdn.function_cases import check_output, load_cases
from qdn.function_release import (
    UTILIZATION_RUNS,
    FunctionReleaseError,
    Publisher,
    canonical,
    fallback_of,
    plan_publish,
    render,
)
from qdn.live_pointer import kvs_arn, read_pointer
from qdn.plan import ApplyExecutor, DisplayExecutor, execute

REPO_ROOT = Path(__file__).resolve().parent.parent
CF_DIR = REPO_ROOT / "cf"
SOURCE = (CF_DIR / f"{config.FUNCTION_NAME}.js").read_bytes()
SEED = (REPO_ROOT / "bench" / "seed_rewrite.js").read_bytes()
CASES = load_cases(CF_DIR)


@pytest.fixture
def hook(bootstrapped, monkeypatch):
    for key, value in bootstrapped.env.items():
        monkeypatch.setenv(key, value)
    from qdn.hooks.cloudfront import CloudFrontHook

    return CloudFrontHook(aws_conn_id=None, region_name="us-east-1")


@pytest.fixture
def store(bootstrapped) -> tuple[str, str]:
    """The live pointer's store and the build it names."""
    arn = kvs_arn(bootstrapped.client("cloudfront"), config.KVS_NAME)
    live = read_pointer(bootstrapped.client("cloudfront-keyvaluestore"), arn, "live").value
    return arn, live


def _function(stack, code: bytes, store_arn: str | None = None) -> str:
    cf = stack.client("cloudfront")
    name = f"gate-{uuid.uuid4().hex[:10]}"
    function_config: dict = {"Comment": "gate test", "Runtime": config.FUNCTION_RUNTIME}
    if store_arn:
        function_config["KeyValueStoreAssociations"] = {
            "Quantity": 1,
            "Items": [{"KeyValueStoreARN": store_arn}],
        }
    etag = cf.create_function(Name=name, FunctionConfig=function_config, FunctionCode=code)["ETag"]
    cf.publish_function(Name=name, IfMatch=etag)
    return name


def _publish(hook, name: str, store, *, source: bytes = SOURCE, code: bytes | None = None):
    arn, live = store
    plan, facts = plan_publish(
        hook, code, source=source, cases=CASES, live_build=live, kvs_arn=arn, name=name
    )
    execute(plan, ApplyExecutor(Publisher(hook, facts, CASES).handlers()))
    return plan, facts


def test_every_case_passes_through_test_function(bootstrapped, store):
    arn, live = store
    cf = bootstrapped.client("cloudfront")
    name = _function(bootstrapped, render(SOURCE, live), arn)
    etag = cf.describe_function(Name=name, Stage="DEVELOPMENT")["ETag"]
    assert len(CASES) >= 20
    for case in CASES:
        runs = [
            cf.test_function(
                Name=name,
                IfMatch=etag,
                Stage="DEVELOPMENT",
                EventObject=json.dumps(case.event).encode(),
            )["TestResult"]
            for _ in range(UTILIZATION_RUNS)
        ]
        result = runs[0]
        problems = check_output(
            case,
            result.get("FunctionOutput"),
            result.get("FunctionErrorMessage") or None,
            live_build=live,
        )
        assert problems == [], (case.name, problems)
        # As the gate judges it: the fastest of its runs (one run's figure is noisy here).
        assert min(int(r["ComputeUtilization"]) for r in runs) <= 70


def test_gate_publishes_the_repo_code_once_with_the_live_build_as_fallback(
    bootstrapped, hook, store
):
    name = _function(bootstrapped, SEED)
    plan, first = _publish(hook, name, store)
    assert [a.kind for a in plan.actions] == ["update_function", "gate", "publish"]
    assert first.published and first.cases_passed == len(CASES)
    code, _ = hook.get_function_code(name, "LIVE")
    assert canonical(code) == SOURCE and fallback_of(code) == store[1]
    summary, _ = hook.describe_function(name, "LIVE")
    assoc = summary["FunctionConfig"]["KeyValueStoreAssociations"]["Items"]
    assert assoc == [{"KeyValueStoreARN": store[0]}]

    again, facts = _publish(hook, name, store)
    assert again.is_noop and not facts.published and facts.live_etag == first.live_etag
    assert "nothing published" in facts.summary()


def test_dry_run_shows_the_same_actions_and_changes_nothing(bootstrapped, hook, store):
    name = _function(bootstrapped, SEED)
    _, etag_before = hook.get_function_code(name, "DEVELOPMENT")
    arn, live = store
    plan, _ = plan_publish(
        hook, None, source=SOURCE, cases=CASES, live_build=live, kvs_arn=arn, name=name
    )
    shown = DisplayExecutor()
    execute(plan, shown)
    assert shown.shown == [a.line for a in plan.actions] and len(shown.shown) == 3
    assert "publish" in shown.shown[-1] and live in shown.shown[-1]
    code, etag_after = hook.get_function_code(name, "DEVELOPMENT")
    assert code == SEED and etag_after == etag_before


def test_gate_refuses_the_seed_function_and_keeps_live(bootstrapped, hook, store):
    name = _function(bootstrapped, render(SOURCE, store[1]), store[0])
    code_before, live_before = hook.get_function_code(name, "LIVE")
    with pytest.raises(FunctionReleaseError, match="nothing was published"):
        _publish(hook, name, store, code=SEED)
    code, live_after = hook.get_function_code(name, "LIVE")
    assert code == code_before and live_after == live_before


def test_source_without_the_fallback_line_is_refused(bootstrapped, hook, store):
    name = _function(bootstrapped, SEED)
    with pytest.raises(FunctionReleaseError, match="FALLBACK_BUILD"):
        _publish(hook, name, store, source=SOURCE.replace(b"var FALLBACK_BUILD", b"var OTHER"))


class _Noisy:
    """TestFunction answers whose only variation is the utilisation, as a loaded host gives."""

    def __init__(self, utilisations: list[int], output: str) -> None:
        self.utilisations = utilisations
        self.output = output
        self.calls = 0

    def test_function(self, name: str, if_match: str, event: bytes) -> dict:
        self.calls += 1
        return {
            "FunctionOutput": self.output,
            "FunctionErrorMessage": "",
            "ComputeUtilization": str(self.utilisations.pop(0)),
        }


def test_the_gate_judges_a_case_by_its_fastest_of_three_runs_and_still_refuses_a_slow_one():
    from qdn.function_release import MAX_COMPUTE_UTILIZATION, UTILIZATION_RUNS, run_gate

    case = next(c for c in CASES if c.name == "private-root-jobs")
    output = json.dumps(case.expected_output)
    spike = _Noisy([100, 12], output)  # one run hit by a collection, the next as usual
    assert run_gate(spike, "f", "E1", [case], None) == (1, [])
    assert spike.calls == 2
    slow = _Noisy([95] * UTILIZATION_RUNS, output)
    passed, failures = run_gate(slow, "f", "E1", [case], None)
    assert passed == 0 and slow.calls == UTILIZATION_RUNS
    assert failures == [
        f"case {case.name}: compute utilisation 95 is over the limit {MAX_COMPUTE_UTILIZATION}"
    ]

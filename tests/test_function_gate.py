"""The cf/ cases through the local CloudFront's TestFunction, and the release's publish gate."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from qdn import config
from qdn.function_cases import check_output, load_cases
from qdn.function_release import FunctionReleaseError, release_function

REPO_ROOT = Path(__file__).resolve().parent.parent
CF_DIR = REPO_ROOT / "cf"
CODE = (CF_DIR / f"{config.FUNCTION_NAME}.js").read_bytes()
SEED = (REPO_ROOT / "bench" / "seed_rewrite.js").read_bytes()


@pytest.fixture
def hook(aws_stack, monkeypatch):
    for key, value in aws_stack.env.items():
        monkeypatch.setenv(key, value)
    from qdn.hooks.cloudfront import CloudFrontHook

    return CloudFrontHook(aws_conn_id=None, region_name="us-east-1")


def _function(aws_stack, code: bytes) -> str:
    cf = aws_stack.client("cloudfront")
    name = f"gate-{uuid.uuid4().hex[:10]}"
    etag = cf.create_function(
        Name=name,
        FunctionConfig={"Comment": "gate test", "Runtime": config.FUNCTION_RUNTIME},
        FunctionCode=code,
    )["ETag"]
    cf.publish_function(Name=name, IfMatch=etag)
    return name


def test_every_case_passes_through_test_function(aws_stack):
    cf = aws_stack.client("cloudfront")
    name = _function(aws_stack, CODE)
    etag = cf.describe_function(Name=name, Stage="DEVELOPMENT")["ETag"]
    cases = load_cases(CF_DIR)
    assert len(cases) >= 20
    for case in cases:
        result = cf.test_function(
            Name=name,
            IfMatch=etag,
            Stage="DEVELOPMENT",
            EventObject=json.dumps(case.event).encode(),
        )["TestResult"]
        problems = check_output(
            case, result.get("FunctionOutput"), result.get("FunctionErrorMessage") or None
        )
        assert problems == [], (case.name, problems)
        assert int(result["ComputeUtilization"]) <= 70


def test_gate_publishes_the_repo_code_once(aws_stack, hook):
    name = _function(aws_stack, SEED)
    first = release_function(hook, CF_DIR / f"{config.FUNCTION_NAME}.js", CF_DIR, name=name)
    assert first.published and first.cases_passed == len(load_cases(CF_DIR))
    code, _ = hook.get_function_code(name, "LIVE")
    assert code == CODE
    again = release_function(hook, CF_DIR / f"{config.FUNCTION_NAME}.js", CF_DIR, name=name)
    assert not again.published and again.live_etag == first.live_etag
    assert "nothing published" in again.summary()


def test_gate_refuses_the_seed_function_and_keeps_live(aws_stack, hook, tmp_path):
    name = _function(aws_stack, CODE)
    _, live_before = hook.get_function_code(name, "LIVE")
    (tmp_path / "seed.js").write_bytes(SEED)
    with pytest.raises(FunctionReleaseError, match="nothing was published"):
        release_function(hook, tmp_path / "seed.js", CF_DIR, name=name)
    code, live_after = hook.get_function_code(name, "LIVE")
    assert code == CODE and live_after == live_before

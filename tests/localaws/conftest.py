"""Fixtures the local CloudFront tests share (the stack itself comes from tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def cf(aws_stack: Any) -> Any:
    """boto3's CloudFront client on the shared stack."""
    return aws_stack.client("cloudfront")


@pytest.fixture
def kvs(aws_stack: Any) -> Any:
    """boto3's key value store data-plane client on the shared stack (through its proxy)."""
    return aws_stack.client("cloudfront-keyvaluestore")

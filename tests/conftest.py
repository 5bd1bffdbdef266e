"""Session fixtures: the local AWS stack started once per test session, stopped by process group.

Every test that needs AWS talks to these servers over real HTTP; nothing here patches boto3.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from localaws import stack

# Set before anything builds a boto3 client, so no test can reach for real credentials.
os.environ.update(stack.FAKE_CREDENTIALS)
os.environ["AWS_DEFAULT_REGION"] = stack.REGION
for _leaked in (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_CLOUDFRONT",
):
    os.environ.pop(_leaked, None)

REPO_ROOT = Path(__file__).resolve().parent.parent

# Tests wait on invalidations often; one second keeps InProgress observable and the suite fast.
TEST_INVALIDATION_DELAY = 1.0


@dataclass
class StackHandle:
    """A running stack as tests see it: URLs, clients and the environment for subprocesses."""

    config: stack.StackConfig
    pgids: dict[str, int]
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def moto_url(self) -> str:
        return self.config.moto_url

    @property
    def cloudfront_url(self) -> str:
        return self.config.cloudfront_url

    def edge_url(self, alias: str) -> str:
        return self.config.edge_url(alias)

    @property
    def env(self) -> dict[str, str]:
        return stack.aws_env(self.config)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            endpoint = self.cloudfront_url if service == "cloudfront" else self.moto_url
            self._clients[service] = boto3.client(
                service, endpoint_url=endpoint, region_name=stack.REGION
            )
        return self._clients[service]


def _start(tmp_path_factory: pytest.TempPathFactory, name: str, services: tuple[str, ...]):
    state_dir = tmp_path_factory.mktemp(name)
    cfg = stack.StackConfig.with_free_ports(state_dir, invalidation_delay=TEST_INVALIDATION_DELAY)
    running = stack.start(cfg, services=services)
    return StackHandle(cfg, running.pgids), state_dir


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server of its own (S3, CloudWatch, Logs, SNS) for tests that need no CloudFront."""
    handle, state_dir = _start(tmp_path_factory, "moto-only", ("moto",))
    try:
        yield handle.moto_url
    finally:
        stack.stop(state_dir)


@pytest.fixture(scope="session")
def aws_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    """moto plus the local CloudFront (control plane and one edge per alias)."""
    handle, state_dir = _start(tmp_path_factory, "stack", stack.SERVICES)
    try:
        yield handle
    finally:
        stack.stop(state_dir)

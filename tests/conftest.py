"""Session fixtures: the local AWS stack started once per test session, stopped by process group.

Every test that needs AWS talks to these servers over real HTTP; nothing here patches boto3.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from localaws import stack
from localaws.airflow_local import airflow_settings, release_variables
from localaws.fault_proxy import FaultProxy

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

# Airflow reads its configuration when first imported: point it at a throwaway home (SQLite
# metadata DB inside it), our dags/ and plugins/, before any test module imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="qdn-airflow-"))
os.environ.update(airflow_settings(_AIRFLOW_HOME), AIRFLOW__LOGGING__LOGGING_LEVEL="INFO")

# Property tests draw fresh examples on a developer's machine, where a rare counterexample is
# worth finding; under CI=true they replay one fixed sequence, so a submission's result does not
# depend on the draw. Loaded here, before any test module builds its own settings from the default.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

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
            self._clients[service] = stack.client(self.config, service)
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
def fault_proxy_process(
    moto_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultProxy]:
    """One fault proxy in front of the moto-only server for the session (starting a process per
    test would cost more than the tests); ``fault_proxy`` hands it to tests with no rules."""
    log_path = tmp_path_factory.mktemp("fault-proxy") / "fault-proxy.log"
    proxy = FaultProxy.start(moto_url, log_path=log_path)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def fault_proxy(fault_proxy_process: FaultProxy) -> Iterator[FaultProxy]:
    """The session's fault proxy with no rules and zeroed counts, cleared again afterwards so a
    rule a test left unfired cannot fail the next test's requests."""
    if not fault_proxy_process.alive():
        pytest.fail(f"the fault proxy has exited; see {fault_proxy_process.log_path}")
    fault_proxy_process.clear()
    yield fault_proxy_process
    fault_proxy_process.clear()


@pytest.fixture(scope="session")
def aws_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    """moto plus the local CloudFront (control plane and one edge per alias)."""
    handle, state_dir = _start(tmp_path_factory, "stack", stack.SERVICES)
    try:
        yield handle
    finally:
        stack.stop(state_dir)


@dataclass
class ReleasedSite:
    """A bootstrapped stack whose production site is live on both edges."""

    stack: StackHandle

    @property
    def build_id(self) -> str:
        """The build the live pointer names now (DAG tests earlier in the session switch it)."""
        from qdn import config
        from qdn.live_pointer import kvs_arn, read_pointer

        arn = kvs_arn(self.stack.client("cloudfront"), config.KVS_NAME)
        return read_pointer(
            self.stack.client("cloudfront-keyvaluestore"), arn, config.LIVE_POINTER_KEY
        ).value

    def url(self, alias: str = "quickdumpnow.com") -> str:
        return self.stack.edge_url(alias)

    def add_job(self, **fields: Any) -> Any:
        """Add a job straight into jobs.json through the job store; returns the stored Job."""
        from datetime import date, timedelta

        from qdn.jobs.model import NewJob
        from qdn.jobs.store import JobStore

        values: dict[str, Any] = {
            "customer_name": "Mark",
            "location": "Soderblom Ave",
            "service_date": date.today() + timedelta(days=3),
            "price": "600.00",
            "status": "ready_for_pickup",
        }
        values.update(fields)
        store = JobStore(self.stack.client("s3"), self.stack.client("logs"))
        return store.create(NewJob(**values), idempotency_key=f"test-{uuid.uuid4().hex}").job


@pytest.fixture(scope="session")
def bootstrapped(aws_stack: StackHandle) -> StackHandle:
    """The stack after the bootstrap: bucket, job records, site, function, distributions, alerts."""
    from localaws.bootstrap import bootstrap

    bootstrap(aws_stack.client)
    return aws_stack


@pytest.fixture(scope="session")
def released_site(bootstrapped: StackHandle) -> ReleasedSite:
    return ReleasedSite(bootstrapped)


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """A migrated metadata DB, once per session (``resetdb`` takes a few seconds)."""
    from airflow.utils import db

    db.resetdb()
    yield _AIRFLOW_HOME
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture
def airflow_env(bootstrapped: StackHandle, monkeypatch: pytest.MonkeyPatch) -> StackHandle:
    """Airflow's ``aws_default`` connection and the release's Variables, pointed at the stack."""
    for key, value in release_variables(bootstrapped.config).items():
        monkeypatch.setenv(key, value)
    return bootstrapped


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    for the rest of the session, and ``dag.test()`` runs its inline trigger with ``asyncio.run``,
    which refuses to start inside a running loop."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)

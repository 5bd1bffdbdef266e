"""Start and stop the local AWS stack: a moto server and our local CloudFront, on loopback.

Both run as child processes in their own session (``start_new_session``), so stopping the stack
kills each whole process group: moto's server and anything our CloudFront spawns go with it, and
nothing is left holding a port. The running stack is described by ``<state_dir>/stack.json`` so a
later ``down`` (another process, another shell) can find the groups to stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parent.parent

# The stack has no real credentials; moto accepts any, and the values must merely be present so
# botocore signs requests instead of looking for an instance profile.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
REGION = "us-east-1"

DEFAULT_MOTO_PORT = 5600
DEFAULT_CLOUDFRONT_PORT = 5601
DEFAULT_EDGE_PORTS = {"quickdumpnow.com": 8081, "www.quickdumpnow.com": 8082}
# Distributions created without a configured alias get ports from here up.
DEFAULT_EDGE_PORT_BASE = 8090
# AWS takes minutes; a few seconds keeps InProgress observable without slowing a rehearsal.
DEFAULT_INVALIDATION_DELAY = 5.0
# AWS copies a key value store write to its edges within seconds; the edges here read a write
# after this long, so code that reads back too early is caught, as on AWS.
DEFAULT_KVS_PROPAGATION_DELAY = 2.0
# The key value store data plane's client endpoint. botocore's endpoint rules put the account id
# in front of any endpoint's host (123456789012.kvs.localaws), so no loopback URL can be the
# endpoint: clients name this made-up host and reach the local CloudFront as their HTTP proxy
# (``proxies={"http": cloudfront_url}``), which serves the data plane on its API port.
KVS_ENDPOINT = "http://kvs.localaws"
KVS_SERVICE = "cloudfront-keyvaluestore"
# Hosts a shell's HTTP_PROXY must not send to the local CloudFront: the stack itself.
NO_PROXY = "127.0.0.1,localhost"
# Both servers answer in about a second here; the bound only stops a broken start from hanging.
READY_TIMEOUT = 30.0

HOST = "127.0.0.1"


@dataclass
class StackConfig:
    """Ports and timings of one stack; the defaults are the ones the README documents."""

    moto_port: int = DEFAULT_MOTO_PORT
    cloudfront_port: int = DEFAULT_CLOUDFRONT_PORT
    edge_ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_EDGE_PORTS))
    edge_port_base: int = DEFAULT_EDGE_PORT_BASE
    invalidation_delay: float = DEFAULT_INVALIDATION_DELAY
    kvs_propagation_delay: float = DEFAULT_KVS_PROPAGATION_DELAY
    # Seconds to wait for the servers to answer. A restored state of hundreds of thousands of
    # objects (the job records benchmark) takes moto a minute or more to load.
    ready_timeout: float = READY_TIMEOUT
    state_dir: Path = REPO_ROOT / ".stack"
    dashboard_key: str = ""
    # The name clients reach the stack by, and the address its servers listen on: both loopback
    # here; in compose the servers listen on 0.0.0.0 and the other containers say ``localaws``.
    host: str = HOST
    bind_host: str = HOST

    @property
    def moto_state_file(self) -> Path:
        """moto's services, saved on ``down`` and restored on ``up`` (``make clean`` forgets)."""
        return self.state_dir / "moto-state.pickle"

    @property
    def cloudfront_state_file(self) -> Path:
        """Functions, distributions, invalidations and key value stores, likewise kept across
        ``down`` and ``up``."""
        return self.state_dir / "cloudfront-state.json"

    @property
    def moto_url(self) -> str:
        return f"http://{self.host}:{self.moto_port}"

    @property
    def cloudfront_url(self) -> str:
        return f"http://{self.host}:{self.cloudfront_port}"

    def edge_url(self, alias: str) -> str:
        """The URL a person opens for an alias; the smoke check fetches the same one."""
        return f"http://{self.host}:{self.edge_ports[alias]}"

    @classmethod
    def with_free_ports(cls, state_dir: Path, **overrides: object) -> StackConfig:
        """A config on ports nobody is using, so tests never collide with a developer's stack."""
        ports = free_ports(4)
        cfg = cls(
            moto_port=ports[0],
            cloudfront_port=ports[1],
            edge_ports=dict(zip(DEFAULT_EDGE_PORTS, ports[2:], strict=True)),
            edge_port_base=_free_range_base(),
            state_dir=state_dir,
        )
        for key, value in overrides.items():
            setattr(cfg, key, value)
        return cfg


def free_ports(count: int) -> list[int]:
    """Ask the kernel for ``count`` distinct unused ports."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _free_range_base(width: int = 10) -> int:
    """A base port with ``width`` free ports above it, for distributions without a fixed port."""
    for base in range(20000, 60000, 97):
        if all(_port_free(base + i) for i in range(width)):
            return base
    raise RuntimeError("no free port range for extra edges")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def aws_env(cfg: StackConfig) -> dict[str, str]:
    """Environment that points boto3, the AWS CLI and Airflow at this stack.

    boto3 reads ``AWS_ENDPOINT_URL`` and the per-service ``AWS_ENDPOINT_URL_CLOUDFRONT`` itself, so
    plain scripts and the track API handler need no code of ours to find the stack; Airflow reads
    the same two endpoints from the ``aws_default`` connection. The key value store data plane's
    endpoint is ``KVS_ENDPOINT``; a client also needs the local CloudFront as its HTTP proxy, which
    is not exported here (it would send every plain-HTTP request of the shell there): see
    ``kvs_proxy_env``.
    """
    env = dict(FAKE_CREDENTIALS)
    env.update(
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL=cfg.moto_url,
        AWS_ENDPOINT_URL_CLOUDFRONT=cfg.cloudfront_url,
        AWS_ENDPOINT_URL_CLOUDFRONT_KEYVALUESTORE=KVS_ENDPOINT,
        AIRFLOW_CONN_AWS_DEFAULT=airflow_connection(cfg),
    )
    if cfg.dashboard_key:
        env["QDN_DASHBOARD_KEY"] = cfg.dashboard_key
    return env


def kvs_proxy_env(cfg: StackConfig) -> dict[str, str]:
    """What one AWS CLI (or other botocore) process needs, beside ``aws_env``, to reach the key
    value store data plane: the local CloudFront as its HTTP proxy, the stack itself direct."""
    return {"HTTP_PROXY": cfg.cloudfront_url, "NO_PROXY": NO_PROXY}


def airflow_connection(cfg: StackConfig) -> str:
    """``AIRFLOW_CONN_AWS_DEFAULT``: moto for every service, our CloudFront for cloudfront, and
    for the key value store data plane its endpoint with our CloudFront as ``proxy_url`` (the
    release's hook makes that the client's HTTP proxy)."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "password": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "extra": {
                "region_name": REGION,
                "endpoint_url": cfg.moto_url,
                "service_config": {
                    "cloudfront": {"endpoint_url": cfg.cloudfront_url},
                    KVS_SERVICE: {"endpoint_url": KVS_ENDPOINT, "proxy_url": cfg.cloudfront_url},
                },
            },
        },
        separators=(",", ":"),
    )


def client(cfg: StackConfig, service: str) -> Any:
    """A boto3 client for ``service`` on this stack (CloudFront and the key value store data
    plane on ours, the rest on moto)."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {"endpoint_url": cfg.moto_url}
    if service == "cloudfront":
        options = {"endpoint_url": cfg.cloudfront_url}
    elif service == KVS_SERVICE:
        options = {
            "endpoint_url": KVS_ENDPOINT,
            "config": Config(proxies={"http": cfg.cloudfront_url}),
        }
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        **options,
    )


@dataclass
class RunningStack:
    """What ``stack.json`` records: enough for another process to use or stop the stack."""

    config: StackConfig
    pgids: dict[str, int]
    started_at: float

    def to_json(self) -> str:
        cfg = asdict(self.config)
        cfg["state_dir"] = str(self.config.state_dir)
        return json.dumps({"config": cfg, "pgids": self.pgids, "started_at": self.started_at})

    def alive(self) -> bool:
        """Every process group the stack started is still there."""
        return all(group_alive(pgid) for pgid in self.pgids.values())

    @classmethod
    def from_json(cls, text: str) -> RunningStack:
        raw = json.loads(text)
        cfg = raw["config"]
        cfg["state_dir"] = Path(cfg["state_dir"])
        return cls(StackConfig(**cfg), raw["pgids"], raw["started_at"])


def _state_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def load_running(state_dir: Path) -> RunningStack | None:
    path = _state_file(state_dir)
    if not path.exists():
        return None
    return RunningStack.from_json(path.read_text())


# Where a stack started by other means (a container, another machine's shell) is announced: our
# own names first, then the AWS SDKs' standard endpoint variables.
MOTO_URL_VARS = ("QDN_MOTO_URL", "AWS_ENDPOINT_URL")
CLOUDFRONT_URL_VARS = ("QDN_CLOUDFRONT_URL", "AWS_ENDPOINT_URL_CLOUDFRONT")


def from_endpoints(environ: Mapping[str, str], state_dir: Path) -> StackConfig | None:
    """The stack the environment names by its endpoints, or None when it names none.

    ``up`` is one way to start the stack; compose's ``localaws`` container is another, and its
    neighbours know it only by URL. Both servers must be on one host (the edges are too).
    """
    moto = next((environ[v] for v in MOTO_URL_VARS if environ.get(v)), "")
    cloudfront = next((environ[v] for v in CLOUDFRONT_URL_VARS if environ.get(v)), "")
    if not moto and not cloudfront:
        return None
    if not (moto and cloudfront):
        raise StackError(
            "the environment names only one of the stack's endpoints (moto "
            f"{moto or 'unset'}, CloudFront {cloudfront or 'unset'}); set both "
            "QDN_MOTO_URL and QDN_CLOUDFRONT_URL"
        )
    moto_parts, cf_parts = urlsplit(moto), urlsplit(cloudfront)
    if moto_parts.hostname != cf_parts.hostname or not (moto_parts.port and cf_parts.port):
        raise StackError(
            f"moto ({moto}) and the local CloudFront ({cloudfront}) must be host:port URLs "
            "on the same host"
        )
    return StackConfig(
        moto_port=moto_parts.port,
        cloudfront_port=cf_parts.port,
        host=moto_parts.hostname or HOST,
        state_dir=state_dir,
    )


def locate(state_dir: Path, environ: Mapping[str, str]) -> StackConfig | None:
    """The stack to talk to: the one the environment names, else the one ``up`` recorded."""
    named = from_endpoints(environ, state_dir)
    if named is not None:
        return named
    running = load_running(state_dir)
    return running.config if running else None


def answering(cfg: StackConfig) -> list[str]:
    """The stack's servers that do not answer (empty: both do)."""
    checks = {
        "moto": f"{cfg.moto_url}/moto-api/",
        "cloudfront": f"{cfg.cloudfront_url}/_localaws/health",
    }
    return [name for name, url in checks.items() if not _answers(url)]


def _child_env(cfg: StackConfig) -> dict[str, str]:
    env = dict(os.environ)
    env.update(aws_env(cfg))
    # The edge imports the track API handler in-process; it needs our packages on its path.
    paths = [str(REPO_ROOT / "plugins"), str(REPO_ROOT), str(REPO_ROOT / "site" / "api")]
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _spawn(name: str, argv: list[str], cfg: StackConfig) -> Popen[bytes]:
    log = (cfg.state_dir / f"{name}.log").open("ab")
    return Popen(
        argv,
        cwd=REPO_ROOT,
        env=_child_env(cfg),
        stdin=open(os.devnull, "rb"),
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


SERVICES = ("moto", "cloudfront")
# The track API the edge serves /api/* from, imported in-process by the local CloudFront.
API_HANDLER = "qdn_api.app:handler"


def cloudfront_argv(
    cfg: StackConfig, *, api_handler: str = API_HANDLER, state_file: Path | None = None
) -> list[str]:
    """The local CloudFront's command line for this stack; tests reuse it with their handler."""
    edges = [arg for alias, port in cfg.edge_ports.items() for arg in ("--edge", f"{alias}={port}")]
    return [
        sys.executable, "-m", "localaws.cloudfront",
        "--host", cfg.bind_host,
        "--port", str(cfg.cloudfront_port),
        "--s3-endpoint", cfg.moto_url,
        "--region", REGION,
        "--invalidation-delay", str(cfg.invalidation_delay),
        "--kvs-propagation-delay", str(cfg.kvs_propagation_delay),
        *edges,
        "--edge-port-base", str(cfg.edge_port_base),
        "--api-handler", api_handler,
        "--access-log", str(cfg.state_dir / "edge-access.log"),
        *(["--state-file", str(state_file)] if state_file else []),
    ]  # fmt: skip


def start(cfg: StackConfig, services: tuple[str, ...] = SERVICES) -> RunningStack:
    """Start moto and the local CloudFront, wait until both answer, record them in stack.json.

    ``services=("moto",)`` starts moto alone, for tests that need only S3 and friends.
    """
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    existing = load_running(cfg.state_dir)
    if existing and existing.alive():
        raise StackError(
            f"a stack is already running from {cfg.state_dir} "
            f"(moto {existing.config.moto_url}); stop it first with: make down"
        )
    if not cfg.dashboard_key:
        import secrets

        cfg.dashboard_key = secrets.token_urlsafe(24)
    python = sys.executable
    procs: dict[str, Popen[bytes]] = {}
    try:
        procs["moto"] = _spawn(
            "moto",
            [
                python,
                "-m",
                "localaws.moto_server",
                "--host",
                cfg.bind_host,
                "--port",
                str(cfg.moto_port),
                "--state-file",
                str(cfg.moto_state_file),
            ],
            cfg,
        )
        if "cloudfront" not in services:
            running = RunningStack(cfg, {k: p.pid for k, p in procs.items()}, time.time())
            _state_file(cfg.state_dir).write_text(running.to_json())
            wait_ready(cfg, procs)
            return running
        procs["cloudfront"] = _spawn(
            "cloudfront", cloudfront_argv(cfg, state_file=cfg.cloudfront_state_file), cfg
        )
        running = RunningStack(cfg, {k: p.pid for k, p in procs.items()}, time.time())
        _state_file(cfg.state_dir).write_text(running.to_json())
        wait_ready(cfg, procs)
    except BaseException:
        for proc in procs.values():
            kill_group(proc.pid)
        _state_file(cfg.state_dir).unlink(missing_ok=True)
        raise
    return running


class StackError(RuntimeError):
    """The stack could not start or stop; the message says what to look at."""


def wait_ready(cfg: StackConfig, procs: dict[str, Popen[bytes]] | None = None) -> None:
    checks = {
        "moto": f"{cfg.moto_url}/moto-api/",
        "cloudfront": f"{cfg.cloudfront_url}/_localaws/health",
    }
    deadline = time.monotonic() + cfg.ready_timeout
    pending = {k: v for k, v in checks.items() if procs is None or k in procs}
    while pending:
        for name, url in list(pending.items()):
            if procs and procs[name].poll() is not None:
                raise StackError(
                    f"{name} exited with code {procs[name].returncode} while starting; "
                    f"see {cfg.state_dir / (name + '.log')}"
                )
            if _answers(url):
                del pending[name]
        if pending and time.monotonic() > deadline:
            raise StackError(
                f"{', '.join(pending)} did not answer within {cfg.ready_timeout:.0f} s; "
                f"see the logs in {cfg.state_dir}"
            )
        if pending:
            time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
            return resp.status < 500
    except urllib.error.HTTPError as err:
        return err.code < 500
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# SIGTERM first so servers flush their logs; the group is killed outright if it lingers.
STOP_GRACE = 5.0


def kill_group(pgid: int) -> None:
    """Stop a whole process group (a server and whatever it spawned) and reap its leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while time.monotonic() < deadline and group_alive(pgid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pgid, os.WNOHANG)
        time.sleep(0.05)
    if group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pgid, 0)


def stop(state_dir: Path) -> list[str]:
    """Stop every process group the stack started; returns the names stopped."""
    running = load_running(state_dir)
    if running is None:
        return []
    stopped = []
    for name, pgid in running.pgids.items():
        if group_alive(pgid):
            kill_group(pgid)
            stopped.append(name)
    _state_file(state_dir).unlink(missing_ok=True)
    return stopped

"""``python -m localaws up|down|env|status|bootstrap``: the local AWS stack from a shell.

``up`` starts moto and the local CloudFront and prints what to point clients at; ``env`` prints
``export`` lines for ``eval`` so a shell (or ``make``) talks to the running stack; ``down`` stops
every process group the stack started (and the Airflow ``make airflow`` started).

``env``, ``status`` and ``bootstrap`` find the stack by its endpoints when the environment names
them (``QDN_MOTO_URL``/``QDN_CLOUDFRONT_URL``, or ``AWS_ENDPOINT_URL``/
``AWS_ENDPOINT_URL_CLOUDFRONT``), so a stack started by other means (compose's ``localaws``
container) is bootstrapped the same way; otherwise by the state file ``up`` writes.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from localaws import stack


def _parse_edges(values: list[str] | None) -> dict[str, int]:
    if not values:
        return dict(stack.DEFAULT_EDGE_PORTS)
    edges = {}
    for value in values:
        alias, sep, port = value.partition("=")
        if not sep or not port.isdigit():
            raise SystemExit(f"--edge takes ALIAS=PORT, e.g. quickdumpnow.com=8081; got {value!r}")
        edges[alias] = int(port)
    return edges


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=stack.REPO_ROOT / ".stack")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start moto and the local CloudFront")
    up.add_argument("--moto-port", type=int, default=stack.DEFAULT_MOTO_PORT)
    up.add_argument("--cloudfront-port", type=int, default=stack.DEFAULT_CLOUDFRONT_PORT)
    up.add_argument("--edge", action="append", metavar="ALIAS=PORT")
    up.add_argument("--edge-port-base", type=int, default=stack.DEFAULT_EDGE_PORT_BASE)
    up.add_argument(
        "--invalidation-delay", type=float, default=stack.DEFAULT_INVALIDATION_DELAY,
        help="seconds an invalidation stays InProgress (default %(default)s)",
    )  # fmt: skip
    up.add_argument(
        "--kvs-propagation-delay", type=float, default=stack.DEFAULT_KVS_PROPAGATION_DELAY,
        help="seconds before the edges read a key value store write (default %(default)s)",
    )  # fmt: skip
    up.add_argument(
        "--bind", default=stack.HOST,
        help="address the servers listen on (0.0.0.0 in a container; default %(default)s)",
    )  # fmt: skip
    up.add_argument(
        "--foreground", action="store_true",
        help="stay in the foreground until stopped (a container's main process), then stop",
    )  # fmt: skip
    sub.add_parser("down", help="stop every process the stack (and make airflow) started")
    ui = sub.add_parser(
        "airflow", help="Airflow's UI on the local stack (LocalExecutor), started in the background"
    )
    ui.add_argument("--port", type=int, default=8080, help="the UI's port (default %(default)s)")
    sub.add_parser("env", help="print export lines for the running stack (for eval)")
    sub.add_parser("status", help="say whether the stack is running and where")
    sub.add_parser("bootstrap", help="create the QuickDumpNow infrastructure on the running stack")
    args = parser.parse_args(argv)

    if args.command == "up":
        cfg = stack.StackConfig(
            moto_port=args.moto_port,
            cloudfront_port=args.cloudfront_port,
            edge_ports=_parse_edges(args.edge),
            edge_port_base=args.edge_port_base,
            invalidation_delay=args.invalidation_delay,
            kvs_propagation_delay=args.kvs_propagation_delay,
            state_dir=args.state_dir,
            bind_host=args.bind,
        )
        began = time.monotonic()
        try:
            running = stack.start(cfg)
        except stack.StackError as err:
            print(f"localaws: {err}", file=sys.stderr)
            return 1
        took = time.monotonic() - began
        print(f"local AWS stack up in {took:.1f} s (state in {cfg.state_dir})")
        print(f"  moto (S3, CloudWatch, Logs, SNS): {cfg.moto_url}  pgid {running.pgids['moto']}")
        print(
            f"  local CloudFront API:             {cfg.cloudfront_url}  "
            f"pgid {running.pgids['cloudfront']}"
        )
        print(
            f"  key value store data plane:       {stack.KVS_ENDPOINT} through the HTTP proxy "
            f"{cfg.cloudfront_url}"
        )
        for alias in cfg.edge_ports:
            print(f"  edge for {alias + ':':<24}{cfg.edge_url(alias)}")
        print("AIRFLOW_CONN_AWS_DEFAULT=" + shlex.quote(stack.airflow_connection(cfg)))
        print('For a shell: eval "$(python -m localaws env)"; stop with: python -m localaws down')
        if args.foreground:
            return _hold(running, args.state_dir)
        return 0

    if args.command == "airflow":
        return _airflow(args.state_dir, args.port)
    if args.command == "down":
        from localaws import airflow_processes

        stopped = airflow_processes.stop_recorded(args.state_dir) + stack.stop(args.state_dir)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    try:
        cfg = stack.locate(args.state_dir, os.environ)
    except stack.StackError as err:
        print(f"localaws: {err}", file=sys.stderr)
        return 1
    if cfg is None:
        print(
            "localaws: no stack is running; start one with: make up (or name a running one "
            "with QDN_MOTO_URL and QDN_CLOUDFRONT_URL)",
            file=sys.stderr,
        )
        return 1
    if args.command == "env":
        for key, value in stack.aws_env(cfg).items():
            print(f"export {key}={shlex.quote(value)}")
        proxy = " ".join(f"{k}={v}" for k, v in stack.kvs_proxy_env(cfg).items())
        print(
            "# The key value store data plane answers through the local CloudFront as an HTTP "
            f"proxy, per command: {proxy} aws cloudfront-keyvaluestore list-keys --kvs-arn ARN"
        )
        return 0
    if args.command == "bootstrap":
        from localaws.bootstrap import bootstrap

        silent = stack.answering(cfg)
        if silent:
            print(
                f"localaws: {', '.join(silent)} at {cfg.moto_url} / {cfg.cloudfront_url} does "
                "not answer; is the stack up?",
                file=sys.stderr,
            )
            return 1
        report = bootstrap(lambda service: stack.client(cfg, service))
        for line in report.lines:
            print(line)
        print(f"bootstrap done: {report.changed} changes")
        return 0
    # status: exits 1 when a server is down, so it doubles as a container health check.
    running = stack.load_running(args.state_dir)
    for name, pgid in (running.pgids if running and running.config == cfg else {}).items():
        state = "running" if stack.group_alive(pgid) else "DEAD"
        print(f"{name}: {state} (pgid {pgid})")
    print(f"moto {cfg.moto_url}  cloudfront {cfg.cloudfront_url}")
    for alias in cfg.edge_ports:
        print(f"edge {alias}: {cfg.edge_url(alias)}")
    silent = stack.answering(cfg)
    if silent:
        print(f"not answering: {', '.join(silent)}")
        return 1
    return 0


def _airflow(state_dir: Path, port: int) -> int:
    """``make airflow``: the stack (started if needed, bootstrapped), then Airflow on it."""
    from localaws import airflow_processes
    from localaws.bootstrap import bootstrap

    running = stack.load_running(state_dir)
    if running is None or not running.alive():
        stack.stop(state_dir)
        try:
            running = stack.start(stack.StackConfig(state_dir=state_dir))
        except stack.StackError as err:
            print(f"localaws: {err}", file=sys.stderr)
            return 1
        print(f"local AWS stack up (moto {running.config.moto_url})")
    cfg = running.config
    if airflow_processes.stop_recorded(state_dir):
        print("stopped the Airflow an earlier `make airflow` left running")
    report = bootstrap(lambda service: stack.client(cfg, service))
    print(f"bootstrap: {report.changed} change(s)")
    print("starting Airflow (api-server, scheduler, dag-processor, triggerer) ...", flush=True)
    try:
        ui = airflow_processes.start_local(cfg, state_dir / "airflow-ui", port)
    except (RuntimeError, airflow_processes.ApiError) as err:
        print(f"localaws: {err}", file=sys.stderr)
        return 1
    print(f"Airflow UI: {ui.url}  login: {ui.user} / {ui.password}")
    print("  qdn_release is unpaused: Trigger -> the Params form; aws_default and the qdn_* ")
    print(f"  Variables point at the local stack; component logs in {ui.log_dir}")
    for alias in cfg.edge_ports:
        print(f"  site {alias}: {cfg.edge_url(alias)}")
    print("stop it (and the stack) with: make down")
    return 0


def _hold(running: stack.RunningStack, state_dir: Path) -> int:
    """Wait until told to stop (SIGTERM from ``docker stop``) or a server dies, then stop all."""
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # A server that dies takes the stack's health with it; say so rather than idle on.
    while not stopping and running.alive():
        time.sleep(1)
    died = not stopping
    stack.stop(state_dir)
    if died:
        print("localaws: a server of the stack exited; see the logs in " + str(state_dir))
    return 1 if died else 0


if __name__ == "__main__":
    sys.exit(main())

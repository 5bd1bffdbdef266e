"""``python -m localaws up|down|env|status|bootstrap``: the local AWS stack from a shell.

``up`` starts moto and the local CloudFront and prints what to point clients at; ``env`` prints
``export`` lines for ``eval`` so a shell (or ``make``) talks to the running stack; ``down`` stops
every process group the stack started.
"""

from __future__ import annotations

import argparse
import shlex
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
    sub.add_parser("down", help="stop every process the stack started")
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
        return 0

    running = stack.load_running(args.state_dir)
    if args.command == "down":
        stopped = stack.stop(args.state_dir)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    if running is None:
        print("localaws: no stack is running; start one with: make up", file=sys.stderr)
        return 1
    if args.command == "env":
        for key, value in stack.aws_env(running.config).items():
            print(f"export {key}={shlex.quote(value)}")
        proxy = " ".join(f"{k}={v}" for k, v in stack.kvs_proxy_env(running.config).items())
        print(
            "# The key value store data plane answers through the local CloudFront as an HTTP "
            f"proxy, per command: {proxy} aws cloudfront-keyvaluestore list-keys --kvs-arn ARN"
        )
        return 0
    if args.command == "bootstrap":
        from localaws.bootstrap import bootstrap

        report = bootstrap(lambda service: stack.client(running.config, service))
        for line in report.lines:
            print(line)
        print(f"bootstrap done: {report.changed} changes")
        return 0
    # status
    cfg = running.config
    for name, pgid in running.pgids.items():
        state = "running" if stack.group_alive(pgid) else "DEAD"
        print(f"{name}: {state} (pgid {pgid})")
    print(f"moto {cfg.moto_url}  cloudfront {cfg.cloudfront_url}")
    for alias in cfg.edge_ports:
        print(f"edge {alias}: {cfg.edge_url(alias)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

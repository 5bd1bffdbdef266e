"""``python -m localaws.cloudfront``: the local CloudFront (control plane and edges) in one process.

Without ``--state-file`` everything is in memory and a restart is a fresh, empty account. With
it, the account (functions, distributions, invalidations, key value stores with their keys, each
edge's port) is loaded at start,
written after every change and on SIGTERM, and a restart carries on where the last process stopped;
the edge caches start empty either way (see ``state``). SIGTERM (or Ctrl-C) stops every listener
and exits 0; a state file that cannot be loaded exits 2 with a message naming it.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from localaws import stack
from localaws.cloudfront import state
from localaws.cloudfront.accesslog import AccessLog
from localaws.cloudfront.control import ControlPlane
from localaws.cloudfront.edge import EDGE_NAME, Edge
from localaws.cloudfront.listeners import EdgeListeners, bind, serve
from localaws.cloudfront.origins import LambdaUrlOrigin, S3Origin
from localaws.cloudfront.runtime import run_function
from localaws.cloudfront.service import CloudFrontService

log = logging.getLogger("localaws.cloudfront")


def _alias_port(text: str) -> tuple[str, int]:
    alias, sep, port = text.rpartition("=")
    if not sep or not alias or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(
            f"--edge takes ALIAS=PORT (e.g. example.com=8081), not {text!r}"
        )
    return alias, int(port)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m localaws.cloudfront",
        description="A local CloudFront: the 2020-05-31 API for boto3 and an HTTP edge per "
        "distribution.",
    )
    p.add_argument("--host", default=stack.HOST, help="address for the API and every edge")
    p.add_argument(
        "--port", type=int, default=stack.DEFAULT_CLOUDFRONT_PORT, help="control-plane (API) port"
    )
    p.add_argument("--s3-endpoint", required=True, help="moto's URL, for S3 origins")
    p.add_argument("--region", default=stack.REGION)
    p.add_argument(
        "--invalidation-delay",
        type=float,
        default=stack.DEFAULT_INVALIDATION_DELAY,
        help="seconds an invalidation stays InProgress before Completed",
    )
    p.add_argument(
        "--kvs-propagation-delay",
        type=float,
        default=stack.DEFAULT_KVS_PROPAGATION_DELAY,
        help="seconds before the edges read a key value store write (the API reads it at once)",
    )
    p.add_argument(
        "--deploy-delay",
        type=float,
        default=0.0,
        help="seconds a created or updated distribution stays InProgress before Deployed",
    )
    p.add_argument(
        "--edge",
        action="append",
        type=_alias_port,
        default=[],
        metavar="ALIAS=PORT",
        help="serve the distribution with this alias on this port (repeatable)",
    )
    p.add_argument(
        "--edge-port-base",
        type=int,
        default=stack.DEFAULT_EDGE_PORT_BASE,
        help="first port for distributions without a configured alias",
    )
    p.add_argument(
        "--api-handler",
        default=None,
        metavar="MODULE:FUNCTION",
        help="the handler behind Lambda function URL origins, imported on first use",
    )
    p.add_argument("--access-log", default=None, help="edge access log file (default: stderr)")
    p.add_argument(
        "--state-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="keep the account in this JSON file across restarts (edge caches are not kept)",
    )
    args = p.parse_args(argv)
    if min(args.invalidation_delay, args.deploy_delay, args.kvs_propagation_delay) < 0:
        p.error(
            "--invalidation-delay, --deploy-delay and --kvs-propagation-delay must be 0 or more "
            "seconds"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s.%(msecs)03d cloudfront %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    try:
        saved = state.load(args.state_file) if args.state_file else None
    except state.StateFileError as exc:
        log.error("%s", exc)
        return 2
    access_log = AccessLog(args.access_log)
    s3 = S3Origin(args.s3_endpoint, args.region)
    service = CloudFrontService(
        invalidation_delay=args.invalidation_delay,
        deploy_delay=args.deploy_delay,
        kvs_propagation_delay=args.kvs_propagation_delay,
        read_s3_object=s3.read_object,
    )
    api = LambdaUrlOrigin(args.api_handler, args.region)

    def edge_app(dist_id: str) -> Any:
        location = {"name": EDGE_NAME, "serverIp": args.host, "region": args.region}
        return Edge(dist_id, service, s3, api, access_log, run_function, location)

    edges = EdgeListeners(
        args.host,
        dict(args.edge),
        args.edge_port_base,
        edge_app,
        remembered_ports=saved.edge_ports if saved else None,
    )
    if saved is not None:
        service.restore(saved.account)
        for dist in saved.account.distributions:
            edges.start(dist.id, dist.aliases)
        log.info(
            "loaded %d functions, %d distributions, %d invalidations and %d key value stores "
            "from %s; edge caches start empty, edges read every store as saved",
            len(saved.account.functions),
            len(saved.account.distributions),
            len(saved.account.invalidations),
            len(saved.account.key_value_stores),
            args.state_file,
        )

    def save_state() -> bool:
        try:
            state.save(args.state_file, service.snapshot(), edges.ports())
        except OSError as exc:
            # The change itself succeeded; failing the API call would tell the client otherwise.
            log.error("could not write the state file %s: %s", args.state_file, exc)
            return False
        return True

    if args.state_file is not None:
        service.on_changed = save_state
    service.on_distribution_created = lambda d: edges.start(d.id, d.aliases)
    service.on_distribution_updated = lambda d: edges.update_aliases(d.id, d.aliases)
    service.on_distribution_deleted = lambda d: edges.stop(d.id)

    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", args.host, args.port, exc)
        return 2
    server = serve(sock, ControlPlane(service, edges.describe), "control-plane")
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "CloudFront API and key value store data plane on http://%s:%s; S3 origin %s; "
        "invalidations take %.1f s; edges read key value store writes after %.1f s",
        args.host,
        args.port,
        args.s3_endpoint,
        args.invalidation_delay,
        args.kvs_propagation_delay,
    )
    while not stopping.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    # After the last API call: invalidations may have completed since the last write.
    if args.state_file is not None and save_state():
        log.info("state saved to %s", args.state_file)
    edges.stop_all()
    access_log.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

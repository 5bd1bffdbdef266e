"""HTTP listeners on loopback: the control plane's and one per distribution's edge.

A distribution's edge listens on the port configured for one of its aliases (``--edge
ALIAS=PORT``), so the URL a person opens for ``quickdumpnow.com`` is stable; a distribution with no
configured alias gets the port it had before a restart (``--state-file`` remembers it), else the
next free port from ``--edge-port-base``: a configured alias port always wins. The listener starts
when the distribution is created (or loaded) and stops when it is deleted or the process ends.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger("localaws.cloudfront")

# How far above --edge-port-base to look for a free port before giving up: far more
# distributions than any test session or rehearsal creates.
PORT_SEARCH_SPAN = 500


class _QuietHandler(WSGIRequestHandler):
    """The edge writes its own access log and the control plane its own lines; no duplicates."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def version_string(self) -> str:
        return "CloudFront (local)"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or OSError; werkzeug would sys.exit() on a busy port instead."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def request_target(environ: dict[str, Any]) -> str:
    """The request target's path and query exactly as the client sent them, percent-encoding and
    all.

    werkzeug's server keeps the target in ``RAW_URI`` (``REQUEST_URI`` on other servers);
    ``PATH_INFO`` and ``QUERY_STRING`` are only the fallback, since the path there is already
    decoded. A client that takes this server for its HTTP proxy (boto3's key value store client,
    see ``localaws.stack``) sends the absolute form, ``http://host/path?query``: only the path and
    query are kept, as for the origin form.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        query = environ.get("QUERY_STRING", "")
        return environ.get("PATH_INFO", "/") + ("?" + query if query else "")
    if raw.startswith("/"):
        return raw
    scheme, sep, rest = raw.partition("://")
    if not sep or not scheme.isalpha():
        return raw
    authority_end = min((i for i in (rest.find("/"), rest.find("?")) if i != -1), default=len(rest))
    target = rest[authority_end:]
    return target if target.startswith("/") else "/" + target


def serve(sock: socket.socket, app: Callable, name: str) -> BaseWSGIServer:
    """Serve ``app`` on ``sock`` from a daemon thread (one thread per request)."""
    host, port = sock.getsockname()[:2]
    server = make_server(
        host, port, app, threaded=True, request_handler=_QuietHandler, fd=sock.fileno()
    )
    sock.close()  # the server holds its own duplicate of the descriptor
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return server


@dataclass
class _Edge:
    distribution_id: str
    aliases: list[str]
    server: BaseWSGIServer
    port: int
    url: str


class EdgeListeners:
    """Starts and stops one edge listener per distribution."""

    def __init__(
        self,
        host: str,
        alias_ports: dict[str, int],
        port_base: int,
        app_for: Callable[[str], Callable],
        remembered_ports: dict[str, int] | None = None,
    ) -> None:
        self._host = host
        self._alias_ports = dict(alias_ports)
        self._port_base = port_base
        self._app_for = app_for
        # Distribution id -> the port its edge had before a restart.
        self._remembered = dict(remembered_ports or {})
        self._lock = threading.Lock()
        self._edges: dict[str, _Edge] = {}

    def _pick_socket(self, dist_id: str, aliases: list[str]) -> socket.socket:
        configured = set(self._alias_ports.values())
        wanted = [
            (f"the port configured for {alias}", self._alias_ports[alias])
            for alias in aliases
            if alias in self._alias_ports
        ]
        remembered = self._remembered.get(dist_id)
        if remembered is not None and remembered not in configured:
            wanted.append(("the port it had before the restart", remembered))
        for what, port in wanted:
            try:
                return bind(self._host, port)
            except OSError as exc:
                log.error(
                    "edge for %s cannot listen on %s (%s): %s; trying the next choice",
                    dist_id,
                    what,
                    port,
                    exc,
                )
        # Ports configured for aliases, or remembered by distributions yet to start, stay free.
        reserved = configured | {p for d, p in self._remembered.items() if d != dist_id}
        for port in range(self._port_base, self._port_base + PORT_SEARCH_SPAN):
            if port in reserved:
                continue
            try:
                return bind(self._host, port)
            except OSError:
                continue
        raise OSError(
            f"no free edge port in {self._port_base}-{self._port_base + PORT_SEARCH_SPAN - 1}"
        )

    def start(self, dist_id: str, aliases: list[str]) -> str:
        with self._lock:
            if dist_id in self._edges:
                return self._edges[dist_id].url
            sock = self._pick_socket(dist_id, aliases)
            port = sock.getsockname()[1]
            server = serve(sock, self._app_for(dist_id), f"edge-{dist_id}")
            url = f"http://{self._host}:{port}"
            self._edges[dist_id] = _Edge(dist_id, list(aliases), server, port, url)
            log.info("edge for %s (%s) listening on %s", dist_id, ", ".join(aliases) or "-", url)
            return url

    def update_aliases(self, dist_id: str, aliases: list[str]) -> None:
        with self._lock:
            if dist_id in self._edges:
                self._edges[dist_id].aliases = list(aliases)

    def stop(self, dist_id: str) -> None:
        with self._lock:
            edge = self._edges.pop(dist_id, None)
            self._remembered.pop(dist_id, None)
        if edge is not None:
            # shutdown() waits for serve_forever to return; never call it from that thread.
            threading.Thread(target=_shutdown, args=(edge.server,), daemon=True).start()
            log.info("edge for %s stopped", dist_id)

    def stop_all(self) -> None:
        with self._lock:
            edges = list(self._edges.values())
            self._edges.clear()
        for edge in edges:
            _shutdown(edge.server)

    def ports(self) -> dict[str, int]:
        """Distribution id -> its edge's port: what ``--state-file`` remembers."""
        with self._lock:
            return {e.distribution_id: e.port for e in self._edges.values()}

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"id": e.distribution_id, "aliases": list(e.aliases), "url": e.url}
                for e in self._edges.values()
            ]


def _shutdown(server: BaseWSGIServer) -> None:
    server.shutdown()
    server.server_close()

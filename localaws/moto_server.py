"""moto's server, with its state kept in a file across restarts.

A rehearsal is only convincing if the second one starts where the first ended: the same bucket
versions, job records and staged builds. moto keeps everything in memory, so this wrapper runs
moto's own threaded server in this process, loads the services' backends from ``--state-file`` on
start and writes them back on SIGTERM (``python -m localaws down``).

It relies on moto internals (the backend dicts and their pickling), which is why moto is pinned
and ``tests/test_moto_state.py`` covers the round trip. moto's versioned key store pickles only
the newest version of each key by default; the reducer below keeps every version, because the
release manifests and rollback refer to older ones.
"""

from __future__ import annotations

import argparse
import copyreg
import os
import pickle
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from moto.backends import get_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3.utils import _VersionedKeyStore
from werkzeug.serving import make_server

# The services the stack offers; anything else a client asks moto for is not kept.
PERSISTED_SERVICES = ("s3", "logs", "sns", "sqs", "cloudwatch")
STATE_VERSION = 1


def _rebuild_versioned(items: list[tuple[str, list[Any]]]) -> _VersionedKeyStore:
    store = _VersionedKeyStore()
    for key, versions in items:
        dict.__setitem__(store, key, list(versions))
    return store


def _reduce_versioned(store: _VersionedKeyStore) -> tuple[Any, ...]:
    return _rebuild_versioned, ([(k, list(store.getlist(k))) for k in dict.keys(store)],)


copyreg.pickle(_VersionedKeyStore, _reduce_versioned)
# SQS's backend holds locks (its queues wait on them); a restored queue needs a fresh one, never
# the saved one's state.
copyreg.pickle(type(threading.RLock()), lambda _lock: (threading.RLock, ()))


class StateFileError(RuntimeError):
    """The state file cannot be used; the message names it and says how to start afresh."""


def save_state(path: Path) -> None:
    """Write every persisted backend to ``path`` atomically (a crash never leaves half a file)."""
    state = {
        "version": STATE_VERSION,
        "backends": {name: dict(get_backend(name)) for name in PERSISTED_SERVICES},
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def load_state(path: Path) -> bool:
    """Restore the backends from ``path``; False when there is no file (a fresh stack)."""
    if not path.exists():
        return False
    try:
        with path.open("rb") as fh:
            state = pickle.load(fh)  # noqa: S301 - our own file, written by save_state
    except Exception as err:
        raise StateFileError(
            f"{path} cannot be read ({err}); delete it to start the stack empty"
        ) from err
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise StateFileError(
            f"{path} was written by another version of the stack; delete it to start empty"
        )
    for name, accounts in state["backends"].items():
        get_backend(name).update(accounts)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localaws.moto_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-file", type=Path)
    args = parser.parse_args(argv)

    if args.state_file:
        try:
            restored = load_state(args.state_file)
        except StateFileError as err:
            print(f"moto_server: {err}", file=sys.stderr)
            return 2
        print(f"moto_server: {'restored' if restored else 'no'} state from {args.state_file}")
    # Bound here, in the main thread, so a taken port fails the process at once (moto's own
    # threaded server would wait forever for a thread that already died).
    server = make_server(
        args.host,
        args.port,
        DomainDispatcherApplication(create_backend_app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    print(f"moto_server: listening on {args.host}:{args.port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    if args.state_file:
        save_state(args.state_file)
        print(f"moto_server: state saved to {args.state_file}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

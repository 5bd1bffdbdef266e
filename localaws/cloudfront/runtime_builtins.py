"""Which built-in modules a function's context gets, and the JS that installs them.

AWS documents per runtime what a function may use: cloudfront-js-1.0 has ``require('crypto')``,
``require('querystring')`` and the byte-string methods (``String.bytesFrom``, ``toUTF8``...);
cloudfront-js-2.0 drops the byte strings for ``Buffer`` and adds ``import`` and the
``cloudfront`` module. Each built-in is a JS fragment in ``builtins/`` that runs inside the
prelude, before the built-ins are frozen, and registers itself in the prelude's module table.

A context is made per code text, so a fragment is only installed when the code names what it
provides (``'crypto'`` as a string, ``Buffer``...): a function that uses none of them pays
nothing, not even at load. The price is that a module named only through a computed string
(``require('cry' + 'pto')``) is not found; the error says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RUNTIME_1 = "cloudfront-js-1.0"
RUNTIME_2 = "cloudfront-js-2.0"
RUNTIMES = (RUNTIME_1, RUNTIME_2)

# What ``require``/``import`` can load in each runtime, as AWS documents it.
MODULES = {
    RUNTIME_1: ("crypto", "querystring"),
    RUNTIME_2: ("buffer", "cloudfront", "crypto", "querystring"),
}

_DIR = Path(__file__).with_name("builtins")


@dataclass(frozen=True)
class Builtin:
    """One fragment: the file, when code wants it, the runtimes that have it, what it needs."""

    name: str
    wanted: re.Pattern[str] | None  # None: only ever pulled in by another fragment
    runtimes: tuple[str, ...]
    needs: tuple[str, ...] = ()


# In load order: a fragment only uses what an earlier one defined.
BUILTINS = (
    Builtin("bytes", None, RUNTIMES),
    Builtin("buffer", re.compile(r"\bBuffer\b|[\"']buffer[\"']"), (RUNTIME_2,), ("bytes",)),
    Builtin(
        "bytestring",
        re.compile(r"\b(bytesFrom|fromBytes|fromUTF8|toBytes|toUTF8)\b|[\"']crypto[\"']"),
        (RUNTIME_1,),
        ("bytes",),
    ),
    # 2.0's digest() returns a Buffer.
    Builtin("crypto", re.compile(r"[\"']crypto[\"']"), RUNTIMES, ("bytes", "buffer")),
    Builtin("querystring", re.compile(r"[\"']querystring[\"']"), RUNTIMES),
    # 2.0's globals beyond ES 5.1: AWS lists them for 2.0 only.
    Builtin(
        "text", re.compile(r"\b(atob|btoa|TextEncoder|TextDecoder)\b"), (RUNTIME_2,), ("bytes",)
    ),
)
_BY_NAME = {b.name: b for b in BUILTINS}


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    return runtime


def builtins_for(code: str, runtime: str) -> tuple[str, ...]:
    """The fragments this code gets in this runtime, in load order."""
    chosen: set[str] = set()

    def want(name: str) -> None:
        builtin = _BY_NAME[name]
        if runtime not in builtin.runtimes or name in chosen:
            return
        chosen.add(name)
        for need in builtin.needs:
            want(need)

    for builtin in BUILTINS:
        if builtin.wanted is not None and builtin.wanted.search(code):
            want(builtin.name)
    return tuple(b.name for b in BUILTINS if b.name in chosen)


@cache
def source(name: str) -> str:
    """The JS of one fragment (read once)."""
    return (_DIR / f"{name}.js").read_text(encoding="utf-8")


def install_script(names: tuple[str, ...]) -> str:
    return "\n".join(source(name) for name in names)

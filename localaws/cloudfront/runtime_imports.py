"""``import`` statements, turned into what a script can run.

A function is run as a script (its code becomes the body of a factory, see ``runtime``), and
scripts cannot ``import``. cloudfront-js-2.0 code imports its modules in every ES form: ``import
cf from 'cloudfront'``, ``import {createHash} from 'crypto'``, ``import * as qs from
'querystring'``, ``import crypto, {createHmac} from 'crypto'``, ``import 'crypto'``. Each becomes
a ``const`` bound from the prelude's module table, and the newlines it spanned are kept, so error
line numbers stay the author's. cloudfront-js-1.0 has no ``import`` (AWS: load modules with
``require``): there the statement becomes a SyntaxError saying so.

It works on the text, not a parse: an ``import`` line inside a template literal would be
rewritten too. No real function does that; it is listed as a limit in the README.
"""

from __future__ import annotations

import json
import re

from localaws.cloudfront.runtime_builtins import RUNTIME_1

_IDENT = r"[A-Za-z_$][\w$]*"
# ``import <clause> from 'm'`` or ``import 'm'``, at the start of a line.
_IMPORT = re.compile(
    r"""^(?P<indent>[ \t]*)import(?:(?P<clause>\s+[^'";()]*?)\s+from)?\s*(?P<q>["'])"""
    r"""(?P<module>[^"'\n]+)(?P=q)[ \t]*;?""",
    re.MULTILINE,
)
_DEFAULT = re.compile(rf"^({_IDENT})$")
_NAMESPACE = re.compile(rf"^\*\s*as\s+({_IDENT})$")
_NAMED = re.compile(r"^\{(?P<names>[^{}]*)\}$")
_NAMED_ITEM = re.compile(rf"^({_IDENT})(?:\s+as\s+({_IDENT}))?$")


def _named(names: str) -> str | None:
    """``{a, b as c}`` as a destructuring pattern ``{a, b: c}``; None if it is not one."""
    items = []
    for raw in names.split(","):
        item = raw.strip()
        if not item:
            continue
        m = _NAMED_ITEM.match(item)
        if m is None:
            return None
        items.append(f"{m.group(1)}: {m.group(2)}" if m.group(2) else m.group(1))
    return "{" + ", ".join(items) + "}"


def _bindings(clause: str) -> list[str] | None:
    """The binding targets of an import clause, or None when it is not valid ES."""
    clause = " ".join(clause.split())
    parts: list[str] = []
    default, sep, rest = ("", "", "") if clause[:1] in "{*" else clause.partition(",")
    if sep:
        if not _DEFAULT.match(default.strip()):
            return None
        parts.append(default.strip())
        clause = rest.strip()
    if (m := _DEFAULT.match(clause)) and not sep:
        return [m.group(1)]
    if m := _NAMESPACE.match(clause):
        return [*parts, m.group(1)]
    if m := _NAMED.match(clause):
        pattern = _named(m.group("names"))
        return None if pattern is None else [*parts, pattern]
    return None


def rewrite_imports(code: str, runtime: str) -> str:
    """The code with each ``import`` made a ``const`` from ``__qdn_import``, lines kept."""
    if "import" not in code:
        return code

    def replace(m: re.Match[str]) -> str:
        module = json.dumps(m.group("module"))
        newlines = "\n" * m.group(0).count("\n")
        if runtime == RUNTIME_1:
            why = json.dumps(
                f"import statements are not supported in {RUNTIME_1}; load the module with "
                f"require({m.group('module')!r}), or use cloudfront-js-2.0"
            )
            return f"{m.group('indent')}throw new SyntaxError({why});{newlines}"
        load = f"__qdn_import({module})"
        if m.group("clause") is None:
            return f"{m.group('indent')}{load};{newlines}"
        targets = _bindings(m.group("clause"))
        if targets is None:
            return m.group(0)  # the engine's own SyntaxError says what is wrong
        bound = ", ".join(f"{target} = {load}" for target in targets)
        return f"{m.group('indent')}const {bound};{newlines}"

    return _IMPORT.sub(replace, code)

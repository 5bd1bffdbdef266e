"""The syntax cloudfront-js-1.0 does not have, found before the engine (which has it) runs.

AWS's 1.0 runtime page: "The const and let statements are not supported", and it lists async and
await only for 2.0. The embedded engine parses all of them happily, so a 1.0 function using them
would pass here and fail on AWS. This module scans the code's words outside comments, strings,
template text and regular expressions, and names the first ``const``/``let`` declaration or async
function it finds. A property or variable called ``let`` or ``async`` (``o.let``, ``var async``)
is not a declaration and is left alone.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z_$][\w$]*")
# After these, a '/' starts a regular expression rather than a division.
_REGEX_AFTER_WORDS = {"return", "typeof", "instanceof", "in", "of", "new", "delete", "void"}
_REGEX_AFTER_CHARS = set("(,=:[!&|?{};+-*%<>~^")
_DECLARATION_NEXT = re.compile(r"\s*[A-Za-z_$\[{]")
# ``async`` makes a function only when no line break follows it (ES2017's [no LineTerminator
# here]): ``async function``, ``async (a, b) =>`` or ``async a =>``.
_ASYNC_NEXT = re.compile(r"[ \t]+function\b|[ \t]*\([^()]*\)\s*=>|[ \t]+[A-Za-z_$][\w$]*\s*=>")


def _skip_string(code: str, i: int, quote: str) -> int:
    """Index after the string literal starting at ``i``."""
    i += 1
    while i < len(code) and code[i] != quote:
        i += 2 if code[i] == "\\" else 1
    return i + 1


def _skip_regex(code: str, i: int) -> int:
    i += 1
    in_class = False
    while i < len(code) and code[i] != "\n":
        c = code[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        elif c == "/" and not in_class:
            return i + 1
        i += 1
    return i


def _words(code: str) -> list[tuple[str, int, bool]]:
    """(word, offset, after a '.') for every identifier-like word that is code."""
    words: list[tuple[str, int, bool]] = []
    # Template literals nest: each entry is the brace depth at which a ``${`` opened.
    templates: list[int] = []
    depth = 0
    last = ""  # the previous significant character or word, for the regex/division choice
    i = 0
    while i < len(code):
        c = code[i]
        if c in " \t\r\n":
            i += 1
        elif code.startswith("//", i):
            end = code.find("\n", i)
            i = len(code) if end < 0 else end
        elif code.startswith("/*", i):
            end = code.find("*/", i + 2)
            i = len(code) if end < 0 else end + 2
        elif c in "'\"":
            i = _skip_string(code, i, c)
            last = "string"
        elif c == "`" or (c == "}" and templates and templates[-1] == depth):
            if c == "}":
                templates.pop()
            i += 1
            while i < len(code) and code[i] != "`":  # template text, up to ` or ${
                if code[i] == "\\":
                    i += 2
                elif code.startswith("${", i):
                    templates.append(depth)
                    i += 2
                    break
                else:
                    i += 1
            else:
                i += 1  # the closing backtick
            last = "string"
        elif c == "/" and (last in _REGEX_AFTER_CHARS or last in _REGEX_AFTER_WORDS or not last):
            i = _skip_regex(code, i)
            last = "regex"
        elif m := _WORD.match(code, i):
            before = code[:i].rstrip()
            words.append((m.group(), i, before.endswith(".") and not before.endswith("..")))
            last = m.group()
            i = m.end()
        else:
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            last = c
            i += 1
    return words


def unsupported_in_1_0(code: str) -> str | None:
    """Why AWS's cloudfront-js-1.0 would refuse this code's syntax, or None."""
    for word, offset, member in _words(code):
        end = offset + len(word)
        if member:
            continue
        if (
            word in ("const", "let")
            and code[end : end + 1] in (" ", "\t", "\r", "\n", "[", "{")
            and _DECLARATION_NEXT.match(code, end)
        ):
            what, instead = f"the {word} statement is", "use var, or the cloudfront-js-2.0 runtime"
        elif word == "async" and _ASYNC_NEXT.match(code, end):
            what, instead = "an async function is", "use the cloudfront-js-2.0 runtime"
        else:
            continue
        line = code.count("\n", 0, offset) + 1
        return f"SyntaxError: {what} not supported in cloudfront-js-1.0 (line {line}); {instead}"
    return None

"""The function's routes, private names, pointer key and build id shape are the Python ones (one
fact, two languages)."""

from __future__ import annotations

import json
from pathlib import Path

import quickjs

from qdn import config, staging
from qdn.function_release import FALLBACK_PLACEHOLDER
from qdn.routes import ROUTES

CODE = (Path(__file__).resolve().parent.parent / "cf" / "qdn-track-rewrite.js").read_text()
# The one module import a function may have; a plain script context gets cf as a global instead.
IMPORT = "import cf from 'cloudfront';"


def _js_value(name: str) -> object:
    # Evaluate the real file rather than pattern-match its text: what the engine sees is what
    # CloudFront runs.
    assert CODE.count(IMPORT) == 1
    context = quickjs.Context()
    context.eval("var cf = {};" + CODE.replace(IMPORT, ""))
    return json.loads(context.eval(f"JSON.stringify({name})"))


def test_route_tables_agree() -> None:
    assert _js_value("ROUTES") == ROUTES


def test_every_route_is_one_segment() -> None:
    # The function finds a route by the path's first segment in one lookup.
    for prefix in ROUTES:
        assert prefix.startswith("/") and prefix.endswith("/") and prefix.count("/") == 2, prefix


def test_private_names_agree_with_config() -> None:
    assert _js_value("PRIVATE_PREFIX") + "/" == config.DATA_PREFIX
    assert _js_value("PRIVATE_NAME") == config.JOBS_KEY.rsplit("/", 1)[-1]
    assert _js_value("PRIVATE_NAME") == config.LEGACY_JOBS_KEY


def test_there_is_exactly_one_route_table_in_the_function() -> None:
    assert CODE.count("var ROUTES") == 1
    assert CODE.count("ROUTES = ") == 1


def test_pointer_and_build_ids_agree_with_config_and_staging() -> None:
    assert _js_value("LIVE_KEY") == config.LIVE_POINTER_KEY
    assert _js_value("PIN_PREFIX") == config.BUILD_PIN_PREFIX
    assert _js_value("FALLBACK_BUILD") == FALLBACK_PLACEHOLDER
    prefix, length = _js_value("BUILD_PREFIX"), _js_value("BUILD_ID_LENGTH")
    example = staging.tree_build_id({"index.html": b"x"})
    assert example.startswith(prefix) and len(example) == length
    assert length == len(prefix) + staging.BUILD_ID_DIGITS

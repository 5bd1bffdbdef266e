"""The function's route table and private names are the Python ones (one fact, two languages)."""

from __future__ import annotations

import json
from pathlib import Path

import quickjs

from qdn import config
from qdn.routes import ROUTES

CODE = (Path(__file__).resolve().parent.parent / "cf" / "qdn-track-rewrite.js").read_text()


def _js_value(name: str) -> object:
    # Evaluate the real file rather than pattern-match its text: what the engine sees is what
    # CloudFront runs.
    context = quickjs.Context()
    context.eval(CODE)
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

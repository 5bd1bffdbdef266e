"""The shell's contract with the rest of the pipeline, checked on the files without a browser.

The page keeps its own copy of the booking rules, the token pattern and the route table (it runs
in a browser, it cannot import Python); these tests are what keeps each copy equal to its source.
"""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import quickjs

from qdn import config, headers, staging
from qdn.jobs import booking, model
from qdn.routes import ROUTES
from qdn_api import track

PUBLIC = Path(__file__).resolve().parents[2] / "site" / "public"
SHELL = PUBLIC / "index.html"
APP_JS = PUBLIC / "assets" / "app.js"


def js_constant(name: str) -> Any:
    """Evaluate one top-level ``var NAME = ...;`` of app.js; regexes come back as their source."""
    source = APP_JS.read_text()
    found = re.search(rf"^\s*var {name} = (.+?);[ \t]*(?://[^\n]*)?$", source, re.M | re.S)
    assert found, f"app.js has no `var {name} = ...;`"
    ctx = quickjs.Context()
    ctx.eval(f"var value = ({found[1]});")
    return json.loads(
        ctx.eval("JSON.stringify(value instanceof RegExp ? {regexp: value.source} : value)")
    )


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def shell_tags() -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(SHELL.read_text())
    return parser.tags


def test_shell_carries_the_build_id_placeholder_in_its_meta_tag() -> None:
    text = SHELL.read_text()
    meta = f'<meta name="{config.BUILD_ID_META_NAME}" content="{config.BUILD_ID_PLACEHOLDER}">'
    assert text.count(meta) == 1


def test_shell_references_the_two_assets_staging_fingerprints() -> None:
    tags = shell_tags()
    assert ("link", {"rel": "stylesheet", "href": "/assets/app.css"}) in tags
    assert ("script", {"src": "/assets/app.js", "defer": None}) in tags


def test_every_local_reference_of_the_shell_exists() -> None:
    refs = [
        attrs[key]
        for _, attrs in shell_tags()
        for key in ("href", "src")
        if attrs.get(key, "") and attrs[key].startswith("/assets/")
    ]
    assert refs
    missing = [ref for ref in refs if not (PUBLIC / ref.lstrip("/")).is_file()]
    assert missing == []


def test_staging_the_site_points_the_shell_at_fingerprinted_assets_it_contains() -> None:
    build = staging.build_site(PUBLIC)
    shell = build.files["index.html"].decode()
    assert build.build_id in shell
    assert config.BUILD_ID_PLACEHOLDER not in shell
    for stem, suffix in (("app", "css"), ("app", "js"), ("favicon", "svg")):
        # Pinned to the build (the first staging of a site: this one) so no page ever loads an
        # asset of another build.
        pin = re.escape(f"{config.BUILD_PIN_PREFIX}{build.build_id}/")
        names = set(re.findall(rf'"{pin}(assets/{stem}\.[0-9a-f]+\.{suffix})"', shell))
        assert len(names) == 1
        (name,) = names
        assert headers.is_fingerprinted(name)
        assert name in build.files
    assert '"/assets/' not in shell


@pytest.mark.parametrize(
    "path", sorted(p.relative_to(PUBLIC).as_posix() for p in PUBLIC.rglob("*") if p.is_file())
)
def test_nothing_is_loaded_from_elsewhere(path: str) -> None:
    text = (PUBLIC / path).read_text()
    # An SVG names its XML namespace with a URL; that is an identifier, never fetched.
    text = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}", text) == []


def test_script_never_parses_strings_as_html() -> None:
    source = APP_JS.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source


def test_booking_rules_match_the_booking_api() -> None:
    assert js_constant("BOOKING_MESSAGES") == booking.BOOKING_MESSAGES
    assert js_constant("BOOKING_FIELDS") == list(booking.BookingRequest.model_fields)
    assert js_constant("DUMPSTER_SIZES") == list(booking.DUMPSTER_SIZES)
    assert js_constant("NAME_MAX") == booking.NAME_MAX
    assert js_constant("ADDRESS_MIN") == booking.ADDRESS_MIN
    assert js_constant("ADDRESS_MAX") == booking.ADDRESS_MAX
    assert js_constant("EMAIL_MAX") == booking.EMAIL_MAX
    assert js_constant("NOTES_MAX") == booking.NOTES_MAX
    assert js_constant("BOOKING_HORIZON_DAYS") == booking.BOOKING_HORIZON_DAYS
    digits = f"^[0-9]{{{booking.PHONE_DIGITS_MIN},{booking.PHONE_DIGITS_MAX}}}$"
    assert js_constant("PHONE_DIGITS_RE") == {"regexp": digits}
    assert js_constant("EMAIL_RE") == {"regexp": booking._EMAIL.pattern}


def test_booking_limits_are_the_job_models() -> None:
    # The page's numbers equal the booking API's (above), and these the job model's: one chain.
    assert js_constant("NAME_MAX") == model.NAME_MAX_LENGTH
    assert js_constant("ADDRESS_MAX") == model.STREET_MAX_LENGTH
    assert js_constant("EMAIL_MAX") == model.EMAIL_MAX_LENGTH
    assert js_constant("NOTES_MAX") == model.NOTES_MAX_LENGTH
    assert js_constant("EMAIL_RE") == {"regexp": model.EMAIL_PATTERN}


# Every code point, once, as one string: a pattern's matches in it are the set it refuses.
_EVERY_CHARACTER = "".join(map(chr, range(sys.maxunicode + 1)))


@pytest.mark.parametrize(
    ("constant", "allowed"), [("CONTROL_RE", ""), ("NOTES_CONTROL_RE", model.NOTES_ALLOWED_CONTROL)]
)
def test_control_characters_refused_are_the_job_models(constant: str, allowed: str) -> None:
    # The page's class is plain \uXXXX ranges, which Python's re reads the same way.
    source = js_constant(constant)["regexp"]
    refused = set(re.findall(source, _EVERY_CHARACTER))
    expected = {
        ch for ch in _EVERY_CHARACTER if model.control_character_problem(ch, allowed) is not None
    }
    assert refused == expected


def test_token_pattern_matches_the_job_model() -> None:
    assert js_constant("TOKEN_RE") == {"regexp": model.TOKEN_PATTERN}


def test_routes_match_the_route_table() -> None:
    assert sorted(js_constant("ROUTE_PREFIXES")) == sorted(ROUTES)


def test_not_found_message_is_the_track_apis() -> None:
    assert js_constant("TEXT")["notFound"] == track.NOT_FOUND_MESSAGE


def test_status_filter_offers_the_job_models_statuses_and_labels() -> None:
    # The dashboard's status select is filled from STATUS_LABELS, in its order.
    labels = js_constant("STATUS_LABELS")
    assert list(labels) == [status.value for status in model.JobStatus]
    assert labels == {status.value: label for status, label in model.STATUS_LABELS.items()}

"""Write a template dict as the YAML a person reviews: CloudFormation's short tags, code as blocks.

The generator builds the template from plain dicts in the long form CloudFormation expands
short tags to (``{"Ref": "X"}``, ``{"Fn::Sub": s}``), which is what ``infra.template`` reads back;
this writes them the way templates are written by hand (``!Ref X``, ``!Sub s``), so the
committed file reads like any other template and a diff shows what changed.
"""

from __future__ import annotations

from typing import Any

import yaml

# Intrinsics written in their short form (the ones this template uses; others stay long).
_SHORT = {
    "Ref": "!Ref",
    "Fn::GetAtt": "!GetAtt",
    "Fn::Sub": "!Sub",
    "Fn::Select": "!Select",
    "Fn::Split": "!Split",
    "Fn::Join": "!Join",
}


class _Dumper(yaml.SafeDumper):
    """SafeDumper that keeps key order and indents lists under their key."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: object) -> bool:
        # CloudFormation rejects YAML anchors and aliases: a value used twice is written twice.
        return True

    def choose_scalar_style(self) -> str:
        # A short tag's argument plain (!Ref Bucket), as written by hand, wherever plain is safe:
        # PyYAML quotes every explicitly tagged scalar otherwise.
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and (event.tag or "").startswith("!"):
            if self.analysis is None:
                self.analysis = self.analyze_scalar(event.value)
            if not event.style and not self.flow_level and self.analysis.allow_block_plain:
                return ""
        return super().choose_scalar_style()


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _SHORT


def _represent_dict(dumper: _Dumper, data: dict[str, Any]) -> yaml.Node:
    if _is_intrinsic(data):
        ((name, value),) = data.items()
        # YAML gives a node one tag: a function whose argument is itself a function stays long.
        if not _is_intrinsic(value):
            tag = _SHORT[name]
            if name == "Fn::GetAtt" and isinstance(value, list) and len(value) == 2:
                return dumper.represent_scalar(tag, f"{value[0]}.{value[1]}")
            if isinstance(value, str):
                return dumper.represent_scalar(tag, value)
            if isinstance(value, list):
                return dumper.represent_sequence(tag, value, flow_style=False)
            return dumper.represent_mapping(tag, value)
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items())


def _represent_str(dumper: _Dumper, data: str) -> yaml.Node:
    # Multi-line text (the function's code) as a literal block, readable and diffable.
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(str, _represent_str)


def dump(template: dict[str, Any]) -> str:
    """The template as YAML text; ``infra.template.load_template`` reads it back to ``template``."""
    return yaml.dump(
        template, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100,
        allow_unicode=True,
    )  # fmt: skip

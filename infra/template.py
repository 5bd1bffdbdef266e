"""Read ``infra/quickdumpnow.yaml`` into plain Python, CloudFormation's short tags included.

The template is the one description of the production account, rendered from ``qdn`` and ``cf/``
by ``python -m infra.render``; the Lambda packager reads the runtime and architecture from it and
the tests compare it with ``qdn.config``, ``qdn.iam`` and the local bootstrap. PyYAML refuses
``!Ref`` and friends, so each short tag becomes the long form CloudFormation itself expands it
to (``!Ref X`` is ``{"Ref": "X"}``, ``!GetAtt A.B`` is ``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s``
is ``{"Fn::Sub": s}``, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent / "quickdumpnow.yaml"

# The intrinsic functions CloudFormation accepts in short form (Ref and Condition have no "Fn::").
_SHORT_TAGS = (
    "Base64", "Cidr", "FindInMap", "GetAZs", "If", "ImportValue", "Join", "Select", "Split",
    "Sub", "Transform", "And", "Equals", "Not", "Or", "Length", "ToJsonString",
)  # fmt: skip


class _Loader(yaml.SafeLoader):
    """A SafeLoader that knows CloudFormation's tags (a subclass, so PyYAML's own stays strict)."""


def _node_value(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _long_form(name: str):
    def construct(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
        return {name: _node_value(loader, node)}

    return construct


def _get_att(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
    value = _node_value(loader, node)
    # "!GetAtt Resource.Attribute.Path" splits at the first dot only: attributes may hold dots.
    return {"Fn::GetAtt": value.split(".", 1) if isinstance(value, str) else value}


_Loader.add_constructor("!Ref", _long_form("Ref"))
_Loader.add_constructor("!Condition", _long_form("Condition"))
_Loader.add_constructor("!GetAtt", _get_att)
for _tag in _SHORT_TAGS:
    _Loader.add_constructor(f"!{_tag}", _long_form(f"Fn::{_tag}"))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as a dict; a file that is not a CloudFormation template is a clear error."""
    with path.open(encoding="utf-8") as f:
        template = yaml.load(f, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader subclass
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise ValueError(f"{path} is not a CloudFormation template: it has no Resources mapping")
    return template


def resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """One resource's Properties, by logical id, or a KeyError naming what the template has."""
    resources = template["Resources"]
    if logical_id not in resources:
        raise KeyError(f"the template has no resource {logical_id}; it has {sorted(resources)}")
    return resources[logical_id].get("Properties", {})

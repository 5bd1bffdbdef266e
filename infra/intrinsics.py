"""The few CloudFormation expressions the generator writes, as the long-form dicts it dumps.

One spelling for each, so every module of the generator refers to resources the same way and
``infra.cfn_yaml`` turns them into the short tags a reviewer reads.
"""

from __future__ import annotations

from typing import Any

# Placeholders the qdn modules are called with where the account's own values belong; sub()
# turns any string holding them into an Fn::Sub, so the rendered policy is the module's own.
ACCOUNT_ID = "${AWS::AccountId}"
REGION = "${AWS::Region}"


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def get_att(resource: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, attribute]}


def sub(text: str) -> dict[str, Any] | str:
    """``text`` as an Fn::Sub when it names a pseudo parameter or resource, else as it is."""
    return {"Fn::Sub": text} if "${" in text else text


def sub_all(value: Any) -> Any:
    """Every string in ``value`` that holds ``${...}`` becomes an Fn::Sub (dicts, lists walked)."""
    if isinstance(value, dict):
        return {k: sub_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sub_all(v) for v in value]
    if isinstance(value, str):
        return sub(value)
    return value


def replace_value(value: Any, old: str, new: Any) -> Any:
    """``value`` with every string equal to ``old`` replaced by ``new`` (an intrinsic, say)."""
    if isinstance(value, dict):
        return {k: replace_value(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_value(v, old, new) for v in value]
    return new if value == old else value


def logical_id(name: str) -> str:
    """A logical id from a DNS or resource name: 'www.quickdumpnow.com' -> 'WwwQuickdumpnowCom'."""
    parts = "".join(c if c.isalnum() else " " for c in name).split()
    if not parts:
        raise ValueError(f"{name!r} has no letters or digits to make a logical id from")
    return "".join(p[:1].upper() + p[1:] for p in parts)

"""The nightly check of the distributions: each alias is served by an enabled distribution whose
origins, behaviours, policies and function association are what ``qdn.distribution_spec`` says.

The spec is the one description the bootstrap creates the distributions from, so the check asks
it for the expected document and compares every field it writes (the fields AWS fills in with
defaults are not ours to check). A console edit of a cache policy or a removed function
association changes what every viewer gets without any release; this names the distribution, the
field, what the spec says and what was found.

Requests: one DescribeFunction (the ARN the association must name), one DescribeKeyValueStore,
one listing of the distributions and one GetDistributionConfig per alias.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from qdn import config
from qdn.distribution_spec import distribution_config, distributions_by_alias
from qdn.hooks.function_calls import FunctionClient
from qdn.live_pointer import PointerError, kvs_arn
from qdn.s3_errors import error_code
from qdn.verify.result import CheckResult

# Fields of the spec that are not drift: the CallerReference is fixed when a distribution is
# created and cannot change after, and the Comment is a note for people.
NOT_COMPARED = frozenset({"CallerReference", "Comment"})
# How items of a list are told apart, so an origin or behaviour is compared with its namesake
# wherever AWS lists it: origins by Id, cache behaviours by path, functions by event.
ITEM_KEYS = ("Id", "PathPattern", "EventType")
ABSENT = "(absent)"
# Where production names the track API's function URL host (qdn.dag_defaults reads it).
API_ORIGIN_VARIABLE = "qdn_track_api_origin"
# Code on a behaviour runs on every request of its paths: where the spec puts none, none it is.
CODE_ASSOCIATIONS = ("FunctionAssociations", "LambdaFunctionAssociations")


def check_distributions(
    cloudfront: Any, bucket: str, region: str, api_origin: str = config.TRACK_API_ORIGIN_DOMAIN
) -> CheckResult:
    result = CheckResult("distributions")
    try:
        summary, _ = FunctionClient(cloudfront).describe_function(config.FUNCTION_NAME, "LIVE")
    except ClientError as err:
        if error_code(err) != "NoSuchFunctionExists":
            raise
        result.problems.append(
            f"function {config.FUNCTION_NAME} has no LIVE stage, so no distribution can be "
            "checked for it: see the function check"
        )
        return result
    function_arn = summary["FunctionMetadata"]["FunctionARN"]
    _warn_if_not_reading_the_store(result, cloudfront, summary)

    found = distributions_by_alias(cloudfront)
    checked = []
    for alias in config.DISTRIBUTION_ALIASES:
        listed = found.get(alias)
        if listed is None:
            result.problems.append(
                f"no distribution serves {alias}: the site is unreachable at that name; create it "
                "as qdn.distribution_spec describes (the bootstrap does)"
            )
            continue
        dist_id = listed["Id"]
        got = cloudfront.get_distribution_config(Id=dist_id)
        expected = _expected(alias, function_arn, bucket, region, api_origin)
        where = f"distribution {dist_id} ({alias})"
        remedy = (
            f"put it back as qdn.distribution_spec describes (update-distribution --id {dist_id} "
            f"--if-match {got['ETag']}), and find who changed it"
        )
        for field, want, have in drift(expected, got["DistributionConfig"]):
            fix = remedy
            if want == api_origin and field.endswith(".DomainName"):
                fix = (
                    f"if {have} is the track API's function URL host (the stack output "
                    f"TrackApiOrigin), set the Airflow Variable {API_ORIGIN_VARIABLE} to it; "
                    f"else {remedy}"
                )
            result.problems.append(f"{where}: {field} is {have}, the spec says {want}; {fix}")
        checked.append(f"{dist_id} ({alias})")
    result.counts["distributions"] = len(checked)
    if checked:
        result.notes.append(
            f"{', '.join(checked)} checked against qdn.distribution_spec, function "
            f"{config.FUNCTION_NAME} LIVE on viewer-request"
        )
    return result


def _expected(
    alias: str, function_arn: str, bucket: str, region: str, api_origin: str
) -> dict[str, Any]:
    """The spec's document, with no code on any behaviour the spec gives none (AWS would list
    an empty association there, and the comparison only looks at what the spec writes)."""
    expected = distribution_config(alias, function_arn, bucket, region, api_origin)
    for behaviour in [expected["DefaultCacheBehavior"], *expected["CacheBehaviors"]["Items"]]:
        for key in CODE_ASSOCIATIONS:
            behaviour.setdefault(key, {"Quantity": 0, "Items": []})
    return expected


def _warn_if_not_reading_the_store(
    result: CheckResult, cloudfront: Any, summary: dict[str, Any]
) -> None:
    """The function check fails on this; here it only explains why pages would not follow
    the pointer, in the check an on-call engineer may read first."""
    associations = summary.get("FunctionConfig", {}).get("KeyValueStoreAssociations") or {}
    stores = [i["KeyValueStoreARN"] for i in associations.get("Items") or []]
    try:
        expected = kvs_arn(cloudfront, config.KVS_NAME)
    except PointerError as err:
        result.warnings.append(str(err))
        return
    if stores != [expected]:
        result.warnings.append(
            f"the distributions run function {config.FUNCTION_NAME}, whose LIVE stage does not "
            f"read {config.KVS_NAME} ({expected}): viewers get its fallback build whatever the "
            "pointer says; see the function check"
        )


def drift(expected: Any, found: Any, field: str = "") -> list[tuple[str, str, str]]:
    """(field, expected, found) for every field of ``expected`` that ``found`` does not match.

    Dicts are compared on the spec's keys only (AWS adds defaults); a ``Quantity`` beside
    ``Items`` is not compared on its own, the items are; lists of named items are matched by
    name, other lists as unordered collections (AWS does not promise the order of methods).
    """
    if isinstance(expected, dict):
        if not isinstance(found, dict):
            return [(field, _show(expected), _show(found))]
        out = []
        for key, want in expected.items():
            if key in NOT_COMPARED or (key == "Quantity" and "Items" in expected):
                continue
            have = found.get(key, [] if key == "Items" else None)
            out += drift(want, have, f"{field}.{key}" if field else key)
        return out
    if isinstance(expected, list):
        return _list_drift(expected, found if isinstance(found, list) else [], field)
    if expected != found:
        return [(field, _show(expected), _show(found))]
    return []


def _list_drift(expected: list[Any], found: list[Any], field: str) -> list[tuple[str, str, str]]:
    field = field.removesuffix(".Items")
    named = [k for k in ITEM_KEYS if all(isinstance(i, dict) and k in i for i in expected)]
    key = named[0] if expected and named else None
    if key is None:
        if sorted(map(repr, expected)) != sorted(map(repr, found)):
            return [(field, _show(expected), _show(found))]
        return []
    by_name = {i.get(key): i for i in found if isinstance(i, dict)}
    out = []
    for item in expected:
        out += drift(item, by_name.pop(item[key], None), f"{field}[{item[key]}]")
    out += [(f"{field}[{name}]", ABSENT, _show(extra)) for name, extra in by_name.items()]
    return out


def _show(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)

"""The production template agrees with what the rehearsal runs, and is safe as written.

Three kinds of proof:
- the committed ``infra/quickdumpnow.yaml`` is exactly what ``python -m infra.render`` makes from
  ``qdn`` and ``cf/`` now (a route, TTL, name or policy changed in ``qdn`` without re-rendering
  fails here), and cfn-lint finds nothing in it;
- on the running local stack, what the bootstrap created (bucket, store, function, both
  distributions, topic, log group, filters, alarms) has its counterpart in the template with the
  same names and settings;
- structure: the bucket is private and TLS only, no policy allows a wildcard action, the policies
  are ``qdn.iam``'s, the Lambda is what the packager and ``qdn_api.settings`` expect.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra import cloudfront, render, stack
from infra.template import TEMPLATE, load_template, resource
from qdn import config, iam, monitoring, retention
from qdn.function_release import canonical
from qdn.hooks.function_calls import FunctionClient
from qdn.verify.distributions import drift
from qdn_api import settings

REPO_ROOT = Path(__file__).resolve().parent.parent
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == kind}


def resolve(value: Any, template: dict[str, Any], atts: dict[tuple[str, str], Any]) -> Any:
    """The value as CloudFormation would deploy it: parameters at their defaults, the pseudo
    parameters and ``atts`` (resource attributes) as given."""
    if isinstance(value, list):
        return [resolve(v, template, atts) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        name = value["Ref"]
        if name in template["Parameters"]:
            return template["Parameters"][name]["Default"]
        return atts[(name, "Ref")]
    if set(value) == {"Fn::GetAtt"}:
        return atts[tuple(value["Fn::GetAtt"])]
    if set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"].replace("${AWS::AccountId}", ACCOUNT)
        text = text.replace("${AWS::Region}", REGION)
        assert "${" not in text, f"unresolved reference in {text}"
        return text
    if set(value) == {"Fn::Select"}:
        index, items = value["Fn::Select"]
        return resolve(items, template, atts)[index]
    if set(value) == {"Fn::Split"}:
        sep, text = value["Fn::Split"]
        return resolve(text, template, atts).split(sep)
    return {k: resolve(v, template, atts) for k, v in value.items()}


# --- the committed file is the render, and cfn-lint passes ----------------------------------------


def test_the_committed_template_is_a_fresh_render() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.render", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert TEMPLATE.read_text(encoding="utf-8") == render.rendered()


def test_the_yaml_reads_back_as_the_generated_template(template: dict[str, Any]) -> None:
    # The short tags written are the ones the loader (and CloudFormation) expand.
    assert template == stack.template()


@pytest.mark.parametrize(
    ("module", "name", "value"),
    [
        (config, "API_PATH_PREFIX", "/v2/"),
        (config, "ORIGIN_PATH", "/site"),
        (config, "BUILDS_PREFIX", "b/"),
        (retention, "NONCURRENT_DAYS", 8),
        (monitoring, "SPEC", replace(monitoring.SPEC, retention_days=30)),
    ],
)
def test_a_change_in_qdn_alone_makes_the_template_stale(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, value: Any
) -> None:
    """A route, prefix or TTL changed in its source of truth without a re-render is caught."""
    before = render.rendered()
    monkeypatch.setattr(module, name, value)
    assert render.rendered() != before


def test_a_changed_function_source_makes_the_template_stale() -> None:
    source = stack.FUNCTION_SOURCE.read_text(encoding="utf-8")
    assert stack.template(source.replace("'/book/'", "'/booking/'")) != stack.template()


def test_cfn_lint_is_clean() -> None:
    result = subprocess.run(
        [str(CFN_LINT), str(TEMPLATE)], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


# --- what the bootstrap creates on the local stack has its counterpart ----------------------------


def test_the_bucket_matches_the_bootstrap(bootstrapped: Any, template: dict[str, Any]) -> None:
    s3 = bootstrapped.client("s3")
    (props,) = of_type(template, "AWS::S3::Bucket").values()
    assert props["BucketName"] == config.BUCKET
    assert (
        s3.get_bucket_versioning(Bucket=props["BucketName"])["Status"]
        == (props["VersioningConfiguration"]["Status"])
    )
    block = s3.get_public_access_block(Bucket=props["BucketName"])
    assert block["PublicAccessBlockConfiguration"] == props["PublicAccessBlockConfiguration"]


def test_the_store_and_function_match_the_bootstrap(
    bootstrapped: Any, template: dict[str, Any]
) -> None:
    cf = bootstrapped.client("cloudfront")
    (store,) = of_type(template, "AWS::CloudFront::KeyValueStore").values()
    store_arn = cf.describe_key_value_store(Name=store["Name"])["KeyValueStore"]["ARN"]
    (function,) = of_type(template, "AWS::CloudFront::Function").values()
    summary, _ = FunctionClient(cf).describe_function(function["Name"], "LIVE")
    assert summary["FunctionConfig"]["Runtime"] == function["FunctionConfig"]["Runtime"]
    stores = summary["FunctionConfig"]["KeyValueStoreAssociations"]["Items"]
    assert [s["KeyValueStoreARN"] for s in stores] == [store_arn]
    # The template carries the repo's code; LIVE runs it with the live build compiled in.
    code, _ = FunctionClient(cf).get_function_code(function["Name"], "LIVE")
    assert canonical(code).decode() == function["FunctionCode"]


def test_each_distribution_matches_the_bootstrap(
    bootstrapped: Any, template: dict[str, Any]
) -> None:
    cf = bootstrapped.client("cloudfront")
    function_arn = FunctionClient(cf).describe_function(config.FUNCTION_NAME, "LIVE")[0][
        "FunctionMetadata"
    ]["FunctionARN"]
    found = {
        alias: item["Id"]
        for item in cf.list_distributions()["DistributionList"].get("Items", [])
        for alias in item["Aliases"].get("Items", [])
    }
    atts = {
        ("RewriteFunction", "FunctionARN"): function_arn,
        # The local CloudFront serves the track API from the name qdn.config gives its URL.
        ("TrackApiUrl", "FunctionUrl"): f"https://{config.TRACK_API_ORIGIN_DOMAIN}/",
    }
    for alias in config.DISTRIBUTION_ALIASES:
        props = template["Resources"][cloudfront.distribution_id(alias)]["Properties"]
        # A copy: the module's other tests read the template as loaded.
        wanted = {
            k: v
            for k, v in copy.deepcopy(props["DistributionConfig"]).items()
            if k not in cloudfront.PRODUCTION_ONLY
        }
        for origin in wanted["Origins"]:
            origin.pop("OriginAccessControlId", None)
        wanted = resolve(wanted, template, atts)
        created = cloudfront.cfn_shape(cf.get_distribution_config(Id=found[alias]))
        assert drift(wanted, created["DistributionConfig"]) == [], alias
        assert wanted["Aliases"] == [alias]


def test_monitoring_matches_the_bootstrap(bootstrapped: Any, template: dict[str, Any]) -> None:
    """Topic, audit log group, filters and every alarm; the rehearsal's SQS subscriber is its
    stand-in for the template's AlertEmail subscription, so it has no counterpart."""
    (topic,) = of_type(template, "AWS::SNS::Topic").values()
    topics = bootstrapped.client("sns").list_topics()["Topics"]
    (topic_arn,) = [
        t["TopicArn"] for t in topics if t["TopicArn"].endswith(":" + topic["TopicName"])
    ]

    logs = bootstrapped.client("logs")
    groups = {
        g["logGroupName"]: g
        for g in logs.describe_log_groups(logGroupNamePrefix=config.AUDIT_LOG_GROUP)["logGroups"]
    }
    audit = [
        p for p in of_type(template, "AWS::Logs::LogGroup").values()
        if p["LogGroupName"] == config.AUDIT_LOG_GROUP
    ]  # fmt: skip
    assert [groups[config.AUDIT_LOG_GROUP]["retentionInDays"]] == [
        p["RetentionInDays"] for p in audit
    ]
    filters = {
        f["filterName"]: f
        for f in logs.describe_metric_filters(logGroupName=config.AUDIT_LOG_GROUP)["metricFilters"]
    }
    for props in of_type(template, "AWS::Logs::MetricFilter").values():
        created = filters[props["FilterName"]]
        assert created["filterPattern"] == props["FilterPattern"]
        assert [
            {"MetricName": t["metricName"], "MetricNamespace": t["metricNamespace"],
             "MetricValue": t["metricValue"]}
            for t in created["metricTransformations"]
        ] == props["MetricTransformations"]  # fmt: skip

    cf = bootstrapped.client("cloudfront")
    ids = {
        alias: item["Id"]
        for item in cf.list_distributions()["DistributionList"].get("Items", [])
        for alias in item["Aliases"].get("Items", [])
    }
    atts = {(cloudfront.distribution_id(a), "Ref"): i for a, i in ids.items()}
    atts[("AlertsTopic", "Ref")] = topic_arn
    alarms = {
        k: resolve(p, template, atts)
        for k, p in of_type(template, "AWS::CloudWatch::Alarm").items()
    }
    described = {
        a["AlarmName"]: a
        for a in bootstrapped.client("cloudwatch").describe_alarms(
            AlarmNames=[p["AlarmName"] for p in alarms.values()]
        )["MetricAlarms"]
    }
    assert sorted(described) == sorted(p["AlarmName"] for p in alarms.values())
    for props in alarms.values():
        created = described[props["AlarmName"]]
        for field in (
            "Namespace", "MetricName", "Statistic", "Period", "EvaluationPeriods", "Threshold",
            "ComparisonOperator", "TreatMissingData", "AlarmDescription",
        ):  # fmt: skip
            assert created[field] == props[field], (props["AlarmName"], field)
        assert sorted((d["Name"], d["Value"]) for d in created["Dimensions"]) == sorted(
            (d["Name"], d["Value"]) for d in props.get("Dimensions", [])
        )
        assert created["AlarmActions"] == props["AlarmActions"] == [topic_arn]


# --- structure ------------------------------------------------------------------------------------


def _statements(value: Any) -> list[dict[str, Any]]:
    """Every statement of every policy document anywhere in the template."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if "Statement" in value and "Version" in value:
            found += value["Statement"]
        for item in value.values():
            found += _statements(item)
    elif isinstance(value, list):
        for item in value:
            found += _statements(item)
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_policy_allows_a_wildcard_action(template: dict[str, Any]) -> None:
    allowed = [s for s in _statements(template["Resources"]) if s["Effect"] == "Allow"]
    assert len(allowed) > 20  # every policy was found, not none
    wild = [
        (s.get("Sid"), action) for s in allowed for action in _as_list(s["Action"]) if "*" in action
    ]
    assert wild == []


def test_the_bucket_is_private_and_tls_only(template: dict[str, Any]) -> None:
    (props,) = of_type(template, "AWS::S3::Bucket").values()
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert "AccessControl" not in props
    (policy,) = of_type(template, "AWS::S3::BucketPolicy").values()
    statements = policy["PolicyDocument"]["Statement"]
    bucket_arn = f"arn:aws:s3:::{config.BUCKET}"
    insecure = [
        s for s in statements
        if s["Effect"] == "Deny"
        and s["Principal"] == "*"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]  # fmt: skip
    assert len(insecure) == 1
    assert sorted(insecure[0]["Resource"]) == [bucket_arn, bucket_arn + "/*"]
    for s in statements:
        if s["Effect"] == "Allow":
            # Only CloudFront, only for this stack's distributions, only under builds/.
            assert s["Principal"] == {"Service": "cloudfront.amazonaws.com"}
            assert set(s["Condition"]["StringEquals"]) == {"AWS:SourceArn"}
            assert all(
                r in (bucket_arn, f"{bucket_arn}/{config.BUILDS_PREFIX}*")
                for r in _as_list(s["Resource"])
            )


def test_the_policies_are_qdn_iams(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    atts: dict[tuple[str, str], Any] = {}

    def document(logical_id: str) -> Any:
        return resolve(resources[logical_id]["Properties"]["PolicyDocument"], template, atts)

    assert document("ReleasePipelinePolicy") == iam.pipeline_policy(ACCOUNT, REGION)
    assert document("StagePolicy") == iam.stage_policy()
    role = resource(template, "TrackApiRole")
    policies = {p["PolicyName"]: p["PolicyDocument"] for p in role["Policies"]}
    assert resolve(policies["track-api"], template, atts) == iam.track_api_policy()
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }


def test_the_track_api_is_what_the_packager_and_the_api_expect(template: dict[str, Any]) -> None:
    fn = resource(template, "TrackApiFunction")
    assert fn["FunctionName"] == config.TRACK_API_FUNCTION
    assert (fn["Runtime"], fn["Architectures"], fn["Handler"]) == (
        "python3.11", ["x86_64"], "qdn_api.app.handler"
    )  # fmt: skip
    assert fn["Code"] == {
        "S3Bucket": {"Ref": "ArtifactBucket"},
        "S3Key": {"Ref": "TrackApiArtifactKey"},
    }
    env = fn["Environment"]["Variables"]
    assert set(env) == {settings.BUCKET_ENV, settings.DASHBOARD_KEY_ENV}
    assert env[settings.BUCKET_ENV] == config.BUCKET
    url = resource(template, "TrackApiUrl")
    assert url["TargetFunctionArn"] == {"Fn::GetAtt": ["TrackApiFunction", "Arn"]}


def test_every_distribution_runs_the_function_and_sends_the_api_to_the_lambda(
    template: dict[str, Any],
) -> None:
    distributions = of_type(template, "AWS::CloudFront::Distribution")
    assert len(distributions) == len(config.DISTRIBUTION_ALIASES)
    for props in distributions.values():
        dc = props["DistributionConfig"]
        assert dc["DefaultCacheBehavior"]["FunctionAssociations"] == [
            {"FunctionARN": {"Fn::GetAtt": ["RewriteFunction", "FunctionARN"]},
             "EventType": "viewer-request"}
        ]  # fmt: skip
        (api,) = dc["CacheBehaviors"]
        assert api["PathPattern"] == config.API_PATH_PREFIX + "*"
        origins = {o["Id"]: o for o in dc["Origins"]}
        assert origins[api["TargetOriginId"]]["DomainName"] == cloudfront.api_origin_domain()
        site = origins[dc["DefaultCacheBehavior"]["TargetOriginId"]]
        assert site["OriginPath"] == config.ORIGIN_PATH
        assert site["OriginAccessControlId"] == {"Fn::GetAtt": [cloudfront.ORIGIN_ACCESS, "Id"]}


def test_cfn_shape_refuses_a_document_whose_quantity_lies() -> None:
    with pytest.raises(ValueError, match="Quantity 2 but 1 Items"):
        cloudfront.cfn_shape({"Aliases": {"Quantity": 2, "Items": ["a"]}})


def test_render_refuses_unknown_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert render.main(["--write"]) == 2
    assert "usage: python -m infra.render [--check]" in capsys.readouterr().err

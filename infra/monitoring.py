"""The alerts topic, the audit log group and its metric filters, and every alarm, from
``qdn.monitoring.SPEC``: the description the bootstrap creates and the nightly check reads back.

Each alarm is ``AlarmSpec.put_args`` itself (CloudFormation's property names are
PutMetricAlarm's), aimed at the topic; the edge alarms are one per distribution, as the
bootstrap makes them, each on its distribution's id.
"""

from __future__ import annotations

from typing import Any

from infra.cloudfront import distribution_id
from infra.intrinsics import logical_id, ref
from qdn import config, monitoring

TOPIC = "AlertsTopic"
AUDIT_LOG_GROUP = "AuditLogGroup"
# Marks where the edge alarm's dimension gets the distribution's id.
_DISTRIBUTION_ID_MARK = "<distribution-id>"


def _alarm(spec: monitoring.AlarmSpec, **replace_dimension: Any) -> dict[str, Any]:
    props = spec.put_args(topic_arn="<topic>")
    props["AlarmActions"] = [ref(TOPIC)]
    props["Dimensions"] = [
        {"Name": d["Name"], "Value": replace_dimension.get(d["Value"], d["Value"])}
        for d in props["Dimensions"]
    ]
    if not props["Dimensions"]:
        del props["Dimensions"]
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": props}


def _filter(spec: monitoring.MetricFilterSpec) -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::MetricFilter",
        "Properties": {
            "LogGroupName": ref(AUDIT_LOG_GROUP),
            "FilterName": spec.name,
            "FilterPattern": spec.pattern,
            "MetricTransformations": [
                {
                    "MetricName": t["metricName"],
                    "MetricNamespace": t["metricNamespace"],
                    "MetricValue": t["metricValue"],
                }
                for t in spec.transformations()
            ],
        },
    }


def resources(spec: monitoring.MonitoringSpec | None = None) -> dict[str, Any]:
    spec = spec or monitoring.SPEC  # read when rendering: the spec of the moment, not of import
    out: dict[str, Any] = {
        TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": spec.topic}},
        "AlertsEmail": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": ref(TOPIC),
                "Protocol": "email",
                "Endpoint": ref("AlertEmail"),
            },
        },
        AUDIT_LOG_GROUP: {
            "Type": "AWS::Logs::LogGroup",
            # Evidence of who changed which job: kept when the stack goes.
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "LogGroupName": spec.log_group,
                "RetentionInDays": spec.retention_days,
            },
        },
    }
    for f in spec.filters:
        out["Filter" + logical_id(f.name)] = _filter(f)
    for alarm in spec.alarms:
        out["Alarm" + logical_id(alarm.name)] = _alarm(alarm)
    for alias in config.DISTRIBUTION_ALIASES:
        edge = monitoring.edge_5xx_alarm(alias, _DISTRIBUTION_ID_MARK)
        out["Alarm" + logical_id(edge.name)] = _alarm(
            edge, **{_DISTRIBUTION_ID_MARK: ref(distribution_id(alias))}
        )
    return out


def parameters() -> dict[str, Any]:
    return {
        "AlertEmail": {
            "Type": "String",
            "AllowedPattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            "Description": (
                f"On-call's address: every alarm and every failed release task goes to the topic "
                f"{config.ALERTS_TOPIC}, which mails it here. AWS sends a confirmation mail "
                "first; nothing is delivered until it is confirmed."
            ),
            "ConstraintDescription": "must be an e-mail address (name@domain)",
        }
    }

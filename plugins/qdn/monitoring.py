"""Everything QuickDumpNow is monitored by, written down once, and the one function that creates it.

:data:`SPEC` describes the alerts topic, the audit log group and its retention, the metric filters
on it and the alarms; given a bucket (``canary_in``), the canary job (:mod:`qdn.canary`) the
nightly canary and freshness checks follow is part of it too. :func:`ensure_monitoring` compares
what CloudWatch, CloudWatch Logs, SNS (and S3 for the canary) hold with it: the bootstrap calls
it to create or correct what is missing or different, and the nightly ``monitoring`` check calls
it with ``dry_run=True`` to list the same differences without writing. So what is checked is
exactly what is created; a new alarm is one entry here.

It reads with one request per kind (one topic listing, one log group listing, one metric filter
listing, one ``DescribeAlarms`` naming every alarm, one subscription listing), whatever the number
of filters and alarms.

**Who receives the alarms.** The check requires at least one confirmed subscription on the topic:
an alarm nobody receives is no alarm. The endpoint is not ours to invent, so it is given by the
caller (``subscribers``) and never written down here. The local bootstrap subscribes an SQS queue
it creates, ``config.ALERTS_LOCAL_QUEUE``, so a rehearsal has a real subscriber whose messages a
test can read back, plus the address in ``QDN_ALERT_EMAIL`` when set; against AWS, on-call's
address is subscribed (and confirmed) once by whoever deploys the stack.

Limits of the rehearsal: moto does not turn metric filters into metrics, does not evaluate alarms,
and treats a JSON filter pattern as matching every event, so the local stack proves that the
filters and alarms exist as written, not that they fire (``tests/test_monitoring.py`` checks the
patterns against the events the pipeline writes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from qdn import config
from qdn.canary import ensure_canary
from qdn.jobs.audit import JOB_REFUSED, JOB_WRITE_FAILED
from qdn.plan import Action, Plan, execute, executor_for

State = Literal["exists", "missing", "different", "created", "updated"]
# A subscription whose owner has not yet clicked the confirmation link receives nothing.
UNCONFIRMED = ("PendingConfirmation", "Deleted")
# What a finding becomes once its fix has run.
_FIXED: dict[State, State] = {"missing": "created", "different": "updated"}
_VERB: dict[State, str] = {"missing": "create", "different": "update"}


@dataclass(frozen=True)
class MetricFilterSpec:
    """Counts the audit events of one action as one metric (each matching event adds 1)."""

    name: str
    metric: str
    action: str

    @property
    def pattern(self) -> str:
        return f'{{ $.action = "{self.action}" }}'

    def transformations(self) -> list[dict[str, str]]:
        return [
            {
                "metricName": self.metric,
                "metricNamespace": config.METRICS_NAMESPACE,
                "metricValue": "1",
            }
        ]

    def differences(self, described: dict[str, Any]) -> list[str]:
        found = [
            {k: t.get(k) for k in ("metricName", "metricNamespace", "metricValue")}
            for t in described.get("metricTransformations", [])
        ]
        diffs = []
        if described.get("filterPattern") != self.pattern:
            diffs.append(f"pattern {described.get('filterPattern')!r}, expected {self.pattern!r}")
        if found != self.transformations():
            diffs.append(f"metric {found}, expected {self.transformations()}")
        return diffs


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm on one metric; every alarm notifies the alerts topic when it goes to ALARM."""

    name: str
    description: str
    namespace: str
    metric: str
    statistic: str
    period: int
    threshold: float
    comparison: str
    dimensions: tuple[tuple[str, str], ...] = ()
    evaluation_periods: int = 1
    # No data is no failure: these metrics are only put when something happens.
    treat_missing_data: str = "notBreaching"

    def put_args(self, topic_arn: str) -> dict[str, Any]:
        return {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "ActionsEnabled": True,
            "AlarmActions": [topic_arn],
            "Namespace": self.namespace,
            "MetricName": self.metric,
            "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
            "Statistic": self.statistic,
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison,
            "TreatMissingData": self.treat_missing_data,
        }

    def differences(
        self, described: dict[str, Any], topic: str, topic_arn: str | None
    ) -> list[str]:
        """What differs, one ``Field found, expected wanted`` each. Without the topic's ARN (the
        topic is missing) its actions are compared by the topic's name."""
        wanted = self.put_args(topic_arn or "")
        diffs = []
        for name, value in wanted.items():
            if name in ("AlarmName", "AlarmActions", "Dimensions"):
                continue
            if described.get(name) != value:
                diffs.append(f"{name} {described.get(name)!r}, expected {value!r}")
        dims = sorted((d["Name"], d["Value"]) for d in described.get("Dimensions", []))
        if dims != sorted(self.dimensions):
            diffs.append(f"Dimensions {dims}, expected {sorted(self.dimensions)}")
        actions = described.get("AlarmActions", [])
        if topic_arn is None:
            ok = [a.rsplit(":", 1)[-1] for a in actions] == [topic]
        else:
            ok = actions == [topic_arn]
        if not ok:
            diffs.append(f"AlarmActions {actions}, expected the topic {topic_arn or topic} only")
        return diffs


@dataclass(frozen=True)
class Subscriber:
    """Where the topic delivers: an SNS protocol and endpoint (``email``/``sqs``/``https``...)."""

    protocol: str
    endpoint: str


@dataclass(frozen=True)
class MonitoringSpec:
    topic: str
    log_group: str
    retention_days: int
    filters: tuple[MetricFilterSpec, ...]
    alarms: tuple[AlarmSpec, ...]


# Audit events are evidence of who changed which job: a year, the retention ops asked for.
AUDIT_RETENTION_DAYS = 365
# Five minutes is the shortest period CloudWatch keeps for metrics from log filters and for
# AWS/Lambda and AWS/CloudFront standard metrics; an alarm then fires within minutes.
FIVE_MINUTES = 300
JOB_WRITE_FAILURES_FILTER = MetricFilterSpec(
    "qdn-job-write-failures", config.JOB_WRITE_FAILURES_METRIC, JOB_WRITE_FAILED
)
JOB_INPUTS_REFUSED_FILTER = MetricFilterSpec(
    "qdn-job-inputs-refused", config.JOB_INPUTS_REFUSED_METRIC, JOB_REFUSED
)
JOB_WRITE_FAILURES_ALARM = AlarmSpec(
    name="qdn-job-write-failures",
    description=(
        f"A job write failed for good ({JOB_WRITE_FAILED} in {config.AUDIT_LOG_GROUP}): a "
        "release's customer may have no working tracking link. Read the upload_job task log and "
        "the audit event's reason, fix the cause, re-run the release."
    ),
    namespace=config.METRICS_NAMESPACE,
    metric=config.JOB_WRITE_FAILURES_METRIC,
    statistic="Sum",
    period=FIVE_MINUTES,
    # One: a job write is retried before it is recorded as failed, so each one is a customer.
    threshold=1.0,
    comparison="GreaterThanOrEqualToThreshold",
)
VERIFICATION_FAILED_ALARM = AlarmSpec(
    name="qdn-nightly-verification-failed",
    description=(
        "The nightly verification (qdn_nightly_verify) found production drifted from the last "
        f"release. Read its report under s3://{config.BUCKET}/{config.REPORTS_PREFIX}; each "
        "failed check names what drifted and what to do."
    ),
    namespace=config.METRICS_NAMESPACE,
    metric=config.VERIFICATION_FAILED_METRIC,
    # The report puts one value per run: the number of failed checks.
    statistic="Maximum",
    period=FIVE_MINUTES,
    # One: every check is a promise about production; any one broken is worth waking for.
    threshold=1.0,
    comparison="GreaterThanOrEqualToThreshold",
)
TRACK_API_5XX_ALARM = AlarmSpec(
    name="qdn-track-api-5xx",
    description=(
        f"The track API ({config.TRACK_API_FUNCTION}, behind {config.API_PATH_PREFIX}*) answered "
        "5xx: customers cannot see their job. Read the function's logs and Errors/Throttles "
        "metrics; a deploy of the function is the usual cause."
    ),
    # Url5xxCount counts every 5xx the function URL answered: the function's errors and
    # timeouts and the 5xx the handler returns itself, which the Errors metric never sees.
    namespace="AWS/Lambda",
    metric="Url5xxCount",
    dimensions=(("FunctionName", config.TRACK_API_FUNCTION),),
    statistic="Sum",
    period=FIVE_MINUTES,
    # Five: a lone 5xx (a cold start timing out) is met by the tracking page's Retry button;
    # five in five minutes is more than one customer's bad luck.
    threshold=5.0,
    comparison="GreaterThanOrEqualToThreshold",
)
# CloudFront publishes 5xxErrorRate per distribution (dimensions DistributionId and
# Region=Global), so there is one alarm per distribution, named after its alias.
EDGE_5XX_ALARM_PREFIX = "qdn-edge-5xx-rate-"


def edge_5xx_alarm(alias: str, distribution_id: str) -> AlarmSpec:
    return AlarmSpec(
        name=EDGE_5XX_ALARM_PREFIX + alias,
        description=f"Edge 5xx rate of {alias} above threshold: customers cannot track or book",
        namespace="AWS/CloudFront",
        metric="5xxErrorRate",
        dimensions=(("DistributionId", distribution_id), ("Region", "Global")),
        statistic="Average",
        period=FIVE_MINUTES,
        # More than 5% of edge responses failing for 5 minutes is an outage, not noise.
        threshold=5.0,
        comparison="GreaterThanThreshold",
    )


SPEC = MonitoringSpec(
    topic=config.ALERTS_TOPIC,
    log_group=config.AUDIT_LOG_GROUP,
    retention_days=AUDIT_RETENTION_DAYS,
    filters=(JOB_WRITE_FAILURES_FILTER, JOB_INPUTS_REFUSED_FILTER),
    alarms=(
        JOB_WRITE_FAILURES_ALARM,
        VERIFICATION_FAILED_ALARM,
        TRACK_API_5XX_ALARM,
    ),
)


@dataclass(frozen=True)
class MonitoringChange:
    """One monitored thing as found or as left: ``exists``; ``missing``/``different`` (read-only,
    or nothing here can fix it); ``created``/``updated`` (fixed by this call)."""

    # "SNS topic", "log group", "retention", "metric filter", "alarm", "subscription", "canary"
    kind: str
    name: str
    state: State
    detail: str = ""

    @property
    def drifted(self) -> bool:
        return self.state in ("missing", "different")

    def describe(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.kind} {self.name}{detail}"


@dataclass
class Monitoring:
    """What :func:`ensure_monitoring` found or did, in the order it was looked at."""

    topic_arn: str | None
    changes: list[MonitoringChange] = field(default_factory=list)

    @property
    def drift(self) -> list[MonitoringChange]:
        return [c for c in self.changes if c.drifted]


def ensure_monitoring(
    sns: Any,
    logs: Any,
    cloudwatch: Any,
    *,
    subscribers: Sequence[Subscriber] = (),
    distributions: Mapping[str, str] | None = None,
    canary_in: tuple[Any, str] | None = None,
    dry_run: bool = False,
    spec: MonitoringSpec = SPEC,
) -> Monitoring:
    """Make the topic, log group, filters, alarms and ``subscribers`` what ``spec`` says (plus one
    edge 5xx alarm per distribution of ``distributions``, alias -> id), or with ``dry_run`` only
    say what is missing or different. Every write is an upsert of one named
    thing and runs only when the thing differs, so a second run writes nothing."""
    edge_alarms = tuple(edge_5xx_alarm(a, i) for a, i in sorted((distributions or {}).items()))
    found = _Findings(sns, logs, cloudwatch, replace(spec, alarms=spec.alarms + edge_alarms))
    findings = found.all(subscribers, canary_in)
    plan = Plan(
        "monitoring",
        tuple(
            Action(f.kind_key, f"{_VERB[f.change.state]} {f.change.describe()}", f.args)
            for f in findings
            if f.fix
        ),
        tuple(f"exists: {f.change.describe()}" for f in findings if not f.change.drifted),
    )
    execute(plan, executor_for(dry_run, found.handlers()))
    changes = [f.change if dry_run or f.fix is None else _fixed(f.change) for f in findings]
    return Monitoring(found.topic_arn, changes)


def _fixed(change: MonitoringChange) -> MonitoringChange:
    return MonitoringChange(change.kind, change.name, _FIXED[change.state], change.detail)


@dataclass(frozen=True)
class _Finding:
    change: MonitoringChange
    # The handler that fixes a drift (None: nothing to fix, or nothing this code can fix).
    fix: Callable[..., Any] | None = None
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def kind_key(self) -> str:
        return f"{self.change.kind}:{self.change.name}"


class _Findings:
    """Reads each kind of thing once and pairs every drift with the write that fixes it."""

    def __init__(self, sns: Any, logs: Any, cloudwatch: Any, spec: MonitoringSpec) -> None:
        self.sns, self.logs, self.cloudwatch, self.spec = sns, logs, cloudwatch, spec
        self.topic_arn: str | None = None
        self._findings: list[_Finding] = []

    def handlers(self) -> dict[str, Callable[..., Any]]:
        return {f.kind_key: f.fix for f in self._findings if f.fix is not None}

    def all(
        self, subscribers: Sequence[Subscriber], canary_in: tuple[Any, str] | None
    ) -> list[_Finding]:
        self._topic()
        self._log_group()
        self._alarms()
        self._subscriptions(subscribers)
        if canary_in is not None:
            self._canary(*canary_in)
        return self._findings

    # --- the canary job (qdn.canary) -----------------------------------------------------------

    def _canary(self, s3: Any, bucket: str) -> None:
        name = f"{config.CANARY_JOB_ID} in s3://{bucket}"
        missing = ensure_canary(s3, bucket, dry_run=True).written
        if missing:
            fix = lambda: ensure_canary(s3, bucket)  # noqa: E731 (one call, named by the plan)
            self._add("canary", name, "missing", ", ".join(missing), fix)
        else:
            self._add("canary", name, "exists")

    def _add(
        self, kind: str, name: str, state: State, detail: str = "", fix: Any = None, **args: Any
    ) -> None:
        self._findings.append(_Finding(MonitoringChange(kind, name, state, detail), fix, args))

    # --- the topic ----------------------------------------------------------------------------

    def _topic(self) -> None:
        suffix = ":" + self.spec.topic
        for page in self.sns.get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                if topic["TopicArn"].endswith(suffix):
                    self.topic_arn = topic["TopicArn"]
        if self.topic_arn:
            self._add("SNS topic", self.topic_arn, "exists")
        else:
            self._add("SNS topic", self.spec.topic, "missing", fix=self._create_topic)

    def _create_topic(self) -> None:
        self.topic_arn = self.sns.create_topic(Name=self.spec.topic)["TopicArn"]

    # --- the audit log group and its metric filters -------------------------------------------

    def _log_group(self) -> None:
        group, days = self.spec.log_group, self.spec.retention_days
        listed = self.logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        found = next((g for g in listed if g["logGroupName"] == group), None)
        if found is None:
            self._add("log group", group, "missing", f"{days} days", self._create_group)
        else:
            self._add("log group", group, "exists")
            if found.get("retentionInDays") != days:
                kept = found.get("retentionInDays") or "never expire"
                self._add(
                    "retention", f"of {group}", "different", f"{kept}, expected {days} days",
                    self._set_retention,
                )  # fmt: skip
            else:
                self._add("retention", f"of {group}", "exists", f"{days} days")
        filters: dict[str, dict[str, Any]] = {}
        if found is not None:
            paginator = self.logs.get_paginator("describe_metric_filters")
            for page in paginator.paginate(logGroupName=group):
                # By name, the last one kept: names are unique in a group.
                filters.update({f["filterName"]: f for f in page.get("metricFilters", [])})
        for spec in self.spec.filters:
            name = f"{spec.name} on {group} -> {config.METRICS_NAMESPACE}/{spec.metric}"
            if spec.name not in filters:
                self._add(
                    "metric filter", name, "missing", spec.pattern, self._put_filter, spec=spec
                )
                continue
            diffs = spec.differences(filters[spec.name])
            if diffs:
                self._add(
                    "metric filter",
                    name,
                    "different",
                    "; ".join(diffs),
                    self._put_filter,
                    spec=spec,
                )
            else:
                self._add("metric filter", name, "exists")

    def _create_group(self) -> None:
        self.logs.create_log_group(logGroupName=self.spec.log_group)
        self._set_retention()

    def _set_retention(self) -> None:
        self.logs.put_retention_policy(
            logGroupName=self.spec.log_group, retentionInDays=self.spec.retention_days
        )

    def _put_filter(self, spec: MetricFilterSpec) -> None:
        self.logs.put_metric_filter(
            logGroupName=self.spec.log_group,
            filterName=spec.name,
            filterPattern=spec.pattern,
            metricTransformations=spec.transformations(),
        )

    # --- the alarms ---------------------------------------------------------------------------

    def _alarms(self) -> None:
        names = [a.name for a in self.spec.alarms]
        # DescribeAlarms takes up to 100 names in one request; we have a handful.
        described = {
            a["AlarmName"]: a
            for a in self.cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
        }
        for spec in self.spec.alarms:
            name = f"{spec.name} ({spec.namespace}/{spec.metric})"
            if spec.name not in described:
                self._add(
                    "alarm", name, "missing", f"-> {self.spec.topic}", self._put_alarm, spec=spec
                )
                continue
            diffs = spec.differences(described[spec.name], self.spec.topic, self.topic_arn)
            if diffs:
                self._add("alarm", name, "different", "; ".join(diffs), self._put_alarm, spec=spec)
            else:
                self._add("alarm", name, "exists", f"-> {self.spec.topic}")

    def _put_alarm(self, spec: AlarmSpec) -> None:
        self.cloudwatch.put_metric_alarm(**spec.put_args(self._known_topic()))

    # --- who receives them --------------------------------------------------------------------

    def _subscriptions(self, subscribers: Sequence[Subscriber]) -> None:
        current: list[dict[str, Any]] = []
        if self.topic_arn is not None:
            paginator = self.sns.get_paginator("list_subscriptions_by_topic")
            for page in paginator.paginate(TopicArn=self.topic_arn):
                current.extend(page.get("Subscriptions", []))
        have = {(s["Protocol"], s["Endpoint"]) for s in current}
        for wanted in subscribers:
            name = f"{wanted.protocol}:{wanted.endpoint} on {self.spec.topic}"
            if (wanted.protocol, wanted.endpoint) in have:
                self._add("subscription", name, "exists")
            else:
                self._add("subscription", name, "missing", fix=self._subscribe, wanted=wanted)
        confirmed = [s for s in current if s.get("SubscriptionArn") not in UNCONFIRMED]
        if not confirmed and not subscribers:
            pending = len(current) - len(confirmed)
            self._add(
                "subscription",
                f"on {self.topic_arn or self.spec.topic}",
                "missing",
                f"none confirmed{f', {pending} pending confirmation' if pending else ''}",
            )

    def _subscribe(self, wanted: Subscriber) -> None:
        self.sns.subscribe(
            TopicArn=self._known_topic(), Protocol=wanted.protocol, Endpoint=wanted.endpoint
        )

    def _known_topic(self) -> str:
        # Fixes run in the order found, the topic's first, so its ARN is known by now.
        if self.topic_arn is None:
            raise RuntimeError(f"SNS topic {self.spec.topic} neither found nor created")
        return self.topic_arn

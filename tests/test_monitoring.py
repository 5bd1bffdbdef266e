"""Monitoring, created and checked by one function, against the session's bootstrapped stack.

The bootstrap's monitoring passes the nightly check and a second run writes nothing; an alarm or
a metric filter deleted, an alarm's threshold changed or the topic left without a subscriber is
named (and only it), and put back. The topic delivers to the local queue.

The audit events the metric filters count are written through the real ``upload_job`` operator:
a refused job input and a failed write each leave one event in the audit log group. moto neither
turns metric filters into metrics nor evaluates JSON filter patterns (its ``FilterLogEvents``
treats ``{ ... }`` as matching every event), so whether a filter counts an event is decided here
by :func:`_counts`, which evaluates the one pattern shape ``qdn.monitoring`` writes,
``{ $.field = "value" }``, as CloudWatch Logs does, against the pattern read back from the stack.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from localaws.demo import release_conf, seed_job
from qdn import config
from qdn.distribution_spec import distributions_by_alias
from qdn.jobs.store import JobStore, run_idempotency_key
from qdn.monitoring import (
    EDGE_5XX_ALARM_PREFIX,
    JOB_INPUTS_REFUSED_FILTER,
    JOB_WRITE_FAILURES_ALARM,
    JOB_WRITE_FAILURES_FILTER,
    SPEC,
    Subscriber,
    ensure_monitoring,
)
from qdn.verify.monitoring import check_monitoring

RECREATE = "run `make bootstrap` (or deploy the stack) to recreate it"


def _clients(stack) -> tuple[Any, Any, Any]:
    return stack.client("sns"), stack.client("logs"), stack.client("cloudwatch")


def _check(stack):
    return check_monitoring(
        *_clients(stack), stack.client("cloudfront"), stack.client("s3"), config.BUCKET
    )


def _restore(stack) -> list[str]:
    """Put everything back as the bootstrap makes it; what it had to change, described."""
    done = ensure_monitoring(*_clients(stack), subscribers=[Subscriber("sqs", _queue_arn(stack))])
    return [f"{c.state} {c.describe()}" for c in done.changes if c.state != "exists"]


def _queue_url(stack) -> str:
    return stack.client("sqs").get_queue_url(QueueName=config.ALERTS_LOCAL_QUEUE)["QueueUrl"]


def _queue_arn(stack) -> str:
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=_queue_url(stack), AttributeNames=["QueueArn"]
    )
    return attrs["Attributes"]["QueueArn"]


# --- the check on the bootstrapped stack ------------------------------------------------------


def test_the_bootstrapped_stack_passes(bootstrapped) -> None:
    result = _check(bootstrapped)
    assert result.passed, result.summary()
    edges = len(config.DISTRIBUTION_ALIASES)
    assert result.counts == {
        "alarms": len(SPEC.alarms) + edges,
        "metric_filters": len(SPEC.filters),
    }
    cloudwatch = bootstrapped.client("cloudwatch")
    described = cloudwatch.describe_alarms(AlarmNamePrefix="qdn-")["MetricAlarms"]
    assert {a["AlarmName"] for a in described} >= {
        "qdn-job-write-failures",
        "qdn-nightly-verification-failed",
        "qdn-track-api-5xx",
        *(EDGE_5XX_ALARM_PREFIX + alias for alias in config.DISTRIBUTION_ALIASES),
    }
    # Each edge alarm watches its own distribution, where CloudFront publishes the metric.
    ids = {a: d["Id"] for a, d in distributions_by_alias(bootstrapped.client("cloudfront")).items()}
    for alias in config.DISTRIBUTION_ALIASES:
        [alarm] = [a for a in described if a["AlarmName"] == EDGE_5XX_ALARM_PREFIX + alias]
        dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert dims == {"DistributionId": ids[alias], "Region": "Global"}
    topic = ensure_monitoring(*_clients(bootstrapped), dry_run=True).topic_arn
    assert all(a["AlarmActions"] == [topic] and a["ActionsEnabled"] for a in described)
    group = bootstrapped.client("logs").describe_log_groups(
        logGroupNamePrefix=config.AUDIT_LOG_GROUP
    )["logGroups"][0]
    assert group["retentionInDays"] == 365


def test_a_second_run_changes_nothing(bootstrapped) -> None:
    again = ensure_monitoring(*_clients(bootstrapped))
    assert [c for c in again.changes if c.state != "exists"] == []
    assert again.topic_arn and again.topic_arn.endswith(":" + config.ALERTS_TOPIC)
    filters = bootstrapped.client("logs").describe_metric_filters(
        logGroupName=config.AUDIT_LOG_GROUP
    )["metricFilters"]
    # put_metric_filter is not an upsert in moto: a write on every run would show as duplicates.
    assert sorted(f["filterName"] for f in filters) == sorted(f.name for f in SPEC.filters)


def test_a_deleted_alarm_is_named_and_only_it(bootstrapped) -> None:
    cloudwatch = bootstrapped.client("cloudwatch")
    cloudwatch.delete_alarms(AlarmNames=[JOB_WRITE_FAILURES_ALARM.name])
    try:
        result = _check(bootstrapped)
    finally:
        restored = _restore(bootstrapped)
    assert result.problems == [
        "alarm qdn-job-write-failures (QuickDumpNow/JobWriteFailures) "
        f"(-> {config.ALERTS_TOPIC}) is missing: {RECREATE}"
    ]
    assert restored == [
        "created alarm qdn-job-write-failures (QuickDumpNow/JobWriteFailures) "
        f"(-> {config.ALERTS_TOPIC})"
    ]
    assert _check(bootstrapped).passed


def test_a_deleted_metric_filter_is_named(bootstrapped) -> None:
    logs = bootstrapped.client("logs")
    logs.delete_metric_filter(
        logGroupName=config.AUDIT_LOG_GROUP, filterName=JOB_INPUTS_REFUSED_FILTER.name
    )
    try:
        result = _check(bootstrapped)
    finally:
        restored = _restore(bootstrapped)
    assert result.problems == [
        f"metric filter qdn-job-inputs-refused on {config.AUDIT_LOG_GROUP} -> "
        'QuickDumpNow/JobInputsRefused ({ $.action = "job.refused" }) is missing: ' + RECREATE
    ]
    assert len(restored) == 1 and restored[0].startswith("created metric filter qdn-job-inputs")
    assert _check(bootstrapped).passed


def test_a_changed_alarm_is_named_with_the_difference_and_put_back(bootstrapped) -> None:
    cloudwatch = bootstrapped.client("cloudwatch")
    topic = ensure_monitoring(*_clients(bootstrapped), dry_run=True).topic_arn
    loosened = {**JOB_WRITE_FAILURES_ALARM.put_args(topic), "Threshold": 50.0}
    cloudwatch.put_metric_alarm(**loosened)
    try:
        result = _check(bootstrapped)
    finally:
        restored = _restore(bootstrapped)
    assert len(result.problems) == 1, result.problems
    assert result.problems[0].startswith("alarm qdn-job-write-failures (")
    assert "Threshold 50.0, expected 1.0" in result.problems[0]
    assert restored == [
        "updated alarm qdn-job-write-failures (QuickDumpNow/JobWriteFailures) "
        "(Threshold 50.0, expected 1.0)"
    ]
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[JOB_WRITE_FAILURES_ALARM.name])["MetricAlarms"]
    assert alarm["Threshold"] == 1.0


def test_a_topic_nobody_is_subscribed_to_fails_the_check(bootstrapped) -> None:
    sns = bootstrapped.client("sns")
    topic = ensure_monitoring(*_clients(bootstrapped), dry_run=True).topic_arn
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    for subscription in subscriptions:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    try:
        result = _check(bootstrapped)
    finally:
        restored = _restore(bootstrapped)
    assert len(result.problems) == 1, result.problems
    assert result.problems[0].startswith(
        f"SNS topic {topic} has no confirmed subscription (none confirmed): no alarm reaches anyone"
    )
    assert restored == [f"created subscription sqs:{_queue_arn(bootstrapped)} on {SPEC.topic}"]
    assert _check(bootstrapped).passed


def test_the_topic_delivers_to_the_local_queue(bootstrapped) -> None:
    topic = ensure_monitoring(*_clients(bootstrapped), dry_run=True).topic_arn
    marker = f"monitoring test {uuid.uuid4().hex}"
    bootstrapped.client("sns").publish(TopicArn=topic, Subject="test", Message=marker)
    sqs, url = bootstrapped.client("sqs"), _queue_url(bootstrapped)
    # Other tests' alerts share the queue: read until ours, leaving theirs.
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        ours = [m for m in got.get("Messages", []) if json.loads(m["Body"])["Message"] == marker]
        if ours:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=ours[0]["ReceiptHandle"])
            return
    pytest.fail(f"{marker!r} published to {topic} never reached {config.ALERTS_LOCAL_QUEUE}")


# --- the audit events the metric filters count ------------------------------------------------

_PATTERN = re.compile(r'^\{\s*\$\.(?P<field>[A-Za-z_]+)\s*=\s*"(?P<value>[^"*]*)"\s*\}$')


def _counts(pattern: str, message: str) -> bool:
    """Whether CloudWatch Logs' JSON pattern ``{ $.field = "value" }`` matches ``message``: the
    message is a JSON object whose top-level ``field`` equals ``value``. Any other shape fails
    the test rather than being guessed at."""
    shape = _PATTERN.match(pattern)
    assert shape, f"{pattern!r} is not a pattern this test can evaluate"
    try:
        event = json.loads(message)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get(shape["field"]) == shape["value"]


def _deployed_patterns(stack) -> dict[str, str]:
    """The filters' patterns as the stack holds them (not as the spec says), by metric."""
    filters = stack.client("logs").describe_metric_filters(logGroupName=config.AUDIT_LOG_GROUP)
    return {
        f["metricTransformations"][0]["metricName"]: f["filterPattern"]
        for f in filters["metricFilters"]
    }


@dataclass(frozen=True)
class _TaskInstance:
    """The four fields of a task instance the operator reads to key its write."""

    dag_id: str
    run_id: str
    task_id: str = "upload_job"
    map_index: int = -1


def _run_upload(params: dict[str, Any], **operator: Any) -> tuple[str, BaseException]:
    """Run the real ``upload_job`` operator of a fresh run; it must fail. Its key and error."""
    from qdn.operators.jobs import UpsertJobOperator

    ti = _TaskInstance("qdn_release", f"manual__monitoring-{uuid.uuid4().hex}")
    task = UpsertJobOperator(task_id=ti.task_id, **operator)
    with pytest.raises(AirflowFailException) as failed:
        task.execute({"params": params, "ti": ti})
    return run_idempotency_key(ti.dag_id, ti.run_id, ti.task_id), failed.value


def _events_of(stack, key: str) -> list[dict[str, Any]]:
    """The audit events naming ``key`` (a quoted term, which moto does evaluate)."""
    logs = stack.client("logs")
    found: list[dict[str, Any]] = []
    # Logs makes an event searchable a moment after it is put; moto at once, AWS within seconds.
    for _ in range(20):
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=config.AUDIT_LOG_GROUP,
            startTime=int((time.time() - 600) * 1000),
            filterPattern=f'"{key}"',
        )
        found = [json.loads(e["message"]) for page in pages for e in page["events"]]
        if found:
            break
        time.sleep(0.2)
    return found


def _assert_counted_by(stack, event: dict[str, Any], metric: str) -> None:
    patterns = _deployed_patterns(stack)
    message = json.dumps(event)
    assert _counts(patterns[metric], message), (patterns[metric], message)
    others = [m for m, p in patterns.items() if m != metric and _counts(p, message)]
    assert others == [], f"the event would also count as {others}"


def test_a_refused_job_input_is_an_event_its_filter_counts(airflow_env) -> None:
    params = release_conf(seed_job(customer_name="Refused Person", price="-5.00"))
    key, error = _run_upload(params)
    [event] = _events_of(airflow_env, key)
    assert event["action"] == "job.refused" and event["idempotency_key"] == key
    assert event["error"] == "ReleaseParamsError"
    assert "job_price" in event["reason"] and "job_price" in str(error)
    assert "Refused Person" not in json.dumps(event) and "Soderblom" not in json.dumps(event)
    _assert_counted_by(airflow_env, event, config.JOB_INPUTS_REFUSED_METRIC)


def test_a_key_reused_for_another_job_is_a_refusal(airflow_env) -> None:
    """The store's own refusal (the order reference already made a different job) counts the
    same; the event carries the run's key, the one every failure of the task is audited under."""
    run_id = f"manual__monitoring-{uuid.uuid4().hex}"
    key = run_idempotency_key("qdn_release", run_id, "upload_job")
    ref = f"ord-{uuid.uuid4().hex[:12]}"
    store = JobStore(airflow_env.client("s3"), airflow_env.client("logs"))
    first = store.create(seed_job(customer_name="First Person"), idempotency_key=f"order/{ref}").job
    from qdn.operators.jobs import UpsertJobOperator

    task = UpsertJobOperator(task_id="upload_job")
    ti = _TaskInstance("qdn_release", run_id)
    params = release_conf(seed_job(customer_name="Second")) | {"order_reference": ref}
    with pytest.raises(AirflowFailException, match="already created job"):
        task.execute({"params": params, "ti": ti})
    refused = [e for e in _events_of(airflow_env, key) if e["action"] == "job.refused"]
    assert len(refused) == 1
    assert refused[0]["error"] == "IdempotencyKeyReused" and first.id in refused[0]["reason"]
    assert first.token not in json.dumps(refused[0])
    _assert_counted_by(airflow_env, refused[0], config.JOB_INPUTS_REFUSED_METRIC)


def test_a_write_that_fails_for_good_is_an_event_its_filter_counts(airflow_env) -> None:
    missing_bucket = f"qdn-missing-{uuid.uuid4().hex[:12]}"
    key, error = _run_upload(release_conf(seed_job()), bucket=missing_bucket)
    [event] = _events_of(airflow_env, key)
    assert event["action"] == "job.write_failed"
    assert "NoSuchBucket" in event["reason"] and "NoSuchBucket" in str(error)
    _assert_counted_by(airflow_env, event, config.JOB_WRITE_FAILURES_METRIC)
    assert JOB_WRITE_FAILURES_FILTER.metric == config.JOB_WRITE_FAILURES_METRIC


def test_an_audit_event_that_cannot_be_written_does_not_hide_the_failure(
    airflow_env, capfd
) -> None:
    missing_group = f"/qdn/missing-{uuid.uuid4().hex[:12]}"
    _key, error = _run_upload(
        release_conf(seed_job()),
        bucket=f"qdn-missing-{uuid.uuid4().hex[:12]}",
        log_group=missing_group,
    )
    assert "NoSuchBucket" in str(error)  # the task fails for its own reason
    logged = "".join(capfd.readouterr())
    assert "could not write the job.write_failed audit event" in logged
    assert f"audit log group {missing_group} does not exist" in logged


@pytest.mark.airflow
def test_a_release_refusing_a_job_field_audits_the_refusal(airflow_db, airflow_env) -> None:
    """In a real run the first task validates every parameter, so a refused job field stops the
    run before upload_job: the refusal is audited there, under the job's own key."""
    from test_release_dag import _bag, mark_job, run

    dag_run, states = run(_bag().get_dag("qdn_release"), mark_job(job_price="600.001"))
    assert states["publish_function"] == "failed" and states["upload_job"] == "upstream_failed"
    key = run_idempotency_key("qdn_release", dag_run.run_id, "upload_job")
    [event] = _events_of(airflow_env, key)
    assert event["action"] == "job.refused" and "job_price" in event["reason"]
    _assert_counted_by(airflow_env, event, config.JOB_INPUTS_REFUSED_METRIC)


@pytest.mark.airflow
def test_a_release_without_a_bad_job_field_audits_no_refusal(airflow_db, airflow_env) -> None:
    """A parameter refused for something other than the job (a bad distribution) is no job
    input refused: nothing is audited."""
    from test_release_dag import _bag, run

    dag_run, states = run(_bag().get_dag("qdn_release"), {"build_id": "not a build"})
    assert states["publish_function"] == "failed", states
    key = run_idempotency_key("qdn_release", dag_run.run_id, "upload_job")
    assert _events_of(airflow_env, key) == []


def test_a_lost_canary_is_named_and_the_bootstrap_s_function_brings_it_back(bootstrapped) -> None:
    """The canary is part of what ensure_monitoring makes, so the monitoring check names a lost
    one and the same function (as the bootstrap calls it) re-creates it with the same token."""
    s3 = bootstrapped.client("s3")
    saved = s3.get_object(Bucket=config.BUCKET, Key=config.CANARY_KEY)["Body"].read()
    record = f"{config.JOBS_PREFIX}{config.CANARY_JOB_ID}.json"
    saved_record = s3.get_object(Bucket=config.BUCKET, Key=record)["Body"].read()
    try:
        s3.delete_object(Bucket=config.BUCKET, Key=config.CANARY_KEY)
        result = _check(bootstrapped)
        assert result.problems == [
            f"canary {config.CANARY_JOB_ID} in s3://{config.BUCKET} "
            f"({config.CANARY_KEY}) is missing: " + RECREATE
        ]
        done = ensure_monitoring(*_clients(bootstrapped), canary_in=(s3, config.BUCKET)).changes
        assert [c.state for c in done if c.kind == "canary"] == ["created"]
        assert _check(bootstrapped).passed
        # Rebuilt from the record: the same token, the record untouched.
        assert s3.get_object(Bucket=config.BUCKET, Key=config.CANARY_KEY)["Body"].read() == saved
        assert s3.get_object(Bucket=config.BUCKET, Key=record)["Body"].read() == saved_record
    finally:
        if _missing(s3, config.CANARY_KEY):
            s3.put_object(Bucket=config.BUCKET, Key=config.CANARY_KEY, Body=saved)


def _missing(s3, key: str) -> bool:
    try:
        s3.head_object(Bucket=config.BUCKET, Key=key)
    except s3.exceptions.ClientError:
        return True
    return False

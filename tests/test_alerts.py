"""The failure alert, end to end: a failed qdn_release task publishes to the local stack's alerts
topic and an SQS queue subscribed to it receives the message, over real HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest

from localaws.airflow_local import LOCAL_API_BASE_URL, alerts_topic_arn, release_variables
from qdn import config

pytestmark = pytest.mark.airflow

REPO_ROOT = Path(__file__).resolve().parent.parent
# A well-formed build id that nothing staged: promote_content fails at once (no retry), every
# other task before it succeeds and the ones after it are upstream_failed, which never alert.
MISSING_BUILD = "build-" + "0" * 12
FAILING_CONF = {"build_id": MISSING_BUILD}
FAILED_TASK = "promote_content"
TOPIC_VARIABLE_ENV = "AIRFLOW_VAR_QDN_ALERTS_TOPIC_ARN"


@pytest.fixture
def release_dag(airflow_db, airflow_env):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert not bag.import_errors
    return bag.get_dag("qdn_release")


@pytest.fixture
def alerts_queue(airflow_env) -> Iterator[str]:
    """A fresh SQS queue subscribed to the alerts topic (envelope on, so the subject is kept);
    unsubscribed and deleted afterwards so the shared stack is as it was."""
    sqs, sns = airflow_env.client("sqs"), airflow_env.client("sns")
    url = sqs.create_queue(QueueName=f"qdn-alerts-test-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sub = sns.subscribe(
        TopicArn=alerts_topic_arn(airflow_env.config), Protocol="sqs", Endpoint=arn
    )["SubscriptionArn"]
    try:
        yield url
    finally:
        sns.unsubscribe(SubscriptionArn=sub)
        sqs.delete_queue(QueueUrl=url)


def alerts_of_run(stack_handle: Any, queue_url: str, run_id: str) -> list[dict[str, Any]]:
    """Every alert in the queue about ``run_id`` (other tests' failed runs alert too). moto
    delivers during the Publish call, so whatever the run published is already queued."""
    sqs = stack_handle.client("sqs")
    found = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        batch = got.get("Messages", [])
        if not batch:
            return found
        for message in batch:
            envelope = json.loads(message["Body"])
            if f"Run:   {run_id}\n" in envelope["Message"]:
                found.append(envelope)


def test_the_local_variables_name_the_bootstrapped_topic_and_a_base_url(airflow_env):
    from qdn.alerts import ALERTS_TOPIC_VARIABLE

    env = release_variables(airflow_env.config)
    topic = env[f"AIRFLOW_VAR_{ALERTS_TOPIC_VARIABLE.upper()}"]
    topics = airflow_env.client("sns").list_topics()["Topics"]
    assert topic in {t["TopicArn"] for t in topics}
    assert topic.endswith(":" + config.ALERTS_TOPIC)
    assert env["AIRFLOW__API__BASE_URL"] == LOCAL_API_BASE_URL


def test_a_failed_task_publishes_one_alert_with_its_error_and_log_link(
    release_dag, airflow_env, alerts_queue
):
    dag_run = release_dag.test(run_conf=FAILING_CONF)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert [t for t, s in states.items() if s == "failed"] == [FAILED_TASK], states

    alerts = alerts_of_run(airflow_env, alerts_queue, dag_run.run_id)
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert alert["TopicArn"] == alerts_topic_arn(airflow_env.config)
    assert alert["Subject"] == f"qdn_release failed: {FAILED_TASK}"
    lines = dict(line.split(":", 1) for line in alert["Message"].splitlines()[2:] if ":" in line)
    assert lines["DAG"].strip() == "qdn_release"
    assert lines["Run"].strip() == dag_run.run_id
    assert lines["Task"].strip() == f"{FAILED_TASK} (try 1)"
    # The operator's own first line, with its type: on-call sees what is wrong without the log.
    error = lines["Error"].strip()
    assert error.startswith("AirflowFailException: ") and MISSING_BUILD in error
    assert "\n" not in error
    link = lines["Log"].strip()
    assert link.startswith(LOCAL_API_BASE_URL + "/dags/qdn_release/runs/")
    assert f"/runs/{quote(dag_run.run_id)}/tasks/{FAILED_TASK}" in link


def test_without_the_variable_the_failure_logs_the_configuration_error_and_publishes_nothing(
    release_dag, airflow_env, alerts_queue, monkeypatch, capfd
):
    monkeypatch.delenv(TOPIC_VARIABLE_ENV)
    dag_run = release_dag.test(run_conf=FAILING_CONF)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states[FAILED_TASK] == "failed", states

    out = "".join(capfd.readouterr())
    # Airflow logs the callback's exception in the task's log, under the failure itself.
    assert "Failed to run task callback" in out
    assert "failure alert NOT sent: the Airflow Variable qdn_alerts_topic_arn is not set" in out
    assert TOPIC_VARIABLE_ENV in out and f"SNS topic {config.ALERTS_TOPIC}" in out
    assert alerts_of_run(airflow_env, alerts_queue, dag_run.run_id) == []


@pytest.mark.parametrize(
    "value",
    [
        "",
        "qdn-release-alerts",
        "arn:aws:sqs:us-east-1:123456789012:qdn-release-alerts",
        "arn:aws:sns:us-east-1:123456789012:qdn-release-alerts.fifo",
    ],
)
def test_a_variable_that_is_no_topic_arn_is_a_configuration_error(value, monkeypatch):
    from qdn.alerts import AlertsNotConfigured
    from qdn.alerts import alerts_topic_arn as topic_from_variable

    monkeypatch.setenv(TOPIC_VARIABLE_ENV, value)
    with pytest.raises(AlertsNotConfigured, match="qdn_alerts_topic_arn") as raised:
        topic_from_variable()
    assert ("is not set" if not value else repr(value)) in str(raised.value)


def test_a_topic_arn_in_the_variable_is_used_as_given(monkeypatch):
    from qdn.alerts import alerts_topic_arn as topic_from_variable

    arn = f"arn:aws:sns:eu-west-1:210987654321:{config.ALERTS_TOPIC}"
    monkeypatch.setenv(TOPIC_VARIABLE_ENV, f" {arn}\n")
    assert topic_from_variable() == arn


def test_the_subject_fits_sns_s_limit():
    from qdn.alerts import SUBJECT_MAX, alert_subject

    assert alert_subject("qdn_release", "smoke_check") == "qdn_release failed: smoke_check"
    long = alert_subject("qdn_nightly_verify", "check_" + "x" * 200)
    assert len(long) == SUBJECT_MAX and long.endswith("...")
    assert long.startswith("qdn_nightly_verify failed: check_")
    assert alert_subject("qdn_release", "caf\u00e9").isascii()


def test_the_error_line_is_the_first_line_without_tokens():
    from qdn.alerts import ERROR_LINE_MAX, first_error_line
    from qdn.jobs.model import new_token, redact_token

    token = new_token()
    err = RuntimeError(f"job QDN-7K3Q9XW2MA ({token}) refused\nTraceback detail\nmore")
    line = first_error_line(err)
    assert line == f"RuntimeError: job QDN-7K3Q9XW2MA ({redact_token(token)}) refused"
    # AWS error codes, Variable names and key value store ids are what on-call acts on: kept.
    kept = (
        "TooManyInvalidationsInProgress on E2QWRUHAPOMQZL; set AIRFLOW_VAR_QDN_SITE_URLS; "
        "store 3f1c2a4e-9b7d-4c1e-8a2b-5d6e7f809a1b"
    )
    assert first_error_line(ValueError(kept)) == f"ValueError: {kept}"
    assert len(first_error_line(ValueError("y " * 1000))) == ERROR_LINE_MAX
    assert first_error_line(KeyError()) == "KeyError"
    assert "worker died" in first_error_line(None)


def test_the_log_link_says_so_when_no_base_url_is_set(monkeypatch):
    from qdn.alerts import log_link

    ti = SimpleNamespace(log_url="http://localhost:8080/dags/d/runs/r/tasks/t?try_number=1")
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW__WEBSERVER__BASE_URL", raising=False)
    assert "base_url is not set" in log_link(ti) and "http" not in log_link(ti)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com")
    assert log_link(ti) == ti.log_url

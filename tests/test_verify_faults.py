"""Each fault planted in production fails exactly the checks it must in a real qdn_nightly_verify
run, the report's summary line names it, and the failure reaches on-call as an SNS message with
the fault named and the task's log link."""

from __future__ import annotations

import json

import pytest
from test_release_dag import _bag, run
from test_verify_dag import _report
from verify_faults import FAULTS, Fault, objects_changed_by_hand

from localaws.airflow_local import LOCAL_API_BASE_URL
from qdn import config

pytestmark = pytest.mark.airflow


@pytest.fixture
def verify_dag(airflow_db, airflow_env):
    return _bag().get_dag("qdn_nightly_verify")


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name.replace(" ", "-"))
def test_a_planted_fault_fails_only_its_checks(verify_dag, airflow_env, fault: Fault) -> None:
    with fault.plant(airflow_env) as words:
        dag_run, states = run(verify_dag, {})
    failed = {task for task, state in states.items() if state == "failed"}
    assert failed == fault.fails | {"report"}, states
    report = _report(airflow_env, dag_run)
    said = " ".join(p for check in report["checks"] for p in check["problems"])
    for word in words:
        assert word in said, (word, said)
    summary = report["summary"]
    assert summary.startswith(
        f"{len(states) - 1 - len(fault.fails)} checks passed, {len(fault.fails)} failed: "
    )
    for check in report["checks"]:
        assert (check["name"].replace(" ", "_") in fault.fails) is (not check["passed"])
    # Everything is back: the next night is clean again.
    print(f"\nsummary after {fault.name}: {summary}")


def _alerts_for(stack, run_id: str) -> list[dict[str, str]]:
    """The alerts of one run in the local alerts queue the bootstrap subscribes to the topic."""
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=config.ALERTS_LOCAL_QUEUE)["QueueUrl"]
    found = []
    for _ in range(10):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            body = json.loads(message["Body"])
            if run_id in body.get("Message", ""):
                found.append(body)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if found and not got.get("Messages"):
            break
    return found


def test_a_failing_check_pages_on_call_with_the_fault_and_the_log_link(
    verify_dag, airflow_env
) -> None:
    with objects_changed_by_hand(airflow_env) as words:
        dag_run, states = run(verify_dag, {})
    assert states["content"] == "failed"
    alerts = _alerts_for(airflow_env, dag_run.run_id)
    # One message for the one failed check; the report's failure repeats it and sends none.
    assert [a["Subject"] for a in alerts] == ["qdn_nightly_verify failed: content"], alerts
    message = alerts[0]["Message"]
    assert f"Run:   {dag_run.run_id}" in message and "Task:  content" in message
    error = next(line for line in message.splitlines() if line.startswith("Error: "))
    assert "AirflowFailException: content: 1 problem(s)" in error
    assert all(word in error for word in words[:3]), error
    link = next(line for line in message.splitlines() if line.startswith("Log: "))
    assert link.split()[1].startswith(f"{LOCAL_API_BASE_URL}/dags/qdn_nightly_verify/runs/")
    assert "/tasks/content" in link

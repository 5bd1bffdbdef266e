"""The failure alert: one SNS message per failed task, saying what failed and where its log is.

Every DAG of the project takes it as ``on_failure_callback`` (``qdn.dag_defaults``), so a release,
a rollback and a nightly check page the same way. The message must let on-call act from a phone:
the DAG, run and task, the first line of the error (the rest is behind the link) and a link that
opens the task's log. The topic comes from the Variable ``qdn_alerts_topic_arn`` and nowhere
else: an unset or malformed Variable fails the callback with a message saying how to fix it,
because an alert published to a guessed topic is an alert nobody receives.
"""

from __future__ import annotations

import re
from typing import Any

from airflow.providers.amazon.aws.hooks.sns import SnsHook
from airflow.sdk import BaseNotifier, Variable
from airflow.sdk.configuration import conf

from qdn import config
from qdn.jobs.model import TOKEN_PATTERN, redact_token

ALERTS_TOPIC_VARIABLE = "qdn_alerts_topic_arn"

# A standard topic's ARN; the region is captured because SNS only accepts a publish in the topic's
# own region. FIFO topics are refused: their publish needs a message group the alert has none of.
TOPIC_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}$"
)

# SNS refuses a subject longer than 100 ASCII characters (the publish fails, so no alert at all).
SUBJECT_MAX = 100
TRUNCATED = "..."
# One error line can carry a whole listing (every missing key of a build); the alert is read on
# a phone and the log link has everything, so the line is cut well below SNS's 256 KB.
ERROR_LINE_MAX = 500

# Anything shaped like a tracking token inside a longer text (TOKEN_PATTERN without its anchors).
_TOKEN_ALPHABET = "A-Za-z0-9_-"  # noqa: S105 (a character class, not a secret)
_TOKEN_LIKE = re.compile(
    rf"(?<![{_TOKEN_ALPHABET}]){TOKEN_PATTERN.strip('^$')}(?![{_TOKEN_ALPHABET}])"
)
# Long runs that read as words (AWS error codes such as TooManyInvalidationsInProgress, Variable
# names such as AIRFLOW_VAR_QDN_SITE_URLS) or UUIDs (key value store ids) stay: on-call needs
# them, and a random token of 22+ characters essentially never takes either shape.
_WORD = r"(?:[a-z]+|[A-Z]+|[a-z]*(?:[A-Z][a-z]+)+)"
_READS_AS_WORDS = re.compile(rf"{_WORD}(?:[_-]+{_WORD})*")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class AlertsNotConfigured(RuntimeError):
    """The alert has no real topic to go to; raised instead of publishing anywhere else."""


def alerts_topic_arn() -> str:
    """The topic from the Variable, read at first use (a DAG file must parse without it)."""
    value = (Variable.get(ALERTS_TOPIC_VARIABLE, default=None) or "").strip()
    if TOPIC_ARN_RE.match(value):
        return value
    found = f"is {value!r}, not an SNS topic ARN" if value else "is not set"
    raise AlertsNotConfigured(
        f"failure alert NOT sent: the Airflow Variable {ALERTS_TOPIC_VARIABLE} {found}. Set it "
        f"(Admin > Variables, or the environment variable "
        f"AIRFLOW_VAR_{ALERTS_TOPIC_VARIABLE.upper()}) to the ARN of the SNS topic "
        f"{config.ALERTS_TOPIC}, arn:aws:sns:<region>:<account>:{config.ALERTS_TOPIC}. The "
        f"bootstrap creates that topic and prints its ARN ('SNS topic arn:...'; "
        f"python -m localaws bootstrap on the local stack); in AWS: "
        f"aws sns list-topics | grep {config.ALERTS_TOPIC}. The task's own failure is logged above."
    )


def redact_tokens(text: str) -> str:
    """``text`` with every token-shaped run cut to ``redact_token``'s hint: an alert goes to
    mailboxes and phones, where a tracking token must never travel whole."""

    def hide(match: re.Match[str]) -> str:
        run = match.group(0)
        if _READS_AS_WORDS.fullmatch(run) or _UUID.fullmatch(run):
            return run
        return redact_token(run)

    return _TOKEN_LIKE.sub(hide, text)


def first_error_line(error: BaseException | str | None) -> str:
    """The exception's first line, with its type (AirflowFailException and a botocore
    ClientError call for different action), token-redacted and cut to ``ERROR_LINE_MAX``."""
    if error is None:
        # Airflow failed the task without an exception of ours: marked failed by hand, a
        # timeout or heartbeat loss seen by the scheduler, a worker that died.
        return "no exception recorded (marked failed, timed out, or the worker died): see the log"
    lines = str(error).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if isinstance(error, BaseException):
        first = f"{type(error).__name__}: {first}" if first else type(error).__name__
    line = redact_tokens(first)
    if len(line) > ERROR_LINE_MAX:
        line = line[: ERROR_LINE_MAX - len(TRUNCATED)] + TRUNCATED
    return line


def alert_subject(dag_id: str, task_id: str) -> str:
    """``<dag_id> failed: <task_id>``, ASCII and at most ``SUBJECT_MAX`` characters."""
    subject = f"{dag_id} failed: {task_id}".encode("ascii", "replace").decode("ascii")
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - len(TRUNCATED)] + TRUNCATED
    return subject


def log_link(ti: Any) -> str:
    """The task's log URL, or why there is none.

    Airflow builds ``ti.log_url`` from ``[api] base_url`` and falls back to
    ``http://localhost:8080`` when it is unset: a link that opens nothing on on-call's phone.
    """
    if conf.get("api", "base_url", fallback=None):
        return ti.log_url
    return (
        "no link: [api] base_url is not set on this Airflow (set AIRFLOW__API__BASE_URL to the "
        "UI's address); open the DAG, run and task above in the UI"
    )


def alert_message(
    *, dag_id: str, run_id: str, task_id: str, try_number: int, error_line: str, log: str
) -> str:
    """The alert's body: one labelled line per fact, so a mail client or a pager shows it whole."""
    return (
        f"{dag_id} run {run_id} failed at task {task_id} (try {try_number}).\n"
        f"\n"
        f"DAG:   {dag_id}\n"
        f"Run:   {run_id}\n"
        f"Task:  {task_id} (try {try_number})\n"
        f"Error: {error_line}\n"
        f"Log:   {log}\n"
    )


class FailureAlert(BaseNotifier):
    """``on_failure_callback``: publishes one message per failed task to the alerts topic.

    Airflow logs a callback's exception in the task's log ("Failed to run task callback"), so a
    missing topic shows there, right under the failure it could not report.
    """

    def __init__(
        self,
        dag_id: str,
        *,
        aws_conn_id: str = SnsHook.default_conn_name,
        already_alerted: tuple[type[BaseException], ...] = (),
    ) -> None:
        super().__init__()
        self.dag_id = dag_id
        self.aws_conn_id = aws_conn_id
        # Failures that only repeat what other tasks already paged (the verification's report
        # failing because checks failed): one fault, one message.
        self.already_alerted = already_alerted

    def notify(self, context: Any) -> None:
        if isinstance(context.get("exception"), self.already_alerted):
            self.log.info("no alert: the failed tasks this failure repeats have sent theirs")
            return
        topic_arn = alerts_topic_arn()
        ti = context["ti"]
        message = alert_message(
            dag_id=self.dag_id,
            run_id=context["run_id"],
            task_id=ti.task_id,
            try_number=ti.try_number,
            error_line=first_error_line(context.get("exception")),
            log=log_link(ti),
        )
        match = TOPIC_ARN_RE.match(topic_arn)
        region = match.group("region") if match else None
        hook = SnsHook(aws_conn_id=self.aws_conn_id, region_name=region)
        sent = hook.publish_to_target(
            target_arn=topic_arn,
            subject=alert_subject(self.dag_id, ti.task_id),
            message=message,
        )
        self.log.info(
            "failure alert for %s / %s / %s published to %s (MessageId %s)",
            self.dag_id,
            context["run_id"],
            ti.task_id,
            topic_arn,
            sent.get("MessageId"),
        )

"""``make demo``: a full release rehearsal on the local stack.

Starts the stack (or reuses a running one), bootstraps it, warms both edges with the current site,
stages a changed build, runs ``qdn_release`` as a real Airflow DAG run with the seed's job (Mark,
Soderblom Ave, $600, ready for pickup), prints one line per task as it finishes, what the release
changed (a second demo changes nothing and says so) and the tracking URL, then runs
``qdn_nightly_verify`` as the release's Asset would, and exits 0 only if the smoke check and every
verification check passed. Everything else the process writes (Airflow's own log) goes to
``.stack/demo-airflow.log``, not the console. ``KEEP=1`` leaves the stack running so the URL can
be opened; ``make down`` stops it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

import pluggy

from localaws import stack
from localaws.airflow_local import airflow_settings, release_variables, task_result
from qdn import config
from qdn.release_params import JOB_PREFIX
from qdn.smoke import http_get

REPO_ROOT = stack.REPO_ROOT
STATE_DIR = REPO_ROOT / ".stack"
AIRFLOW_HOME = STATE_DIR / "airflow"
# Airflow's own log of the demo's DAG runs: the console shows the release, this file the detail.
AIRFLOW_LOG = STATE_DIR / "demo-airflow.log"
# Lines of that log a failed task shows on the console: enough for a traceback's last frames.
FAILED_TAIL_LINES = 30
# Short enough for a rehearsal, long enough to see the invalidation go InProgress -> Completed.
DEMO_INVALIDATION_DELAY = 3.0
# A verification check's notes are cut to this on the console (a terminal line); the report in the
# bucket has them whole.
NOTE_CHARS = 100
# Airflow's listener marker (airflow.listeners.hookimpl is this same marker), taken from pluggy so
# that importing the demo does not import Airflow before _configure_airflow has pointed it home.
hookimpl = pluggy.HookimplMarker("airflow")
# The deterministic change the demo stages: the same text every time, so a second demo on the
# same stack stages the same build and the release writes nothing.
DEMO_NOTICE = "release rehearsal: booking and dashboard pages refreshed"


# The terminal, while main() has pointed fds 1 and 2 at AIRFLOW_LOG; None outside main().
_console_fd: int | None = None


def _say(text: str) -> None:
    """A line for the operator: on the terminal, whatever Airflow has done to stdout."""
    if _console_fd is None:
        print(text, flush=True)
    else:
        os.write(_console_fd, (text + "\n").encode())


def _ensure_stack() -> stack.RunningStack:
    running = stack.load_running(STATE_DIR)
    if running and running.alive():
        _say(f"using the running local stack (moto {running.config.moto_url})")
        return running
    if running:
        stack.stop(STATE_DIR)
    cfg = stack.StackConfig(state_dir=STATE_DIR, invalidation_delay=DEMO_INVALIDATION_DELAY)
    began = time.monotonic()
    running = stack.start(cfg)
    _say(f"local stack up in {time.monotonic() - began:.1f} s: moto {cfg.moto_url}, "
         f"CloudFront {cfg.cloudfront_url}")  # fmt: skip
    return running


def changed_site(workdir: Path, note: str) -> Path:
    """A copy of site/public whose shell carries ``note`` as a comment: a real, small change."""
    source = workdir / "site"
    shutil.copytree(REPO_ROOT / "site" / "public", source)
    shell = source / "index.html"
    shell.write_text(shell.read_text().replace("</body>", f"<!-- {note} -->\n</body>", 1))
    return source


def changed_cf(workdir: Path, edit: Callable[[str], str]) -> Path:
    """A copy of cf/ whose function source went through ``edit``; the cases stay the repo's."""
    cf_dir = workdir / "cf"
    shutil.copytree(REPO_ROOT / "cf", cf_dir)
    js = cf_dir / f"{config.FUNCTION_NAME}.js"
    js.write_text(edit(js.read_text()))
    return cf_dir


def seed_job(**fields: Any) -> dict[str, Any]:
    """The job of the original manual release (Mark, Soderblom Ave, $600, ready for pickup)."""
    job = {
        "customer_name": "Mark",
        "location": "Soderblom Ave",
        "service_date": (date.today() + timedelta(days=2)).isoformat(),
        "price": "600.00",
        "status": "ready_for_pickup",
    }
    return job | fields


def release_conf(job: dict[str, Any]) -> dict[str, Any]:
    """qdn_release's run conf for a job: the Params form's flat ``job_*`` fields."""
    return {f"{JOB_PREFIX}{name}": value for name, value in job.items()}


def _configure_airflow(cfg: stack.StackConfig) -> None:
    """Airflow's settings for this process; must run before Airflow is imported."""
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_settings(AIRFLOW_HOME))
    os.environ.update(release_variables(cfg))


@functools.cache
def _log_stream(path: Path) -> TextIO:
    """One text stream on ``path`` for the life of the process, never closed.

    Airflow configures structlog on first import with whatever ``sys.stdout`` is then (this
    stream) and keeps writing to it, even in the next DAG run of the same process: closing it
    would turn that run's first log line into "I/O operation on closed file".
    """
    return path.open("a", buffering=1)


@contextlib.contextmanager
def _only_the_demo_on_the_console() -> Iterator[None]:
    """Send everything written to this process's stdout and stderr meanwhile to AIRFLOW_LOG;
    ``_say`` alone reaches the terminal.

    Airflow's loggers and structlog hold their own references to the streams, so the file
    descriptors themselves are swapped: whatever Airflow (or a library logging once Airflow has
    configured logging) writes lands in the file. The descriptors come back before an exception
    leaves, so its traceback reaches the terminal.
    """
    global _console_fd
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    AIRFLOW_LOG.parent.mkdir(parents=True, exist_ok=True)
    with AIRFLOW_LOG.open("ab") as log_file:
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
    _console_fd = saved[0]
    # Writers that look sys.stdout up on each write (structlog's) follow these objects instead.
    text = _log_stream(AIRFLOW_LOG)
    try:
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
            yield
    finally:
        _console_fd = None
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


class _TaskLines:
    """An Airflow listener that prints one console line per task the moment it finishes.

    ``dag.test`` runs each task in this process and calls the task-runner listeners as it
    finishes it, so the console follows the release task by task instead of after the run.
    """

    def __init__(self) -> None:
        self.printed: set[str] = set()

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        self._finished(task_instance, "success")

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        # Called for a try that will be retried as well: its state says which.
        retried = str(getattr(task_instance, "state", "")) == "up_for_retry"
        self._finished(task_instance, "up_for_retry" if retried else "failed")

    def _finished(self, ti: Any, state: str) -> None:
        value = ti.xcom_pull(task_ids=ti.task_id) if state == "success" else None
        _say(task_line(ti.task_id, state, value))
        self.printed.add(ti.task_id)
        if state != "success":
            sys.stdout.flush()
            sys.stderr.flush()
            for line in _log_tail(ti.task_id):
                _say(f"    | {line}")


def task_line(task_id: str, state: str, value: Any) -> str:
    """The console line of one finished task: its id, its state and what it did."""
    return f"  {task_id:<17} {state:<8} {_summarise(task_id, value)}".rstrip()


def _run_dag(dag_id: str, conf: dict[str, Any]) -> Any:
    """Run ``dag_id`` with ``conf``; tasks' lines reach the console as they finish, then the
    tasks that never ran (upstream failed, skipped) get theirs."""
    from airflow.sdk.listener import get_listener_manager

    lines = _TaskLines()
    listeners = get_listener_manager()
    listeners.add_listener(lines)
    try:
        from airflow.dag_processing.dagbag import DagBag
        from airflow.utils import db

        if not (AIRFLOW_HOME / "airflow.db").exists():
            db.initdb()
        bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
        if bag.import_errors:
            raise SystemExit(f"DAG import errors: {bag.import_errors}")
        dag_run = bag.get_dag(dag_id).test(run_conf=conf)
    finally:
        listeners.pm.unregister(lines)
    for ti in sorted(dag_run.get_task_instances(), key=lambda t: t.task_id):
        if ti.task_id not in lines.printed:
            _say(task_line(ti.task_id, str(ti.state), None))
    return dag_run


def _log_tail(task_id: str) -> list[str]:
    """The last lines of Airflow's log that name ``task_id``: why a failed task failed."""
    if not AIRFLOW_LOG.exists():
        return []
    lines = AIRFLOW_LOG.read_text(errors="replace").splitlines()
    named = [i for i, line in enumerate(lines) if task_id in line]
    end = (named[-1] + 1) if named else len(lines)
    return lines[max(0, end - FAILED_TAIL_LINES) : end]


def main() -> int:
    with _only_the_demo_on_the_console():
        return _demo()


def _demo() -> int:
    running = _ensure_stack()
    try:
        return _rehearse(running.config)
    finally:
        if os.environ.get("KEEP") == "1":
            _say("KEEP=1: the stack is still running; stop it with: make down")
        else:
            stack.stop(STATE_DIR)
            _say("stack stopped, its state kept in .stack/ (KEEP=1 leaves it running)")


def _rehearse(cfg: stack.StackConfig) -> int:
    from localaws.bootstrap import bootstrap
    from qdn import staging

    def clients(service: str) -> Any:
        return stack.client(cfg, service)

    report = bootstrap(clients)
    _say(f"bootstrap: {report.changed} change(s)")
    for alias in cfg.edge_ports:
        for path in ("/", "/book/", "/track/" + "w" * 32):
            http_get(cfg.edge_url(alias) + path)
    _say("warmed both edges with the current site (/, /book/, /track/...)")

    with tempfile.TemporaryDirectory() as tmp:
        staged = staging.stage(clients("s3"), changed_site(Path(tmp), DEMO_NOTICE))
    _say(staged.summary())

    _configure_airflow(cfg)
    conf = release_conf(seed_job())
    _say(f"running qdn_release as a DAG run (Airflow's own log: {AIRFLOW_LOG}) ...")
    dag_run = _run_dag("qdn_release", conf)
    tis = dag_run.get_task_instances()
    results = {ti.task_id: task_result(dag_run, ti.task_id) for ti in tis}
    _say(f"qdn_release run {dag_run.run_id}: {dag_run.state}")
    if str(dag_run.state) == "success":
        _say(_changes(results))

    jobs = task_result(dag_run, "upload_job") or {}
    smoke_ok = any(t.task_id == "smoke_check" and str(t.state) == "success" for t in tis)
    if jobs.get("job_ids"):
        from qdn.operators.jobs_lookup import jobs_by_id

        job = jobs_by_id(clients("s3"), config.BUCKET, jobs["job_ids"])[0]
        _say("")
        _say(f"tracking URL: {cfg.edge_url(config.DISTRIBUTION_ALIASES[0])}/track/{job.token}")
    if not smoke_ok:
        return 1
    return 0 if _verify() else 1


def _verify() -> bool:
    """What the release's Asset triggers in a deployment: qdn_nightly_verify, run here at once."""
    _say("")
    _say("running qdn_nightly_verify (a deployment runs it on the release's Asset event) ...")
    dag_run = _run_dag("qdn_nightly_verify", {})
    report = task_result(dag_run, "report") or {}
    _say(f"qdn_nightly_verify run {dag_run.run_id}: {dag_run.state}")
    _say(report.get("summary") or "the report task failed: read the run's report in the bucket")
    if report.get("report"):
        _say(f"report: s3://{config.BUCKET}/{report['report']}")
    return str(dag_run.state) == "success"


def _changes(results: dict[str, Any]) -> str:
    """One line saying what the release changed, or that a repeated release changed nothing."""
    published = (results.get("publish_function") or {}).get("published")
    promoted = (results.get("promote_content") or {}).get("promoted")
    jobs = results.get("upload_job") or {}
    invalidated = (results.get("invalidate") or {}).get("invalidations")
    if published or promoted or jobs.get("changed_job_ids") or invalidated:
        return "changed: " + ", ".join(
            what
            for what, done in (
                ("function published", published),
                ("build made live", promoted),
                (
                    f"job {', '.join(jobs.get('changed_job_ids', []))} written",
                    jobs.get("changed_job_ids"),
                ),
                (f"{len(invalidated or [])} invalidation(s)", invalidated),
            )
            if done
        )
    job = ", ".join(jobs.get("job_ids", [])) or "none"
    return (
        "nothing changed: function current, build already live, "
        f"job {job} already there, no invalidation"
    )


def _summarise(task_id: str, value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    if task_id == "publish_function":
        return "published" if value.get("published") else "LIVE already current, nothing published"
    if task_id == "promote_content":
        if not value.get("promoted"):
            return f"build {value.get('build_id')} already live, pointer untouched"
        return (f"live pointer {value.get('build_before')} -> {value.get('build_id')} "
                f"({value.get('verified_files')} files verified, nothing copied)")  # fmt: skip
    if task_id == "upload_job":
        if value.get("existed"):
            created = "already there (an earlier run created it): nothing written"
        else:
            created = "created" if value.get("created") else "completed (this run's retry)"
        return f"job {', '.join(value.get('job_ids', [])) or 'none'} {created}"
    if task_id == "invalidate":
        ids = [i["invalidation_id"] for i in value.get("invalidations", [])]
        if not ids:
            return "nothing to invalidate"
        return f"{len(value.get('paths', []))} path(s) on {len(ids)} distribution(s) {ids}"
    if task_id == "smoke_check":
        return f"build {value.get('build_id')} live, job {value.get('job_id')} tracked"
    if task_id == "report":
        return str(value.get("summary", ""))
    if "passed" in value and "notes" in value:  # a verification check's verdict (qdn.verify)
        notes = "; ".join(value["notes"]) or "nothing to note"
        return notes if len(notes) <= NOTE_CHARS else notes[: NOTE_CHARS - 1] + "…"
    return ""


if __name__ == "__main__":
    sys.exit(main())

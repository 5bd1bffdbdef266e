"""A release as the qdn_release DAG run vs. the seed's straight-line boto3 script, side by side.

Both run against one local stack whose invalidations take ``--invalidation-delay`` seconds (20 by
default, a quick real CloudFront) and both poll them every ``--poll`` seconds (botocore's own
``invalidation_completed`` cadence, 20). Each round releases the same kind of change twice, once
each way, alternating: a changed function, a changed staged build (staged before the clock
starts, as a release only promotes what is already staged) and one new job.

The script does the seed's steps in the seed's order, on today's layout: publish the function,
make the build live (the seed copied it into production; here that is writing the live pointer by
hand), rewrite jobs.json, invalidate everything (``/*``, as the seed did) on the first
distribution and wait, then the second and wait, then fetch the tracking URL. The DAG switches the
pointer and uploads in parallel branches, invalidates only the new job's API path on both
distributions at once and waits in the triggerer. Target: DAG <= 0.6 x the script's wall time.

Run: ``.venv/bin/python bench/bench_release.py [--rounds 2]`` (about a minute a round, plus one
warm-up round).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "plugins"), str(REPO_ROOT / "site" / "api")]

from localaws import stack  # noqa: E402
from localaws.airflow_local import airflow_settings, release_variables  # noqa: E402
from localaws.bootstrap import bootstrap  # noqa: E402
from localaws.demo import changed_cf, changed_site, release_conf, seed_job  # noqa: E402
from qdn import config, staging  # noqa: E402
from qdn.function_release import render  # noqa: E402
from qdn.live_pointer import kvs_arn, read_pointer, write_pointer  # noqa: E402
from qdn.smoke import http_get  # noqa: E402

TARGET_RATIO = 0.6
FUNCTION_FILE = f"{config.FUNCTION_NAME}.js"


def seed_script(cfg: stack.StackConfig, cf_dir: Path, build_id: str, name: str, poll: int) -> None:
    """The seed's release, step by step, as one would script it with boto3."""
    from qdn.jobs.legacy_document import JobsDocument
    from qdn.jobs.model import Job, NewJob

    s3 = stack.client(cfg, "s3")
    cf = stack.client(cfg, "cloudfront")
    kvs = stack.client(cfg, "cloudfront-keyvaluestore")
    pointer = read_pointer(kvs, kvs_arn(cf, config.KVS_NAME), config.LIVE_POINTER_KEY)
    # 1. publish the function (its config kept: it carries the store association)
    described = cf.describe_function(Name=config.FUNCTION_NAME, Stage="DEVELOPMENT")
    etag = cf.update_function(
        Name=config.FUNCTION_NAME,
        IfMatch=described["ETag"],
        FunctionConfig=described["FunctionSummary"]["FunctionConfig"],
        FunctionCode=render((cf_dir / FUNCTION_FILE).read_bytes(), pointer.value or build_id),
    )["ETag"]
    cf.publish_function(Name=config.FUNCTION_NAME, IfMatch=etag)
    # 2. make the staged build live
    write_pointer(kvs, pointer, build_id)
    # 3. upload the job
    doc = JobsDocument.from_json_bytes(
        s3.get_object(Bucket=config.BUCKET, Key=config.JOBS_KEY)["Body"].read()
    )
    job = Job.create(
        NewJob(**seed_job(customer_name=name)), now=datetime.now(UTC), idempotency_key=None
    )
    s3.put_object(Bucket=config.BUCKET, Key=config.JOBS_KEY, Body=doc.with_job(job).to_json_bytes())
    # 4. invalidate one distribution and wait, then the other
    waiter = cf.get_waiter("invalidation_completed")
    for dist in cf.list_distributions()["DistributionList"]["Items"]:
        inv = cf.create_invalidation(
            DistributionId=dist["Id"],
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]},
                "CallerReference": f"seed-{time.time_ns()}",
            },
        )["Invalidation"]
        waiter.wait(
            DistributionId=dist["Id"], Id=inv["Id"], WaiterConfig={"Delay": poll, "MaxAttempts": 60}
        )
    # 5. the tracking link
    base = cfg.edge_url(config.DISTRIBUTION_ALIASES[0])
    for path in (f"/track/{job.token}", f"{config.TRACK_API_PREFIX}{job.token}"):
        status = http_get(base + path).status
        if status != 200:
            raise SystemExit(f"seed script: {path[:12]}... answered {status}")


def dag_release(dag: Any, name: str) -> None:
    dag_run = dag.test(run_conf=release_conf(seed_job(customer_name=name)))
    if str(dag_run.state) != "success":
        raise SystemExit(f"qdn_release run {dag_run.run_id} ended {dag_run.state}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    # The first dag.test() of a process starts Airflow's in-process execution API (about 4 s), a
    # cost a running deployment pays once at start-up, not per release: one pair is not counted.
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--invalidation-delay", type=float, default=20.0)
    parser.add_argument("--poll", type=int, default=20, help="waiter delay, both sides (s)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="qdn-bench-"))
    cfg = stack.StackConfig.with_free_ports(
        work / "stack", invalidation_delay=args.invalidation_delay
    )
    stack.start(cfg)
    try:
        bootstrap(lambda service: stack.client(cfg, service))
        os.environ.update(airflow_settings(work / "airflow"))
        os.environ.update(release_variables(cfg))
        os.environ["AIRFLOW_VAR_QDN_WAITER_DELAY"] = str(args.poll)
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
        from airflow.dag_processing.dagbag import DagBag
        from airflow.utils import db

        db.initdb()
        dag = DagBag(dag_folder=str(REPO_ROOT / "dags")).get_dag("qdn_release")
        s3 = stack.client(cfg, "s3")
        dag_times: list[float] = []
        script_times: list[float] = []
        for n in range(args.warmup + args.rounds):
            counted = n >= args.warmup
            round_dir = work / f"round-{n}"
            for side in ("dag", "script"):
                side_dir = round_dir / side
                side_dir.mkdir(parents=True)
                note = f"bench round {n} {side}"
                build_id = staging.stage(s3, changed_site(side_dir, note)).build_id
                cf_dir = changed_cf(side_dir, lambda js, note=note: f"{js}\n// {note}\n")
                began = time.monotonic()
                if side == "dag":
                    os.environ["AIRFLOW_VAR_QDN_CF_DIR"] = str(cf_dir)
                    dag_release(dag, f"Bench Dag {n}")
                else:
                    seed_script(cfg, cf_dir, build_id, f"Bench Script {n}", args.poll)
                took = time.monotonic() - began
                if counted:
                    (dag_times if side == "dag" else script_times).append(took)
                label = "" if counted else " (warm-up, not counted)"
                print(f"round {n} {side:<6} {took:6.1f} s{label}", flush=True)
    finally:
        stack.stop(cfg.state_dir)
        shutil.rmtree(work, ignore_errors=True)

    ratios = [d / s for d, s in zip(dag_times, script_times, strict=True)]
    print()
    print(
        f"invalidation delay {args.invalidation_delay:.0f} s, polling every {args.poll} s, "
        f"{args.rounds} round(s) after {args.warmup} warm-up"
    )
    shown = {"qdn_release DAG run": dag_times, "seed-order script": script_times}
    for label, times in shown.items():
        runs = ", ".join(f"{t:.1f}" for t in times)
        print(f"{label:<21} median {statistics.median(times):6.1f} s  (runs: {runs})")
    ratio = statistics.median(ratios)
    print(f"ratio DAG/script      median {ratio:.2f}  (pairs: {[round(r, 2) for r in ratios]})")
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"target <= {TARGET_RATIO}: {verdict}")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

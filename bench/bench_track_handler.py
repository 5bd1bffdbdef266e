"""The track API with 100,000 jobs in jobs.json, against a moto server this script starts.

Prints: the document's size; a cold start in a fresh process (imports, first S3 GET, parse and
index) and in this process; then warm lookups per second with median and p95 latency, and the S3
requests per lookup (the design says exactly one conditional GET, answered 304).
Run: .venv/bin/python bench/bench_track_handler.py [--jobs N] [--lookups N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PATHS = [str(REPO / "plugins"), str(REPO), str(REPO / "site" / "api")]
sys.path[:0] = PATHS

from localaws import stack  # noqa: E402
from qdn import config  # noqa: E402
from qdn.jobs.model import Job, JobsDocument, NewJob  # noqa: E402

STREETS = ["Soderblom Ave", "Main St", "Harbor Rd", "Pine Ct", "Lakeview Dr", "Mill Ln"]


def build_document(count: int) -> JobsDocument:
    rng = random.Random(11)
    now = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
    jobs = []
    for index in range(count):
        new = NewJob(
            customer_name=f"Customer {index}",
            customer_phone="+1 555 010 0199",
            location=f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
            service_date=date(2025, 6, 1) + timedelta(days=rng.randint(0, 120)),
            price=f"{rng.randint(250, 900)}.00",
            status=rng.choice(["booked", "scheduled", "delivered", "ready_for_pickup"]),
        )
        jobs.append(Job.create(new, now=now, idempotency_key=f"bench-{index}"))
    return JobsDocument(jobs=jobs)


def track_event(token: str) -> dict:
    path = config.TRACK_API_PREFIX + token
    return {
        "version": "2.0",
        "rawPath": path,
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": path}},
        "isBase64Encoded": False,
    }


_COLD_PROCESS = """
import json, sys, time
started = time.perf_counter()
from qdn_api.app import handler
imported = time.perf_counter()
response = handler(json.loads(sys.argv[1]), None)
done = time.perf_counter()
print(json.dumps({"status": response["statusCode"], "import": imported - started,
                  "first": done - imported}))
"""


def cold_process(env: dict[str, str], token: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _COLD_PROCESS, json.dumps(track_event(token))],
        env={**env, "PYTHONPATH": os.pathsep.join(PATHS)},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()

    started = time.perf_counter()
    document = build_document(args.jobs)
    body = document.to_json_bytes()
    print(
        f"jobs.json: {args.jobs} jobs, {len(body) / 1e6:.1f} MB (built in "
        f"{time.perf_counter() - started:.1f} s)"
    )
    started = time.perf_counter()
    JobsDocument.from_json_bytes(body)
    parsed = time.perf_counter() - started
    print(f"parse + validate + index alone, cycle collector left on: {parsed:.2f} s")

    with tempfile.TemporaryDirectory(prefix="qdn-bench-") as state:
        cfg = stack.StackConfig.with_free_ports(Path(state))
        stack.start(cfg, services=("moto",))
        try:
            os.environ.update(stack.aws_env(cfg))  # this process's handler, and the fresh one's
            env = dict(os.environ)
            import boto3

            s3 = boto3.client("s3", endpoint_url=cfg.moto_url, region_name=stack.REGION)
            s3.create_bucket(Bucket=config.BUCKET)
            s3.put_object(Bucket=config.BUCKET, Key=config.JOBS_KEY, Body=body)
            return measure(document, env, args.lookups)
        finally:
            stack.stop(Path(state))


def measure(document: JobsDocument, env: dict[str, str], lookups: int) -> int:
    from qdn_api import settings
    from qdn_api.app import handler
    from qdn_api.jobs_store import STORE

    rng = random.Random(5)
    tokens = [job.token for job in document.jobs]

    fresh = cold_process(env, rng.choice(tokens))
    print(
        f"cold start, fresh process: imports {fresh['import'] * 1000:.0f} ms + first lookup "
        f"{fresh['first'] * 1000:.0f} ms (HTTP {fresh['status']})"
    )

    settings.reset()
    STORE.forget()
    started = time.perf_counter()
    first = handler(track_event(rng.choice(tokens)), None)
    cold = time.perf_counter() - started
    print(
        f"cold start, this process (client + GET + parse): {cold * 1000:.0f} ms "
        f"(HTTP {first['statusCode']})"
    )

    sent: list[str] = []
    settings.s3_client().meta.events.register(
        "before-send.s3", lambda **kw: sent.append(kw.get("event_name", ""))
    )
    latencies = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    for index in range(lookups):
        # One in ten is a token nobody holds: a miss costs the same single request.
        token = rng.choice(tokens) if index % 10 else "Z" * 32
        t0 = time.perf_counter()
        status = handler(track_event(token), None)["statusCode"]
        latencies.append(time.perf_counter() - t0)
        statuses[status] = statuses.get(status, 0) + 1
    elapsed = time.perf_counter() - started

    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"warm: {lookups / elapsed:.0f} lookups/s, median {statistics.median(latencies) * 1000:.2f}"
        f" ms, p95 {p95 * 1000:.2f} ms over {lookups} lookups {dict(sorted(statuses.items()))}"
    )
    print(f"S3 requests per warm lookup: {len(sent) / lookups:.2f} (conditional GET, 304)")
    print(f"warm vs cold: one warm lookup is {cold / statistics.median(latencies):.0f}x cheaper")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of this process (document built, parsed twice): {peak_mb:.0f} MB")
    return 0 if len(sent) == lookups and statuses.get(500, 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

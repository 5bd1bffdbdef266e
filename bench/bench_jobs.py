"""Job records at 1,000 / 10,000 / 100,000 jobs: the per-job store against the single-document
store it replaced and a plain ``json`` read-modify-write, side by side, on a moto server this
script starts (buckets without versioning: moto keeps every version in memory).

For each history size the script seeds moto's state file directly (every job's record, token
lookup and index entries, and the same jobs as one ``data/jobs.json`` for the two document
stores), starts the server on it, and measures over real HTTP:

- adding one job (median): the old store (GET, parse + validate + index, add, PUT IfMatch), plain
  ``json`` (GET, loads, append, dumps, PUT IfMatch) and the new store (``JobStore.create``, audit
  event included); changing one job's status (new store);
- parsing + validating + indexing the whole document, as every old write and cold start did;
- the track API's cold start in a fresh process: imports, first lookup, peak memory; the old
  one (GET + parse the document) beside it; the S3 requests of a warm lookup;
- at the largest size: 32 writers of new jobs at once (new store, and a naive read-modify-write
  without conditions), and 32 status changes of one job.

Targets (the script exits 1 when one is missed): add/change median <= 50 ms and the largest size's
add within 1.5x of the smallest's; track imports <= 400 ms, first lookup <= 100 ms, peak <= 150 MB
at the largest size, a warm lookup at most one request; 32 writers: none lost or duplicated, every
writer done in at most 2 attempts, the round within 1.5 s.

Run: .venv/bin/python bench/bench_jobs.py [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PATHS = [str(REPO / "plugins"), str(REPO), str(REPO / "site" / "api")]
sys.path[:0] = PATHS

from localaws import stack  # noqa: E402
from localaws.request_counter import RequestCounter  # noqa: E402
from qdn import config  # noqa: E402

NEW, OLD, PLAIN = "bench-new", "bench-old", "bench-plain"
LOG_GROUP = "/qdn/jobs/audit"
STREETS = ["Soderblom Ave", "Main St", "Harbor Rd", "Pine Ct", "Lakeview Dr", "Mill Ln"]
WRITERS = 32
CHANGES = 15  # adds and status changes measured per size (the median is reported)
ROUNDS = 5
# Targets from the job-records issue.
WRITE_MEDIAN_MS = 50
SIZE_RATIO = 1.5
IMPORT_MS, FIRST_LOOKUP_MS, PEAK_MB = 400, 100, 150
ROUND_SECONDS = 1.5


def _new_jobs(count: int) -> list[Any]:
    from qdn.jobs.model import Job, NewJob

    rng = random.Random(11)
    start = datetime.now(UTC) - timedelta(days=5)
    jobs = []
    for index in range(count):
        new = NewJob(
            customer_name=f"Customer {index}",
            customer_phone="+1 555 010 0199",
            location=f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
            service_date=date.today() + timedelta(days=rng.randint(0, 120)),
            price=f"{rng.randint(250, 900)}.00",
            status=rng.choice(["booked", "scheduled", "delivered", "ready_for_pickup"]),
        )
        at = start + timedelta(seconds=index)
        jobs.append(Job.create(new, now=at, idempotency_key=f"bench-history-{index}"))
    return jobs


def seed(state_file: Path, count: int, sample_file: Path) -> None:
    """Build moto's state in this process, with its own Python API (no HTTP: half a million
    objects over HTTP would take longer than everything measured), and save it for the server."""
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID

    from localaws.moto_server import save_state
    from qdn.jobs import layout
    from qdn.jobs.legacy_document import JobsDocument
    from qdn.jobs.records import lookup_body

    jobs = _new_jobs(count)
    s3 = get_backend("s3")[DEFAULT_ACCOUNT_ID]["global"]
    for bucket in (NEW, OLD, PLAIN):
        s3.create_bucket(bucket, stack.REGION)
    for job in jobs:
        s3.put_object(NEW, layout.job_key(job.id), job.model_dump_json().encode())
        s3.put_object(NEW, layout.token_key(job.token), lookup_body(job.id))
        for key in layout.index_entries(job).present:
            s3.put_object(NEW, key, b"")
    document = JobsDocument(jobs=jobs).to_json_bytes()
    s3.put_object(OLD, config.JOBS_KEY, document)
    s3.put_object(PLAIN, config.JOBS_KEY, document)
    get_backend("logs")[DEFAULT_ACCOUNT_ID][stack.REGION].create_log_group(LOG_GROUP, {})
    save_state(state_file)
    sample = jobs[len(jobs) // 2]
    # Status changes are measured on jobs of the history (booked days ago), as a dispatcher makes
    # them: not on jobs created a moment before, which a change treats as busy (docs/jobs.md).
    booked = [job.id for job in jobs if job.status == "booked"][:CHANGES]
    sample_file.write_text(
        json.dumps(
            {"token": sample.token, "id": sample.id, "bytes": len(document), "booked": booked}
        )
    )


# --- the contenders -------------------------------------------------------------------------------


def old_add(s3: Any, index: int) -> None:
    """The store this replaced: every write reads, validates and rewrites the whole document."""
    from qdn.jobs.legacy_document import JobsDocument
    from qdn.jobs.model import Job, NewJob

    got = s3.get_object(Bucket=OLD, Key=config.JOBS_KEY)
    document = JobsDocument.from_json_bytes(got["Body"].read())
    new = NewJob(customer_name="Old", location="Elm Street", service_date=date.today(), price="9")
    job = Job.create(new, now=datetime.now(UTC), idempotency_key=f"old-{index}")
    s3.put_object(
        Bucket=OLD,
        Key=config.JOBS_KEY,
        Body=document.with_job(job).to_json_bytes(),
        IfMatch=got["ETag"],
    )


def plain_add(s3: Any, index: int) -> None:
    """The least any single-document store can do: loads, append, dumps, conditional PUT."""
    got = s3.get_object(Bucket=PLAIN, Key=config.JOBS_KEY)
    document = json.loads(got["Body"].read())
    document["jobs"].append({"id": f"PLAIN-{index}", "customer": {"name": "Plain"}})
    s3.put_object(
        Bucket=PLAIN, Key=config.JOBS_KEY, Body=json.dumps(document).encode(), IfMatch=got["ETag"]
    )


def _median_ms(action: Any, repeats: int) -> float:
    times = []
    for index in range(repeats):
        started = time.perf_counter()
        action(index)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def new_store_figures(
    cfg: stack.StackConfig, repeats: int, booked: list[str]
) -> tuple[float, float, int]:
    from qdn.jobs.store import JobStore

    s3, logs = stack.client(cfg, "s3"), stack.client(cfg, "logs")
    store = JobStore(s3, logs, bucket=NEW, log_group=LOG_GROUP)
    job = {
        "customer_name": "New",
        "location": "Elm Street",
        "service_date": date.today(),
        "status": "booked",
    }

    def add(index: int) -> None:
        store.create({**job, "price": "9"}, idempotency_key=f"n-{index}")

    add_ms = _median_ms(add, repeats)

    def change(index: int) -> None:
        store.update_status(booked[index], "scheduled", idempotency_key=f"c-{index}")

    counter = RequestCounter(s3, logs)
    change_ms = _median_ms(change, repeats)
    return add_ms, change_ms, counter.total // repeats


def parse_ms(cfg: stack.StackConfig) -> float:
    from qdn.jobs.legacy_document import JobsDocument

    body = stack.client(cfg, "s3").get_object(Bucket=OLD, Key=config.JOBS_KEY)["Body"].read()
    started = time.perf_counter()
    JobsDocument.from_json_bytes(body)
    return (time.perf_counter() - started) * 1000


# The process's own high-water mark (VmHWM): getrusage's ru_maxrss would include the peak of the
# benchmark process this one was forked from.
_PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

_COLD_NEW = (
    _PEAK
    + """
import json, sys, time
started = time.perf_counter()
import qdn_api.app
imported = time.perf_counter()
path = "/api/track/" + sys.argv[1]
event = {"version": "2.0", "rawPath": path, "headers": {},
         "requestContext": {"http": {"method": "GET", "path": path}}, "isBase64Encoded": False}
answer = qdn_api.app.handler(event)
done = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1000, "first_ms": (done - imported) * 1000,
                  "status": answer["statusCode"],
                  "peak_mb": peak_mb()}))
"""
)

_COLD_OLD = (
    _PEAK
    + """
import json, sys, time
started = time.perf_counter()
import boto3
from qdn.jobs.legacy_document import JobsDocument
imported = time.perf_counter()
s3 = boto3.client("s3")
body = s3.get_object(Bucket=sys.argv[2], Key="data/jobs.json")["Body"].read()
found = JobsDocument.from_json_bytes(body).find_by_token(sys.argv[1])
done = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1000, "first_ms": (done - imported) * 1000,
                  "status": 200 if found else 404,
                  "peak_mb": peak_mb()}))
"""
)


def cold_start(cfg: stack.StackConfig, script: str, token: str, bucket: str) -> dict[str, Any]:
    env = {
        **os.environ,
        **stack.aws_env(cfg),
        "PYTHONPATH": os.pathsep.join(PATHS),
        "QDN_BUCKET": bucket,
    }
    out = subprocess.run(
        [sys.executable, "-c", script, token, bucket],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def warm_requests(cfg: stack.StackConfig, token: str) -> int:
    """S3 requests of a warm lookup, through the track API's own reader."""
    from qdn.jobs.records import CACHE_SIZE, JobRecords
    from qdn_api.s3_reader import S3Reader

    reader = S3Reader(
        access_key=stack.FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        secret_key=stack.FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        session_token=None,
        region=stack.REGION,
        endpoint=cfg.moto_url,
    )
    records = JobRecords(reader, NEW, cache_size=CACHE_SIZE)
    assert records.find_by_token(token) is not None
    sent: list[str] = []
    reader.on_send(lambda operation, _: sent.append(operation))
    assert records.find_by_token(token) is not None
    return len(sent)


# --- concurrency ----------------------------------------------------------------------------------


def _together(count: int, work: Any) -> tuple[list[Any], list[BaseException], float]:
    barrier = threading.Barrier(count + 1)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as exc:  # counted, reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return results, errors, time.perf_counter() - started


def writers_round(cfg: stack.StackConfig, round_no: int) -> dict[str, Any]:
    from qdn.jobs.records import JobRecords
    from qdn.jobs.store import JobStore

    s3, logs = stack.client(cfg, "s3"), stack.client(cfg, "logs")
    # Each writer its own store, all on one client pair: boto3 clients are thread-safe.
    stores = [JobStore(s3, logs, bucket=NEW, log_group=LOG_GROUP) for _ in range(WRITERS)]
    keys = [f"round-{round_no}-writer-{i}" for i in range(WRITERS)]
    results, errors, seconds = _together(
        WRITERS,
        lambda i: stores[i].create(
            {"customer_name": f"Writer {i}", "location": "Elm Street",
             "service_date": date.today(), "price": "9"},
            idempotency_key=keys[i],
        ),
    )  # fmt: skip
    # Each writer's job read back by the id it was given (moto's listings walk the whole bucket,
    # so a listing of 100,000 records would cost minutes here; S3's would not).
    ids = [r.job.id for r in results if r is not None]
    stored = JobRecords(s3, NEW).get_many(ids)
    kept = [job for job in stored if job is not None and job.idempotency_key in keys]
    return {
        "kept": len({job.idempotency_key for job in kept}),
        "duplicated": len(ids) - len(set(ids)),
        "errors": len(errors),
        "max_attempts": max((r.attempts for r in results if r is not None), default=0),
        "seconds": seconds,
    }


def naive_round(cfg: stack.StackConfig) -> int:
    """Read-modify-write without a condition: every PUT answers 200 and most writes are lost."""
    s3 = stack.client(cfg, "s3")
    key = "data/naive.json"
    s3.put_object(Bucket=PLAIN, Key=key, Body=b'{"jobs": []}')

    def add(index: int) -> None:
        document = json.loads(s3.get_object(Bucket=PLAIN, Key=key)["Body"].read())
        document["jobs"].append(index)
        s3.put_object(Bucket=PLAIN, Key=key, Body=json.dumps(document).encode())

    _together(WRITERS, add)
    return len(json.loads(s3.get_object(Bucket=PLAIN, Key=key)["Body"].read())["jobs"])


def same_job_changes(cfg: stack.StackConfig) -> dict[str, Any]:
    from qdn.jobs.model import ALLOWED_TRANSITIONS
    from qdn.jobs.store import JobStore

    s3, logs = stack.client(cfg, "s3"), stack.client(cfg, "logs")
    store = JobStore(s3, logs, bucket=NEW, log_group=LOG_GROUP)
    job = store.create(
        {"customer_name": "Busy", "location": "Elm Street", "service_date": date.today(),
         "price": "9", "status": "booked"},
        idempotency_key="same-job",
    ).job  # fmt: skip
    targets = ["scheduled", "delivered", "ready_for_pickup", "picked_up"]
    results, errors, seconds = _together(
        WRITERS,
        lambda i: store.update_status(job.id, targets[i % 4], idempotency_key=f"same-{i}"),
    )
    final = store.get(job.id)
    legal = all(
        after.status in ALLOWED_TRANSITIONS[before.status]
        for before, after in zip(final.history, final.history[1:], strict=False)
    )
    succeeded = sum(r is not None for r in results)
    return {
        "recorded": len(final.history) - 1,
        "succeeded": succeeded,
        "refused": len(errors),
        "legal": legal,
        "lost": succeeded - (len(final.history) - 1),
        "reasons": sorted({type(e).__name__ for e in errors}),
        "seconds": seconds,
    }


# --- the run --------------------------------------------------------------------------------------


def measure(count: int, largest: bool) -> dict[str, Any]:
    state_dir = Path(tempfile.mkdtemp(prefix=f"qdn-bench-jobs-{count}-"))
    # Loading 500,000 objects from the state file takes moto minutes on a busy machine.
    cfg = stack.StackConfig.with_free_ports(state_dir, ready_timeout=600.0)
    sample_file = state_dir / "sample.json"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--seed", str(count), "--state", str(cfg.moto_state_file),
         "--sample", str(sample_file)],
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(PATHS)},
    )  # fmt: skip
    sample = json.loads(sample_file.read_text())
    print(f"  seeded {count} jobs in {time.perf_counter() - started:.0f} s", flush=True)
    stack.start(cfg, services=("moto",))
    try:
        s3 = stack.client(cfg, "s3")
        repeats = 3 if count >= 100_000 else 7
        row: dict[str, Any] = {"jobs": count, "doc_mb": sample["bytes"] / 1e6}
        row["old_add"] = _median_ms(lambda i: old_add(s3, i), repeats)
        row["plain_add"] = _median_ms(lambda i: plain_add(s3, i), repeats)
        row["parse"] = parse_ms(cfg)
        row["new_add"], row["new_change"], row["change_requests"] = new_store_figures(
            cfg, CHANGES, sample["booked"]
        )
        row["cold_new"] = cold_start(cfg, _COLD_NEW, sample["token"], NEW)
        row["cold_old"] = cold_start(cfg, _COLD_OLD, sample["token"], OLD)
        row["warm_requests"] = warm_requests(cfg, sample["token"])
        if largest:
            row["rounds"] = [writers_round(cfg, n) for n in range(ROUNDS)]
            row["naive_kept"] = [naive_round(cfg) for _ in range(ROUNDS)]
            row["same_job"] = same_job_changes(cfg)
        return row
    finally:
        stack.stop(state_dir)


def _ms(name: str) -> Any:
    return lambda row: f"{row[name]:.0f} ms"


def _cold(which: str) -> Any:
    return lambda row: f"{row[which]['import_ms']:.0f} / {row[which]['first_ms']:.0f} ms"


def _peak(which: str) -> Any:
    return lambda row: f"{row[which]['peak_mb']:.0f} MB"


TABLE = (
    ("add one job, old store (document read-modify-write)", _ms("old_add")),
    ("add one job, plain json read-modify-write", _ms("plain_add")),
    ("add one job, new store (record, lookup, index, audit)", _ms("new_add")),
    ("change one job's status, new store", _ms("new_change")),
    ("parse + validate + index the whole document", _ms("parse")),
    ("track cold start, old: imports / first lookup", _cold("cold_old")),
    ("track cold start, old: peak memory", _peak("cold_old")),
    ("track cold start, new: imports / first lookup", _cold("cold_new")),
    ("track cold start, new: peak memory", _peak("cold_new")),
    ("track warm lookup, new: S3 requests", lambda row: str(row["warm_requests"])),
)


def report(rows: list[dict[str, Any]]) -> list[str]:
    def line(label: str, values: list[str]) -> None:
        print(f"| {label:<56} | " + " | ".join(f"{v:>15}" for v in values) + " |")

    print()
    line("", [f"{r['jobs']:,} jobs" for r in rows])
    print("|" + "-" * 58 + "|" + "|".join("-" * 17 for _ in rows) + "|")
    for label, show in TABLE:
        line(label, [show(r) for r in rows])
    print()

    misses = []
    first, last = rows[0], rows[-1]
    for row in rows:
        for name in ("new_add", "new_change"):
            if row[name] > WRITE_MEDIAN_MS:
                misses.append(f"{name} {row[name]:.0f} ms > {WRITE_MEDIAN_MS} ms at {row['jobs']}")
        if row["warm_requests"] > 1:
            misses.append(f"warm lookup {row['warm_requests']} requests at {row['jobs']}")
        if row["cold_new"]["status"] != 200 or row["cold_old"]["status"] != 200:
            misses.append(f"a cold lookup did not find the sample job at {row['jobs']}")
    ratio = last["new_add"] / first["new_add"]
    print(
        f"new store add, {last['jobs']:,} vs {first['jobs']:,} jobs: {ratio:.2f}x "
        f"(target <= {SIZE_RATIO}x)"
    )
    if ratio > SIZE_RATIO:
        misses.append(f"add at {last['jobs']} is {ratio:.2f}x the add at {first['jobs']}")
    old_ratio = last["old_add"] / last["new_add"]
    print(f"old store / new store, add one job at {last['jobs']:,} jobs: {old_ratio:.0f}x")
    cold = last["cold_new"]
    for label, value, limit in (
        ("imports", cold["import_ms"], IMPORT_MS),
        ("first lookup", cold["first_ms"], FIRST_LOOKUP_MS),
        ("peak memory", cold["peak_mb"], PEAK_MB),
    ):
        if value > limit:
            misses.append(f"track {label} {value:.0f} > {limit} at {last['jobs']}")
    if "rounds" in last:
        print(
            f"\n{WRITERS} concurrent writers of new jobs, {ROUNDS} rounds, "
            f"at {last['jobs']:,} jobs:"
        )
        for n, r in enumerate(last["rounds"]):
            print(
                f"  round {n}: kept {r['kept']}/{WRITERS}, duplicated {r['duplicated']}, "
                f"errors {r['errors']}, max attempts {r['max_attempts']}, {r['seconds']:.2f} s"
            )
            if r["kept"] != WRITERS or r["duplicated"] or r["errors"]:
                misses.append(f"writers round {n}: kept {r['kept']}, duplicated {r['duplicated']}")
            if r["max_attempts"] > 2:
                misses.append(f"writers round {n}: a writer needed {r['max_attempts']} attempts")
            if r["seconds"] > ROUND_SECONDS:
                misses.append(f"writers round {n} took {r['seconds']:.2f} s > {ROUND_SECONDS} s")
        print(
            "  naive read-modify-write (no condition, every PUT answers 200): kept "
            f"{last['naive_kept']} of {WRITERS}"
        )
        same = last["same_job"]
        print(
            f"\n{WRITERS} concurrent status changes of one job: {same['succeeded']} recorded, "
            f"{same['refused']} refused ({', '.join(same['reasons']) or 'none'}), "
            f"{same['lost']} lost, history a legal sequence: {same['legal']}, "
            f"{same['seconds']:.2f} s"
        )
        if same["lost"] or not same["legal"]:
            misses.append("a status change of the busy job was lost or the history is illegal")
    print()  # fmt: skip
    return misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--sample", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.update(stack.FAKE_CREDENTIALS, AWS_DEFAULT_REGION=stack.REGION)
    if args.seed:
        seed(args.state, args.seed, args.sample)
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for count in sizes:
        print(f"measuring at {count:,} jobs", flush=True)
        rows.append(measure(count, count == sizes[-1]))
        row = rows[-1]
        print("  " + ", ".join(f"{label}: {show(row)}" for label, show in TABLE), flush=True)
    misses = report(rows)
    for miss in misses:
        print(f"MISSED: {miss}")
    print("every target met" if not misses else f"{len(misses)} target(s) missed")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())

"""Three ways to release a static site, side by side on ONE local stack in one run.

The design under test: every build is an immutable folder ``builds/<build-id>/`` staged by
``qdn.staging.stage`` (it uploads what changed and copies the rest server-side from the previous
build); the function on both distributions reads the live build id from the KeyValueStore key
``live`` and rewrites every viewer path into that folder; a release is one PutKey
(``qdn.switch``) and invalidates nothing, because each build has its own cache keys. Its peers:

* **sync**: ``aws s3 sync --delete`` of the built site folder into one prefix a distribution
  serves, then ``aws cloudfront create-invalidation --paths "/*"`` on both distributions;
* **etag** (s3deploy's approach): list the prefix once, compare each local file's MD5 with the
  listed ETag, upload the differing files with boto3 (8 threads, as staging uses), invalidate the
  changed paths on both distributions.

Every contender's clock runs until every edge of its two distributions serves the new shell (the
``qdn-build-id`` meta of ``/``). Cases, each measured ``BENCH_RUNS`` times (default 5) after one
warm-up round that is not counted, the contenders' order rotating round by round:

1. 20 files changed in a 2,000-object, ~41.6 MB site (600 pages referencing shared CSS, JS and
   images; generated deterministically in a temp dir);
2. the no-op release with the built folder as the last deploy left it, and again with every file
   rewritten with the same bytes (a rebuild: ``aws s3 sync`` compares sizes and file times);
3. the release alone (switch until every edge serves) for a 5-object and the 2,000-object site.

Fairness, stated once here and again in the output:

* The peers' clocks start with the built folder already on disk: the same bytes staging produces
  (``qdn.staging.build_site`` with the previous build's manifest, the very call ``stage`` makes).
  Ours includes that build (read, rewrite, hash). That favours the peers by our local part.
* The built folder is rewritten before each change, as a rebuilt site's files are, so ``aws s3
  sync`` re-uploads every file (its time is newer than the object's). Its file times are set
  ``BUILT_BEFORE_DEPLOY`` seconds back: S3 listings give LastModified to the second, so a file
  written in the second of its own upload would look newer and be uploaded again by the next
  no-op sync; the backdating spares sync that artefact.
* sync invalidates ``/*``: its output cannot say which files changed content (it re-uploads every
  rebuilt file), and ``/*`` is one path on AWS's bill. It invalidates only when sync reported an
  upload or a delete (the usual one-liner invalidates every time), its two CLI calls concurrently.
* The edges are warmed before every timed run (the previous shell cached at each edge), as in
  production; on cold edges the peers would need no invalidation at all.
* The stack keeps its default invalidation delay (5 s; AWS takes minutes) and key value store
  propagation delay (2 s; AWS takes seconds).
* Requests: ours and etag's are counted with botocore's ``before-send`` hook (one per HTTP
  request, retries included); the AWS CLI's from moto's request log over the sync subprocess's
  lifetime (the log and the hook agree on ours, which the output shows). The edges' reads of
  their S3 origin are CloudFront's, counted for nobody.
* Each contender has a bucket of its own, none versioned: moto keeps every version of every
  object in memory (re-staging a 41.6 MB site five times on a versioned bucket grew it to 17 GB).
  Old builds are deleted after each round, except the first (the unchanged assets' pinned URLs
  name it) and the live one; the peers overwrite their one prefix.

Run: ``.venv/bin/python bench/bench_release_paths.py`` (``make bench`` runs it too);
``BENCH_RUNS=1`` for a quick try. It exits 1 when a target is missed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "plugins"), str(REPO_ROOT / "site" / "api")]

from localaws import stack  # noqa: E402
from localaws.request_counter import RequestCounter  # noqa: E402
from qdn import config, headers, staging  # noqa: E402
from qdn.distribution_spec import CACHING_OPTIMIZED, distribution_config  # noqa: E402
from qdn.function_release import render  # noqa: E402
from qdn.plan import ApplyExecutor, execute  # noqa: E402
from qdn.smoke import BUILD_ID_RE, Response, http_get  # noqa: E402
from qdn.switch import Switcher, plan_switch  # noqa: E402

# --- the site ---------------------------------------------------------------------------------

# The site: 2,000 objects, 41.6 MB. A few hundred pages, the shared CSS and JS they load,
# and images (incompressible bytes, as JPEGs are) make up the bulk, as on a real marketing site.
SITE_OBJECTS = 2000
SITE_BYTES_TARGET = 41.6e6
# site/public's five files: the real shell (with the build id placeholder), its CSS, JS, icon and
# robots.txt; every other object is generated.
SHELL_FILES = ("index.html", "robots.txt", "assets/app.css", "assets/app.js", "assets/favicon.svg")
PAGES = 600
CSS_FILES = 30
JS_FILES = 30
IMAGES = SITE_OBJECTS - len(SHELL_FILES) - PAGES - CSS_FILES - JS_FILES  # 1,335
# Mean and spread of an image's size: together with ~11 KB pages and ~40 KB stylesheets and
# scripts they make the site ~41.6 MB.
IMAGE_BYTES = 24_450
IMAGE_SPREAD = 8_000
# What a page loads: a few stylesheets, scripts and images from the shared sets.
PAGE_CSS, PAGE_JS, PAGE_IMAGES = 3, 2, 4
# Words per page: ~11 KB of text, a long article.
PAGE_WORDS = 1300
CSS_RULES = 1200  # ~40 KB a stylesheet
JS_FUNCTIONS = 900  # ~36 KB a script
WORDS = (
    "dumpster", "roll-off", "yard", "driveway", "permit", "tonnage", "delivery", "pickup",
    "concrete", "shingles", "drywall", "debris", "renovation", "cleanout", "landfill", "haul",
    "recycling", "weight", "container", "swap", "schedule", "estimate", "invoice", "crew",
)  # fmt: skip
# The issue's change: 20 files between two versions (here, 20 pages' text).
CHANGED_FILES = 20

# --- the run ----------------------------------------------------------------------------------

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
# One round first, not counted: the first requests of a process (imports, connection pools, the
# edges' engine start-up) are a cost a deploy machine pays once, not per release.
WARMUP_ROUNDS = 1
# How often the edges are asked for the shell while a release propagates: a fortieth of the 2 s
# propagation delay, so polling adds at most 50 ms to any figure; each edge answers in a few ms.
POLL_SECONDS = 0.05
# A release no edge shows within this is broken, not slow: 12x the stack's invalidation delay.
EDGE_DEADLINE = 60.0
# How long before its deploy a built file was written: over the 1 s resolution of S3 listings'
# LastModified (see the module docstring).
BUILT_BEFORE_DEPLOY = 2.0
# etag uploads in parallel, bounded as ours is (botocore's pool of 10 connections per client).
WORKERS = staging.WORKERS
# DeleteObjects takes at most 1,000 keys a request.
DELETE_BATCH = 1000
# The AWS CLI installed beside this Python (the project's virtualenv).
AWS_CLI = Path(sys.executable).parent / "aws"

# --- targets (the issue's) ----------------------------------------------------------------------

NOOP_SPEEDUP_TARGET = 1.3  # (a) our no-op at least 1.3x faster than aws s3 sync's
LOCAL_WORK_TARGET = 3.0  # (d) staging's local work for 2,000 files under 3 s
# (c) "about equal": within a quarter either way, a bound set before the first measurement. The
# output splits each release into its plan (which verifies the build with one listing, a page
# per 1,000 files) and the pointer write until every edge serves.
RELEASE_SIZE_TOLERANCE = 1.25

OURS, SYNC, ETAG = "ours", "aws s3 sync", "etag compare"
# The release's two parts: planning reads and verifies the build (one listing of its folder,
# a page per 1,000 files); then one PutKey, and the edges follow after the propagation delay.
PLAN_PART = "plan (verifies the build)"
WRITE_PART = "pointer write until every edge"
SMALL, BIG = "5-object site", "2,000-object site"
CONTENDERS = (OURS, SYNC, ETAG)
BUCKET_PREFIX = "qdn-bench"
SYNC_PREFIX = "sync-site/"
ETAG_PREFIX = "etag-site/"
ALIASES = {
    OURS: config.DISTRIBUTION_ALIASES,
    SYNC: ("sync-1.bench.quickdumpnow.com", "sync-2.bench.quickdumpnow.com"),
    ETAG: ("etag-1.bench.quickdumpnow.com", "etag-2.bench.quickdumpnow.com"),
}
SMALL_ALIASES = ("small-1.bench.quickdumpnow.com", "small-2.bench.quickdumpnow.com")
SMALL_FUNCTION = "qdn-bench-small-rewrite"
SMALL_KVS = "qdn-bench-small"
MOTO_NOTE = (
    "moto charges a server-side copy about as much as an upload; on S3 a copy moves no bytes "
    "through the client"
)


class BenchError(RuntimeError):
    """Something a benchmark run relies on did not hold; the message says what was seen."""


# --- generating the site ----------------------------------------------------------------------


def _page(i: int, revision: int) -> str:
    """Page ``i``; the first ``CHANGED_FILES`` pages carry the revision, the rest never change."""
    rng = random.Random(f"page-{i}")  # a string seed is the same in every process
    css = "".join(
        f'<link rel="stylesheet" href="/assets/css/site-{(i + k) % CSS_FILES:02d}.css">'
        for k in range(PAGE_CSS)
    )
    js = "".join(
        f'<script src="/assets/js/mod-{(i * 7 + k) % JS_FILES:02d}.js" defer></script>'
        for k in range(PAGE_JS)
    )
    images = "".join(
        f'<img src="/assets/img/photo-{(i * 5 + k) % IMAGES:04d}.jpg" alt="" loading="lazy">'
        for k in range(PAGE_IMAGES)
    )
    text = " ".join(rng.choice(WORDS) for _ in range(PAGE_WORDS))
    note = f"<p class='updated'>Revision {revision}</p>" if i < CHANGED_FILES else ""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Guide {i}</title>"
        f"{css}{js}</head><body><main><h1>Guide {i}</h1>{images}{note}<p>{text}</p></main>"
        '<footer><a href="/">QuickDumpNow</a></footer></body></html>\n'
    )


def generate_site(root: Path) -> Path:
    """The 2,000-object site at revision 0, byte for byte the same on every run."""
    for name in SHELL_FILES:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO_ROOT / "site" / "public" / name).read_bytes())
    for folder in ("assets/css", "assets/js", "assets/img", "pages"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(CSS_FILES):
        rng = random.Random(f"css-{i}")
        rules = (
            f".c{i}-{k}{{margin:{k % 9}px;color:#{rng.getrandbits(24):06x}}}\n"
            for k in range(CSS_RULES)
        )
        (root / f"assets/css/site-{i:02d}.css").write_text("".join(rules))
    for i in range(JS_FILES):
        rng = random.Random(f"js-{i}")
        funcs = (
            f"function f{i}_{k}(a){{return a*{k}+{rng.getrandbits(16)};}}\n"
            for k in range(JS_FUNCTIONS)
        )
        (root / f"assets/js/mod-{i:02d}.js").write_text("".join(funcs))
    for i in range(IMAGES):
        rng = random.Random(f"img-{i}")
        size = IMAGE_BYTES + rng.randrange(-IMAGE_SPREAD, IMAGE_SPREAD)
        (root / f"assets/img/photo-{i:04d}.jpg").write_bytes(rng.randbytes(size))
    revise_site(root, 0, range(PAGES))
    return root


def revise_site(root: Path, revision: int, pages: Iterable[int] = range(CHANGED_FILES)) -> None:
    """Write the pages at ``revision``: a change of exactly ``CHANGED_FILES`` files."""
    for i in pages:
        (root / f"pages/p{i:04d}.html").write_text(_page(i, revision))


def small_site(root: Path, revision: int) -> Path:
    """site/public itself (5 objects), robots.txt carrying the revision so each is a new build."""
    for name in SHELL_FILES:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((REPO_ROOT / "site" / "public" / name).read_bytes())
    (root / "robots.txt").write_text(f"User-agent: *\n# revision {revision}\n")
    return root


def rewrite_in_place(root: Path) -> None:
    """Every file written again with the same bytes: a rebuild that changed nothing."""
    for path in root.rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes())


def write_build(folder: Path, files: Mapping[str, bytes]) -> None:
    """The built site on disk, as a build step leaves it, each file dated as built just now."""
    shutil.rmtree(folder, ignore_errors=True)
    built_at = time.time() - BUILT_BEFORE_DEPLOY
    for path, body in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        os.utime(target, (built_at, built_at))


def redate(folder: Path) -> None:
    """The built folder rewritten with the same bytes (a rebuild), dated as ``write_build`` does."""
    rewrite_in_place(folder)
    built_at = time.time() - BUILT_BEFORE_DEPLOY
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (built_at, built_at))


def folder_bytes(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


# --- measuring --------------------------------------------------------------------------------


class MotoLog:
    """S3 requests as moto's server logged them (one werkzeug line each): how the AWS CLI, a
    separate process our hooks cannot reach, is counted."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size

    def since(self, mark: int) -> Counter[str]:
        with self.path.open("rb") as fh:
            fh.seek(mark)
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
        counts: Counter[str] = Counter()
        for line in lines:
            start = line.find('"')
            parts = line[start + 1 :].split(" ") if start != -1 else []
            if len(parts) < 3 or not parts[2].startswith("HTTP/"):
                continue
            counts[s3_operation(parts[0], parts[1])] += 1
        return counts


def s3_operation(method: str, target: str) -> str:
    """The S3 operation a logged request line was (a PUT of a key is named PutObject: the log
    cannot tell a CopyObject from it, and only the CLI's requests are counted this way)."""
    path, _, query = target.partition("?")
    is_key = path.strip("/").count("/") >= 1
    if method == "GET" and "list-type=2" in query:
        return "ListObjectsV2"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if is_key and "uploadId" in query:
        return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload"}.get(method, method)
    if is_key and "uploads" in query:
        return "CreateMultipartUpload"
    if is_key:
        return {
            "GET": "GetObject",
            "HEAD": "HeadObject",
            "PUT": "PutObject",
            "DELETE": "DeleteObject",
        }.get(method, f"{method} object")
    return f"{method} bucket{'?' + query.split('=')[0] if query else ''}"


@dataclass
class Sample:
    """One timed run of one contender."""

    seconds: float
    parts: dict[str, float] = field(default_factory=dict)
    s3: Counter[str] = field(default_factory=Counter)
    other: Counter[str] = field(default_factory=Counter)  # CloudFront and key value store
    uploaded: int = 0
    copied: int = 0
    invalidated: str = "0"  # a path count, or "/*"
    part_s3: dict[str, Counter[str]] = field(default_factory=dict)  # by part, where counted
    detail: dict[str, float] = field(default_factory=dict)  # the release's own parts (ours)


def shell_build(resp: Response) -> str | None:
    found = BUILD_ID_RE.search(resp.body.decode("utf-8", errors="replace"))
    return found.group(1) if found else None


def warm(urls: Sequence[str], build_id: str) -> None:
    """Every edge has the current shell cached (a Hit), as a site's edges have in production."""
    for url in urls:
        for _ in range(3):  # the first may be a Miss that stores it; the second is a Hit
            resp = http_get(url + "/")
            if shell_build(resp) != build_id:
                raise BenchError(
                    f"{url}/ serves build {shell_build(resp)} (HTTP {resp.status}) before the "
                    f"run; expected {build_id}"
                )
            if resp.headers.get("x-cache", "").startswith("Hit"):
                break
        else:
            raise BenchError(f"{url}/ is never cached ({resp.headers.get('x-cache')})")


def wait_edges(urls: Sequence[str], build_id: str, *, invalidated: bool) -> None:
    """Until every edge serves ``build_id``'s shell; after an invalidation, fetched afresh (a Miss
    from the origin: the same build id cached before the invalidation does not count)."""
    deadline = time.monotonic() + EDGE_DEADLINE
    pending = list(urls)
    seen: dict[str, str] = {}
    while pending:
        for url in list(pending):
            resp = http_get(url + "/")
            cache = resp.headers.get("x-cache", "")
            seen[url] = f"HTTP {resp.status}, build {shell_build(resp)}, {cache}"
            fresh = not invalidated or cache.startswith("Miss")
            if resp.status == 200 and shell_build(resp) == build_id and fresh:
                pending.remove(url)
        if not pending:
            return
        if time.monotonic() > deadline:
            raise BenchError(
                f"after {EDGE_DEADLINE:.0f} s these edges still do not serve {build_id}: "
                + "; ".join(f"{u}: {seen[u]}" for u in pending)
            )
        time.sleep(POLL_SECONDS)


def rss_mb(pid: int) -> float | None:
    """A process's resident memory from /proc (None where there is no /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --- the place: buckets, stores, functions, distributions -------------------------------------


@dataclass
class Place:
    """Everything the contenders release into, on one stack: a bucket each (none versioned), so
    no contender lists or shares a lock with another's objects."""

    cfg: stack.StackConfig
    bucket: str  # ours
    sync_bucket: str
    etag_bucket: str
    small_bucket: str
    kvs_arn: str = ""
    small_kvs_arn: str = ""

    def urls(self, contender: str) -> list[str]:
        return [self.cfg.edge_url(a) for a in ALIASES[contender]]

    @property
    def small_urls(self) -> list[str]:
        return [self.cfg.edge_url(a) for a in SMALL_ALIASES]


def make_config(state_dir: Path) -> stack.StackConfig:
    """A stack on free ports; every bench distribution gets its own alias and edge port."""
    cfg = stack.StackConfig.with_free_ports(state_dir)
    extra = [*ALIASES[SYNC], *ALIASES[ETAG], *SMALL_ALIASES]
    cfg.edge_ports.update(zip(extra, stack.free_ports(len(extra)), strict=True))
    return cfg


def switch(
    s3: Any, kvs: Any, bucket: str, arn: str, build_id: str, run_id: str
) -> tuple[bool, float]:
    """What the DAG's promote step does: plan the switch (which verifies the build against its
    manifest with one listing), apply it. Whether it wrote the pointer, and when planning ended."""
    plan, facts = plan_switch(s3, kvs, bucket, kvs_arn=arn, run_id=run_id, build_id=build_id)
    planned = time.monotonic()
    execute(plan, ApplyExecutor(Switcher(s3, kvs, bucket, facts).handlers()))
    return facts.switched, planned


def create_function(cf: Any, name: str, kvs_arn: str, fallback: str) -> str:
    """The site's own function (cf/qdn-track-rewrite.js) reading ``kvs_arn``, published."""
    source = (REPO_ROOT / "cf" / f"{config.FUNCTION_NAME}.js").read_bytes()
    created = cf.create_function(
        Name=name,
        FunctionConfig={
            "Comment": "bench: serves the live build",
            "Runtime": config.FUNCTION_RUNTIME,
            "KeyValueStoreAssociations": {"Quantity": 1, "Items": [{"KeyValueStoreARN": kvs_arn}]},
        },
        FunctionCode=render(source, fallback),
    )
    cf.publish_function(Name=name, IfMatch=created["ETag"])
    return created["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]


def one_prefix_distribution(alias: str, bucket: str, prefix: str) -> dict[str, Any]:
    """A distribution serving one prefix as it is: no function, the shell as the root object."""
    return {
        "CallerReference": f"bench-{alias}",
        "Aliases": {"Quantity": 1, "Items": [alias]},
        "DefaultRootObject": "index.html",
        "Comment": f"bench {alias}",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "site",
                    "DomainName": f"{bucket}.s3.{stack.REGION}.amazonaws.com",
                    "OriginPath": "/" + prefix.rstrip("/"),
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED,
            "Compress": True,
        },
    }


def check_edges(cfg: stack.StackConfig, cf_ids: Mapping[str, str]) -> None:
    """Each distribution's edge listens where the config says (its alias's port)."""
    described = {e["id"]: e["url"] for e in _get_json(f"{cfg.cloudfront_url}/_localaws/edges")}
    for alias, dist_id in cf_ids.items():
        if described.get(dist_id) != cfg.edge_url(alias):
            raise BenchError(
                f"the edge of {alias} ({dist_id}) is at {described.get(dist_id)}, "
                f"not {cfg.edge_url(alias)}"
            )


def _get_json(url: str) -> Any:
    resp = http_get(url)
    if resp.status != 200:
        raise BenchError(f"{url} answered HTTP {resp.status}")
    return json.loads(resp.body)


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    keys = list(staging.list_prefix(s3, bucket, prefix))
    for start in range(0, len(keys), DELETE_BATCH):
        batch = [{"Key": prefix + k} for k in keys[start : start + DELETE_BATCH]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return len(keys)


# --- the contenders ---------------------------------------------------------------------------


class Ours:
    """stage + switch, the calls the DAG's steps make; then the edges."""

    def __init__(self, place: Place, moto_log: MotoLog) -> None:
        self.place = place
        self.moto_log = moto_log
        self.s3 = stack.client(place.cfg, "s3")
        self.kvs = stack.client(place.cfg, stack.KVS_SERVICE)
        self.s3_counter = RequestCounter(self.s3)
        self.kvs_counter = RequestCounter(self.kvs)
        # (requests the hook counted, requests moto logged) while staging: if they differ, the
        # CLI's count taken from the log is in doubt.
        self.cross_check: list[tuple[int, int]] = []

    def release(self, source: Path, run_id: str, expect: str) -> Sample:
        self.s3_counter.take()
        self.kvs_counter.take()
        mark = self.moto_log.mark()
        began = time.monotonic()
        result = staging.stage(self.s3, source, self.place.bucket)
        staged = time.monotonic()
        stage_s3 = self.s3_counter.take()
        self.cross_check.append((sum(stage_s3.values()), sum(self.moto_log.since(mark).values())))
        if result.build_id != expect:
            raise BenchError(f"staging made {result.build_id}, the local build is {expect}")
        switched, planned = switch(
            self.s3, self.kvs, self.place.bucket, self.place.kvs_arn, result.build_id, run_id
        )
        wait_edges(self.place.urls(OURS), result.build_id, invalidated=False)
        done = time.monotonic()
        if switched == result.complete_before:
            raise BenchError(
                f"{run_id}: staging {'found' if result.complete_before else 'wrote'} the build "
                f"but the switch {'wrote' if switched else 'did not write'} the pointer"
            )
        switch_s3 = self.s3_counter.take()
        return Sample(
            seconds=done - began,
            parts={"staging": staged - began, "release": done - staged},
            s3=stage_s3 + switch_s3,
            other=self.kvs_counter.take(),
            uploaded=len(result.uploaded),
            copied=len(result.copied),
            part_s3={"staging": stage_s3, "release": switch_s3},
            detail={PLAN_PART: planned - staged, WRITE_PART: done - planned},
        )


class Sync:
    """``aws s3 sync --delete`` into one prefix, ``create-invalidation --paths "/*"``, the edges."""

    def __init__(self, place: Place, env: Mapping[str, str], moto_log: MotoLog) -> None:
        self.place = place
        self.env = dict(env)
        self.moto_log = moto_log
        self.dist_ids: list[str] = []

    def release(self, folder: Path, expect: str, *, invalidate: bool = True) -> Sample:
        """``invalidate=False`` only for the first deploy, when the edges have nothing cached."""
        mark = self.moto_log.mark()
        began = time.monotonic()
        target = f"s3://{self.place.sync_bucket}/{SYNC_PREFIX}"
        done = subprocess.run(
            [str(AWS_CLI), "s3", "sync", str(folder), target, "--delete", "--no-progress",
             "--endpoint-url", self.place.cfg.moto_url],
            env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        synced = time.monotonic()
        if done.returncode != 0:
            raise BenchError(f"aws s3 sync failed ({done.returncode}): {done.stderr}")
        counts = self.moto_log.since(mark)  # only the CLI talks to moto until the edges do
        lines = done.stdout.splitlines()
        uploaded = sum(1 for line in lines if line.startswith("upload:"))
        changed = uploaded + sum(1 for line in lines if line.startswith("delete:"))
        changed = changed if invalidate else 0
        if changed:
            self.invalidate_all()
        wait_edges(self.place.urls(SYNC), expect, invalidated=bool(changed))
        finished = time.monotonic()
        return Sample(
            seconds=finished - began,
            parts={"sync": synced - began, "invalidation + edges": finished - synced},
            s3=counts,
            other=Counter({"CreateInvalidation": len(self.dist_ids)} if changed else {}),
            uploaded=uploaded,
            invalidated="/*" if changed else "0",
            part_s3={"sync": counts, "invalidation + edges": Counter()},
        )

    def invalidate_all(self) -> None:
        """Both distributions at once (one after the other, a script would wait longer)."""
        procs = [
            subprocess.Popen(
                [
                    str(AWS_CLI),
                    "cloudfront",
                    "create-invalidation",
                    "--distribution-id",
                    dist_id,
                    "--paths",
                    "/*",
                    "--endpoint-url",
                    self.place.cfg.cloudfront_url,
                ],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for dist_id in self.dist_ids
        ]
        for proc in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise BenchError(f"aws cloudfront create-invalidation failed: {err}")


class EtagCompare:
    """One listing, each file's MD5 against its ETag, upload the difference, invalidate the
    changed paths, the edges."""

    def __init__(self, place: Place) -> None:
        self.place = place
        self.s3 = stack.client(place.cfg, "s3")
        self.cf = stack.client(place.cfg, "cloudfront")
        self.s3_counter = RequestCounter(self.s3)
        self.cf_counter = RequestCounter(self.cf)
        self.dist_ids: list[str] = []

    def release(self, folder: Path, expect: str, *, invalidate: bool = True) -> Sample:
        """``invalidate=False`` only for the first deploy, when the edges have nothing cached."""
        self.s3_counter.take()
        self.cf_counter.take()
        began = time.monotonic()
        bucket = self.place.etag_bucket
        listed = staging.list_prefix(self.s3, bucket, ETAG_PREFIX)
        local = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
        changed: list[tuple[str, bytes]] = []
        for path, file in sorted(local.items()):
            body = file.read_bytes()
            obj = listed.get(path)
            if (
                obj is None
                or staging.listing_etag(obj) != hashlib.md5(body, usedforsecurity=False).hexdigest()
            ):
                changed.append((path, body))
        stale = sorted(set(listed) - set(local))

        def upload(item: tuple[str, bytes]) -> None:
            path, body = item
            self.s3.put_object(
                Bucket=bucket,
                Key=ETAG_PREFIX + path,
                Body=body,
                ContentType=headers.content_type_for(path),
                CacheControl=headers.cache_control_for(path),
            )

        staging.parallel(upload, changed, WORKERS)
        for start in range(0, len(stale), DELETE_BATCH):
            batch = [{"Key": ETAG_PREFIX + k} for k in stale[start : start + DELETE_BATCH]]
            self.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        uploaded = time.monotonic()
        upload_s3 = self.s3_counter.take()
        paths = viewer_paths([p for p, _ in changed] + stale) if invalidate else []
        if paths:
            reference = f"bench-{uuid.uuid4().hex}"
            for dist_id in self.dist_ids:
                self.cf.create_invalidation(
                    DistributionId=dist_id,
                    InvalidationBatch={
                        "Paths": {"Quantity": len(paths), "Items": paths},
                        "CallerReference": reference,
                    },
                )
        wait_edges(self.place.urls(ETAG), expect, invalidated=bool(paths))
        done = time.monotonic()
        return Sample(
            seconds=done - began,
            parts={"compare + upload": uploaded - began, "invalidation + edges": done - uploaded},
            s3=upload_s3,
            other=self.cf_counter.take(),
            uploaded=len(changed),
            invalidated=str(len(paths)),
            part_s3={"compare + upload": upload_s3, "invalidation + edges": Counter()},
        )


def viewer_paths(paths: Iterable[str]) -> list[str]:
    """The URLs viewers fetch the changed files by; a folder's index.html by the folder too
    (CloudFront invalidates a path as it was requested, and the shell is requested as ``/``)."""
    out: set[str] = set()
    for path in paths:
        out.add("/" + path)
        if path == "index.html" or path.endswith("/index.html"):
            out.add("/" + path[: -len("index.html")])
    return sorted(out)


class SmallSite:
    """The 5-object site on distributions of its own: the release alone, measured as ours'
    release part is (plan, switch, edges)."""

    def __init__(self, place: Place, root: Path) -> None:
        self.place = place
        self.root = root
        self.s3 = stack.client(place.cfg, "s3")
        self.kvs = stack.client(place.cfg, stack.KVS_SERVICE)
        self.s3_counter = RequestCounter(self.s3)
        self.kvs_counter = RequestCounter(self.kvs)
        self.live = ""

    def stage(self, revision: int) -> str:
        """A new build of the small site, staged (not timed: only its release is compared)."""
        return staging.stage(
            self.s3, small_site(self.root, revision), self.place.small_bucket
        ).build_id

    def release(self, build_id: str, run_id: str) -> Sample:
        warm(self.place.small_urls, self.live)
        self.s3_counter.take()
        self.kvs_counter.take()
        began = time.monotonic()
        _, planned = switch(
            self.s3, self.kvs, self.place.small_bucket, self.place.small_kvs_arn, build_id, run_id
        )
        wait_edges(self.place.small_urls, build_id, invalidated=False)
        done = time.monotonic()
        self.live = build_id
        return Sample(
            seconds=done - began,
            s3=self.s3_counter.take(),
            other=self.kvs_counter.take(),
            parts={PLAN_PART: planned - began, WRITE_PART: done - planned},
        )


# --- set-up -----------------------------------------------------------------------------------


def set_up(place: Place, source: Path, built: Path, contenders: Contenders) -> str:
    """Buckets, stores, functions and distributions, with revision 0 live everywhere; returns
    its build id."""
    cfg = place.cfg
    s3 = stack.client(cfg, "s3")
    cf = stack.client(cfg, "cloudfront")
    kvs = stack.client(cfg, stack.KVS_SERVICE)
    for bucket in (place.bucket, place.sync_bucket, place.etag_bucket, place.small_bucket):
        s3.create_bucket(Bucket=bucket)  # no versioning: see the module docstring
    first = staging.stage(s3, source, place.bucket).build_id
    small = contenders.small
    small.live = small.stage(0)
    place.kvs_arn = cf.create_key_value_store(Name=config.KVS_NAME)["KeyValueStore"]["ARN"]
    place.small_kvs_arn = cf.create_key_value_store(Name=SMALL_KVS)["KeyValueStore"]["ARN"]
    switch(s3, kvs, place.bucket, place.kvs_arn, first, "bench-setup")
    switch(s3, kvs, place.small_bucket, place.small_kvs_arn, small.live, "bench-setup")
    functions = {
        place.bucket: create_function(cf, config.FUNCTION_NAME, place.kvs_arn, first),
        place.small_bucket: create_function(cf, SMALL_FUNCTION, place.small_kvs_arn, small.live),
    }

    ids: dict[str, str] = {}
    for aliases, bucket in ((ALIASES[OURS], place.bucket), (SMALL_ALIASES, place.small_bucket)):
        for alias in aliases:
            dist = distribution_config(alias, functions[bucket], bucket, stack.REGION)
            ids[alias] = cf.create_distribution(DistributionConfig=dist)["Distribution"]["Id"]
    for name, peer, bucket, prefix in (
        (SYNC, contenders.sync, place.sync_bucket, SYNC_PREFIX),
        (ETAG, contenders.etag, place.etag_bucket, ETAG_PREFIX),
    ):
        for alias in ALIASES[name]:
            dist = one_prefix_distribution(alias, bucket, prefix)
            ids[alias] = cf.create_distribution(DistributionConfig=dist)["Distribution"]["Id"]
            peer.dist_ids.append(ids[alias])
    check_edges(cfg, ids)

    write_build(built, staging.build_site(source).files)
    # The peers' first deploys: their edges have served nothing yet, so nothing to invalidate.
    contenders.sync.release(built, first, invalidate=False)
    contenders.etag.release(built, first, invalidate=False)
    for who in CONTENDERS:
        wait_edges(place.urls(who), first, invalidated=False)
    wait_edges(place.small_urls, small.live, invalidated=False)
    return first


@dataclass
class Contenders:
    ours: Ours
    sync: Sync
    etag: EtagCompare
    small: SmallSite


# --- the report -------------------------------------------------------------------------------


def med(values: Sequence[float]) -> float:
    return statistics.median(values)


def _spread(values: Sequence[int]) -> str:
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else f"{lo}-{hi}"


@dataclass
class Row:
    case: str
    who: str
    times: list[float]
    s3: str = ""
    other: str = ""
    uploaded: str = ""
    copied: str = ""
    invalidated: str = ""
    vs_sync: str = ""


def rows_for(
    case: str,
    samples: Mapping[str, list[Sample]],
    *,
    parts: bool = False,
    extra: Mapping[tuple[str, str], Row] | None = None,
) -> list[Row]:
    """One row per contender (its median against sync's), then its parts if asked."""
    rows = []
    sync_median = med([s.seconds for s in samples[SYNC]]) if SYNC in samples else None
    for who in sorted(samples, key=lambda w: CONTENDERS.index(w) if w in CONTENDERS else 0):
        runs = samples[who]
        times = [s.seconds for s in runs]
        rows.append(
            Row(
                case if not rows else "",
                who,
                times,
                s3=_spread([sum(s.s3.values()) for s in runs]),
                other=_spread([sum(s.other.values()) for s in runs]),
                uploaded=_spread([s.uploaded for s in runs]),
                copied=_spread([s.copied for s in runs]),
                invalidated="/".join(sorted({s.invalidated for s in runs})),
                vs_sync=f"{med(times) / sync_median:.2f}" if sync_median else "",
            )
        )
        if not parts:
            continue
        for part in runs[0].parts:
            counted = [sum(s.part_s3[part].values()) for s in runs if part in s.part_s3]
            times = [s.parts[part] for s in runs]
            rows.append(Row("", f"  {part}", times, s3=_spread(counted) if counted else ""))
            if extra and (who, part) in extra:
                rows.append(extra[(who, part)])
    return rows


def print_table(rows: list[Row]) -> None:
    head = ("case", "contender", "median s", "min s", "max s", "S3 req", "CF/KVS req",
            "uploaded", "copied", "invalidated", "time/sync")  # fmt: skip
    cells = [
        (
            r.case,
            r.who,
            f"{med(r.times):.2f}",
            f"{min(r.times):.2f}",
            f"{max(r.times):.2f}",
            r.s3,
            r.other,
            r.uploaded,
            r.copied,
            r.invalidated,
            r.vs_sync,
        )
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i < 2 else v.rjust(w)  # names left, figures right
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    print(line(head))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print(line(c))


def operations(counts: Counter[str]) -> str:
    return ", ".join(f"{op} {n}" for op, n in counts.most_common()) or "none"


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    if RUNS < 1:
        raise SystemExit("BENCH_RUNS must be at least 1")
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="qdn-bench-paths-"))
    try:
        return run(work, started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, started: float) -> int:
    cfg = make_config(work / "stack")
    source = generate_site(work / "site")
    built = work / "built"
    objects, size = folder_bytes(source)
    print(
        f"site: {objects} objects, {size / 1e6:.1f} MB (the issue's: {SITE_OBJECTS:,}, "
        f"{SITE_BYTES_TARGET / 1e6:.1f} MB; {PAGES} pages, "
        f"{CSS_FILES + JS_FILES + 2} stylesheets and scripts, {IMAGES} images, icon, robots.txt "
        f"and the shell); {CHANGED_FILES} pages change per release; {RUNS} run(s) after "
        f"{WARMUP_ROUNDS} warm-up round",
        flush=True,
    )
    running = stack.start(cfg)
    suffix = uuid.uuid4().hex[:8]
    place = Place(
        cfg, *(f"{BUCKET_PREFIX}-{what}-{suffix}" for what in ("ours", "sync", "etag", "small"))
    )
    cli_env = {
        **os.environ,
        **stack.aws_env(cfg),
        # The CLI reads nothing of this machine's AWS configuration: the stack's variables only.
        "AWS_CONFIG_FILE": str(work / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work / "aws-credentials"),
    }
    moto_log = MotoLog(cfg.state_dir / "moto.log")
    results: dict[str, dict[str, list[Sample]]] = {c: {} for c in CASES}
    local_times: list[float] = []
    peak_rss: dict[str, float] = {}
    try:
        contenders = Contenders(
            Ours(place, moto_log),
            Sync(place, cli_env, moto_log),
            EtagCompare(place),
            SmallSite(place, work / "small"),
        )
        admin = stack.client(cfg, "s3")  # set-up and clean-up, counted for nobody
        first = live = set_up(place, source, built, contenders)
        manifest = staging.read_build_manifest(admin, live, place.bucket)
        contenders.ours.cross_check.clear()
        print(
            f"set-up: {time.monotonic() - started:.0f} s; build {live} live everywhere", flush=True
        )

        for n in range(WARMUP_ROUNDS + RUNS):
            samples, local, build = one_round(n, contenders, place, source, built, live, manifest)
            # Only the first build (its folder holds the assets every build's pages pin) and the
            # live one are kept: moto holds every object in memory.
            if live != first:
                delete_prefix(admin, place.bucket, staging.build_prefix(live))
                admin.delete_object(Bucket=place.bucket, Key=staging.build_manifest_key(live))
            live, manifest = build.build_id, build.manifest()
            for name, pid in running.pgids.items():
                peak_rss[name] = max(peak_rss.get(name, 0.0), rss_mb(pid) or 0.0)
            counted = n >= WARMUP_ROUNDS
            order = rotation(n)
            print(
                f"round {n}{'' if counted else ' (warm-up, not counted)'}: change "
                + ", ".join(f"{w} {samples['change'][w].seconds:.1f} s" for w in order)
                + "; no-op "
                + ", ".join(f"{w} {samples['no-op'][w].seconds:.2f} s" for w in order)
                + f"; local part {local:.2f} s; moto {rss_mb(running.pgids['moto']) or 0:.0f} MB",
                flush=True,
            )
            if counted:
                local_times.append(local)
                for case, by_who in samples.items():
                    for who, sample in by_who.items():
                        results[case].setdefault(who, []).append(sample)
        final_rss = {name: rss_mb(pid) for name, pid in running.pgids.items()}
    finally:
        stack.stop(cfg.state_dir)
    return report(results, local_times, contenders.ours.cross_check, peak_rss, final_rss, started)


CASES = ("change", "no-op", "no-op rebuilt", "release")


def rotation(n: int) -> list[str]:
    """Round ``n``'s order: each contender goes first, second and third in turn."""
    shift = n % len(CONTENDERS)
    return [*CONTENDERS[shift:], *CONTENDERS[:shift]]


def one_round(
    n: int,
    contenders: Contenders,
    place: Place,
    source: Path,
    built: Path,
    live: str,
    manifest: staging.BuildManifest,
) -> tuple[dict[str, dict[str, Sample]], float, staging.Build]:
    """Every case once, the contenders in this round's order. Returns the samples, the local
    part of staging and the build now live."""
    revise_site(source, n + 1)
    # Staging's local work, by the calls stage() makes (read, rewrite, hash); its output is the
    # built folder the peers deploy.
    began = time.monotonic()
    build = staging.build_site(source, manifest)
    build.manifest()
    local = time.monotonic() - began
    write_build(built, build.files)

    def release(who: str, tag: str) -> Sample:
        if who == OURS:
            return contenders.ours.release(source, f"bench-{n}-{tag}", build.build_id)
        peer = contenders.sync if who == SYNC else contenders.etag
        return peer.release(built, build.build_id)

    samples: dict[str, dict[str, Sample]] = {case: {} for case in CASES}
    order = rotation(n)
    for who in order:
        warm(place.urls(who), live)
        samples["change"][who] = release(who, "change")
    for who in order:
        samples["no-op"][who] = release(who, "noop")
    redate(built)
    rewrite_in_place(source)
    for who in order:
        samples["no-op rebuilt"][who] = release(who, "rebuilt")

    small_build = contenders.small.stage(n + 1)
    samples["release"][SMALL] = contenders.small.release(small_build, f"bench-{n}")
    ours = samples["change"][OURS]
    samples["release"][BIG] = Sample(
        seconds=ours.parts["release"],
        s3=ours.part_s3["release"],
        other=ours.other,
        parts=ours.detail,
    )
    return samples, local, build


def report(
    results: Mapping[str, Mapping[str, list[Sample]]],
    local_times: list[float],
    cross_check: list[tuple[int, int]],
    peak_rss: Mapping[str, float],
    final_rss: Mapping[str, float | None],
    started: float,
) -> int:
    print()
    print(
        f"{len(local_times)} run(s) per case after {WARMUP_ROUNDS} warm-up round, contenders "
        f"alternating; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores"
    )
    local_row = Row("", "    local part (build_site)", local_times)
    rows = rows_for(
        f"{CHANGED_FILES} files changed",
        results["change"],
        parts=True,
        extra={(OURS, "staging"): local_row},
    )
    rows += rows_for("no-op, not rebuilt", results["no-op"])
    rows += rows_for("no-op, rebuilt", results["no-op rebuilt"])
    rows += rows_for("release alone", results["release"], parts=True)
    print_table(rows)

    def m(case: str, who: str) -> float:
        return med([s.seconds for s in results[case][who]])

    change = results["change"]
    print()
    print(f"S3 requests by operation, {CHANGED_FILES} files changed (last run):")
    for who in CONTENDERS:
        print(f"  {who:<13} {operations(change[who][-1].s3)}")
    print(f"  ours' key value store requests: {operations(change[OURS][-1].other)}")
    agreed = all(hook == log for hook, log in cross_check)
    etag_ratio = m("change", ETAG) / m("change", OURS)
    memory = ", ".join(
        f"{name} {final_rss.get(name) or 0:.0f} MB (peak {peak_rss.get(name, 0.0):.0f} MB)"
        for name in peak_rss
    )
    notes = [
        "requests: ours' and etag's counted by botocore's before-send hook, aws s3 sync's from "
        "moto's request log",
        f"  (over ours' {len(cross_check)} stagings the log and the hook "
        f"{'agreed every time' if agreed else 'DISAGREED: ' + str(cross_check)}); the edges' "
        "reads of their origin are not counted",
        f"ours uploads the {CHANGED_FILES} changed pages plus the shell index.html (its stamped "
        "build id changes with every",
        f"  build) and copies the other {SITE_OBJECTS - CHANGED_FILES - 1} files server-side "
        "from the previous build: a build's folder holds every file",
        "aws s3 sync re-uploads every rebuilt file (newer file time), so it invalidates /* (one "
        "path on AWS's bill);",
        "  etag invalidates the changed pages plus / and /index.html; ours invalidates nothing "
        "(a new build has new cache keys)",
        f"etag compare takes {etag_ratio:.2f}x ours' time for the change: it uploads "
        f"{CHANGED_FILES + 1} objects and copies none; both peers",
        "  overwrite the live prefix in place, so until their invalidation completes an edge can "
        "serve new pages with old ones",
        "the peers' clocks start with the built folder on disk; ours includes building it (the "
        "local part above)",
        "buckets without versioning: moto keeps every version of every object in memory; old "
        "builds deleted each round",
        f"invalidation delay {stack.DEFAULT_INVALIDATION_DELAY:.0f} s and key value store "
        f"propagation {stack.DEFAULT_KVS_PROPAGATION_DELAY:.0f} s (the stack's defaults); edges "
        f"polled every {POLL_SECONDS * 1000:.0f} ms",
        f"resident memory at the end: {memory}",
    ]
    print("Notes:")
    for note in notes:
        print(f"  {note}")
    print(f"  whole benchmark: {time.monotonic() - started:.0f} s")

    verdicts: list[tuple[bool, str]] = []
    speedup = m("no-op", SYNC) / m("no-op", OURS)
    rebuilt = m("no-op rebuilt", SYNC) / m("no-op rebuilt", OURS)
    verdicts.append(
        (
            speedup >= NOOP_SPEEDUP_TARGET,
            f"(a) no-op: ours {m('no-op', OURS):.2f} s, aws s3 sync {m('no-op', SYNC):.2f} s "
            f"(site not rebuilt): {speedup:.1f}x faster (target >= {NOOP_SPEEDUP_TARGET}x); "
            f"rebuilt: {rebuilt:.1f}x",
        )
    )
    uploads = sorted({s.uploaded for s in change[OURS]})
    ratio = m("change", OURS) / m("change", SYNC)
    verdicts.append(
        (
            uploads == [CHANGED_FILES + 1] and ratio <= 1.0,
            f"(b) {CHANGED_FILES} files changed: ours uploads "
            f"{'/'.join(map(str, uploads))} objects ({CHANGED_FILES} pages + the shell), not "
            f"{SITE_OBJECTS}; end to end {m('change', OURS):.2f} s vs aws s3 sync + invalidation "
            f"{m('change', SYNC):.2f} s = {ratio:.2f} of its time (target <= 1)\n"
            f"     {MOTO_NOTE}",
        )
    )
    small, big = m("release", SMALL), m("release", BIG)

    def part(who: str, name: str) -> float:
        return med([s.parts[name] for s in results["release"][who]])

    verdicts.append(
        (
            max(big / small, small / big) <= RELEASE_SIZE_TOLERANCE,
            f"(c) release alone: 5 objects {small:.2f} s, 2,000 objects {big:.2f} s, ratio "
            f"{big / small:.2f} (target: within {RELEASE_SIZE_TOLERANCE}x either way)\n"
            f"     pointer write until every edge {part(SMALL, WRITE_PART):.2f} s vs "
            f"{part(BIG, WRITE_PART):.2f} s; plan {part(SMALL, PLAN_PART):.2f} s vs "
            f"{part(BIG, PLAN_PART):.2f} s (it lists the build: a page per 1,000 files)",
        )
    )
    verdicts.append(
        (
            max(local_times) < LOCAL_WORK_TARGET,
            f"(d) staging's local work for {SITE_OBJECTS} files (read, rewrite, hash): median "
            f"{med(local_times):.2f} s, max {max(local_times):.2f} s (target < "
            f"{LOCAL_WORK_TARGET:.0f} s)",
        )
    )
    print()
    for ok, text in verdicts:
        print(f"{'PASS' if ok else 'FAIL'} {text}")
    return 0 if all(ok for ok, _ in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Faults planted in production the way they happen outside a release (a console edit, a hand
upload, a loosened setting), each undone afterwards: the nightly verification's DAG tests run
qdn_nightly_verify over each and see exactly the checks it must fail.

Every fault is a context manager over the session's stack that yields the words the failing
checks must say; leaving the ``with`` puts everything back as it was, whatever happened inside.
"""

from __future__ import annotations

import copy
import json
import tempfile
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from test_release_dag import live_build

from qdn import config, staging
from qdn.canary import read_canary_note
from qdn.distribution_spec import distributions_by_alias
from qdn.jobs import layout
from qdn.jobs.model import NewJob
from qdn.jobs.store import JobStore
from qdn.live_pointer import kvs_arn, read_pointer, write_pointer
from qdn.smoke import Expectation, smoke_check

ALIAS = config.DISTRIBUTION_ALIASES[1]
# Far past any max-age the site sets (60 s for the shell and the API): unmistakably stale.
STALE_AGE = 3600


@dataclass(frozen=True)
class Fault:
    name: str
    plant: Callable[[Any], AbstractContextManager[list[str]]]
    # The check tasks it must fail, and why each one.
    fails: frozenset[str]


def _edited(s3: Any, key: str, body: bytes | None) -> dict[str, Any]:
    """Write ``body`` at ``key`` (None deletes it), returning what was there to put back."""
    got = s3.get_object(Bucket=config.BUCKET, Key=key)
    saved = {"Key": key, "Body": got["Body"].read(), "ContentType": got["ContentType"]}
    if got.get("CacheControl"):
        saved["CacheControl"] = got["CacheControl"]
    if body is None:
        s3.delete_object(Bucket=config.BUCKET, Key=key)
    else:
        s3.put_object(**{**saved, "Body": body}, Bucket=config.BUCKET)
    return saved


@contextmanager
def objects_changed_by_hand(stack: Any) -> Iterator[list[str]]:
    """robots.txt edited, the favicon deleted and a stray page added in the live build."""
    s3 = stack.client("s3")
    live = live_build(stack)
    prefix = staging.build_prefix(live)
    listed = staging.list_prefix(s3, config.BUCKET, prefix)
    favicon = next(k for k in listed if k.startswith(config.ASSETS_DIR + "favicon"))
    robots = _edited(s3, prefix + "robots.txt", b"User-agent: *\nDisallow: /\n")
    icon = _edited(s3, prefix + favicon, None)
    stray = prefix + "stray.html"
    s3.put_object(Bucket=config.BUCKET, Key=stray, Body=b"<p>uploaded by hand</p>")
    try:
        yield ["robots.txt", favicon, "stray.html", "outside a release"]
    finally:
        s3.put_object(**robots, Bucket=config.BUCKET)
        s3.put_object(**icon, Bucket=config.BUCKET)
        s3.delete_object(Bucket=config.BUCKET, Key=stray)


@contextmanager
def pointer_moved_by_hand(stack: Any) -> Iterator[list[str]]:
    """The live pointer set to another complete build without a release."""
    kvs = stack.client("cloudfront-keyvaluestore")
    arn = kvs_arn(stack.client("cloudfront"), config.KVS_NAME)
    state = read_pointer(kvs, arn, config.LIVE_POINTER_KEY)
    other = _another_complete_build(stack, state.value)
    write_pointer(kvs, state, other)
    try:
        # The night comes long after the hand edit: every edge serves what the pointer names.
        _edges_serve(stack, other)
        yield [f"the live pointer names {other}", "moved outside a release"]
    finally:
        write_pointer(kvs, read_pointer(kvs, arn, config.LIVE_POINTER_KEY), state.value)
        _edges_serve(stack, state.value)


def _edges_serve(stack: Any, build: str | None) -> None:
    """Wait, as the release's smoke check does, until every edge serves ``build`` (the store's
    writes reach the edges after its propagation delay)."""
    for alias in config.DISTRIBUTION_ALIASES:
        report = smoke_check(stack.edge_url(alias), Expectation(build_id=build), deadline=30.0)
        assert report.ok, report.failures


def function_stage(cf: Any, stage: str) -> tuple[bytes, dict[str, Any]]:
    """A stage's code and its config as UpdateFunction takes it."""
    code = cf.get_function(Name=config.FUNCTION_NAME, Stage=stage)["FunctionCode"].read()
    current = cf.describe_function(Name=config.FUNCTION_NAME, Stage=stage)["FunctionSummary"][
        "FunctionConfig"
    ]
    function_config = {"Comment": current.get("Comment", ""), "Runtime": current["Runtime"]}
    stores = current.get("KeyValueStoreAssociations") or {}
    if stores.get("Quantity"):
        function_config["KeyValueStoreAssociations"] = stores
    return code, function_config


def update_development(cf: Any, code: bytes, function_config: dict[str, Any]) -> str:
    """Write DEVELOPMENT; returns its new ETag."""
    etag = cf.describe_function(Name=config.FUNCTION_NAME, Stage="DEVELOPMENT")["ETag"]
    return cf.update_function(
        Name=config.FUNCTION_NAME, IfMatch=etag, FunctionConfig=function_config, FunctionCode=code
    )["ETag"]


def publish_by_hand(cf: Any, code: bytes, function_config: dict[str, Any]) -> None:
    """What a hand publish from the console does: update DEVELOPMENT, publish it, no gate."""
    cf.publish_function(
        Name=config.FUNCTION_NAME, IfMatch=update_development(cf, code, function_config)
    )


@contextmanager
def function_put_back(cf: Any) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Yield LIVE's code and config; afterwards republish them and put DEVELOPMENT back."""
    live = function_stage(cf, "LIVE")
    development = function_stage(cf, "DEVELOPMENT")
    try:
        yield live
    finally:
        publish_by_hand(cf, *live)
        if development != live:
            update_development(cf, *development)
        assert function_stage(cf, "LIVE") == live
        assert function_stage(cf, "DEVELOPMENT") == development


@contextmanager
def function_published_by_hand(stack: Any) -> Iterator[list[str]]:
    """A console edit of the function, published to LIVE without the gate or a release."""
    cf = stack.client("cloudfront")
    with function_put_back(cf) as (code, function_config):
        publish_by_hand(cf, code + b"\n// edited in the console\n", function_config)
        yield [f"function {config.FUNCTION_NAME} LIVE", "published outside a release"]


@contextmanager
def distribution_changed(
    cf: Any, alias: str, edit: Callable[[dict[str, Any]], None]
) -> Iterator[str]:
    """Apply ``edit`` to the alias's distribution config through UpdateDistribution (IfMatch),
    yield the distribution id, then put the saved config back exactly."""
    dist_id = distributions_by_alias(cf)[alias]["Id"]
    got = cf.get_distribution_config(Id=dist_id)
    saved = got["DistributionConfig"]
    changed = copy.deepcopy(saved)
    edit(changed)
    etag = cf.update_distribution(Id=dist_id, IfMatch=got["ETag"], DistributionConfig=changed)[
        "ETag"
    ]
    try:
        yield dist_id
    finally:
        cf.update_distribution(Id=dist_id, IfMatch=etag, DistributionConfig=saved)
        assert cf.get_distribution_config(Id=dist_id)["DistributionConfig"] == saved


@contextmanager
def function_association_removed(stack: Any) -> Iterator[list[str]]:
    def remove(dist_config: dict[str, Any]) -> None:
        dist_config["DefaultCacheBehavior"]["FunctionAssociations"] = {"Quantity": 0}

    with distribution_changed(stack.client("cloudfront"), ALIAS, remove) as dist_id:
        yield [f"distribution {dist_id} ({ALIAS})", "FunctionAssociations[viewer-request]"]


@contextmanager
def job_data_reachable(stack: Any) -> Iterator[list[str]]:
    """A behaviour for /data/* sending viewers to the bucket's root: the mistake of someone who
    wanted the export in a browser."""

    def expose(dist_config: dict[str, Any]) -> None:
        site = next(o for o in dist_config["Origins"]["Items"] if o["Id"] == config.SITE_ORIGIN_ID)
        dist_config["Origins"]["Items"].append({**site, "Id": "bucket-root", "OriginPath": ""})
        dist_config["Origins"]["Quantity"] += 1
        api = dist_config["CacheBehaviors"]["Items"][0]
        behaviour = {
            key: value
            for key, value in api.items()
            if key not in ("OriginRequestPolicyId", "FunctionAssociations")
        }
        behaviour |= {"PathPattern": "/data/*", "TargetOriginId": "bucket-root"}
        dist_config["CacheBehaviors"]["Items"].append(behaviour)
        dist_config["CacheBehaviors"]["Quantity"] += 1

    with distribution_changed(stack.client("cloudfront"), ALIAS, expose) as dist_id:
        yield [f"{ALIAS} GET /{config.JOBS_KEY}", "private data reachable", dist_id]


@contextmanager
def invalid_job_record(stack: Any) -> Iterator[list[str]]:
    job = _new_job(stack)
    key = layout.job_key(job.id)
    saved = _edited(stack.client("s3"), key, b'{"id": "' + job.id.encode() + b'", "status": ')
    try:
        yield [f"{key} is not JSON"]
    finally:
        stack.client("s3").put_object(**saved, Bucket=config.BUCKET)


@contextmanager
def duplicated_token(stack: Any) -> Iterator[list[str]]:
    """A record edited by hand to carry another job's tracking token."""
    first, second = _new_job(stack), _new_job(stack)
    twin = json.loads(second.model_dump_json()) | {"token": first.token}
    key = layout.job_key(second.id)
    saved = _edited(stack.client("s3"), key, json.dumps(twin).encode())
    try:
        ids = ", ".join(sorted([first.id, second.id]))
        yield [f"jobs {ids} share one tracking token"]
    finally:
        stack.client("s3").put_object(**saved, Bucket=config.BUCKET)


@contextmanager
def stale_shell_on_an_edge(stack: Any) -> Iterator[list[str]]:
    """One edge keeps serving its copy of the tracking page long past its max-age."""
    note = read_canary_note(stack.client("s3"), config.BUCKET)
    assert note is not None, "the bootstrap makes the canary"
    with urllib.request.urlopen(stack.edge_url(ALIAS) + "/track/" + note.token, timeout=10):
        pass  # the edge now holds a copy
    edge_cache(stack, ALIAS, "PUT", {"path": "/track/*", "age": STALE_AGE})
    try:
        yield [
            f"{ALIAS} GET /track/",
            "a stale copy (X-Cache: Hit from",
            f"Age: {STALE_AGE // 100}",
        ]
    finally:
        edge_cache(stack, ALIAS, "DELETE")


@contextmanager
def public_access_block_removed(stack: Any) -> Iterator[list[str]]:
    s3 = stack.client("s3")
    saved = s3.get_public_access_block(Bucket=config.BUCKET)["PublicAccessBlockConfiguration"]
    s3.delete_public_access_block(Bucket=config.BUCKET)
    try:
        yield [f"s3://{config.BUCKET}'s public access block is off for BlockPublicAcls"]
    finally:
        s3.put_public_access_block(Bucket=config.BUCKET, PublicAccessBlockConfiguration=saved)


@contextmanager
def alarm_deleted(stack: Any) -> Iterator[list[str]]:
    from qdn.monitoring import SPEC, ensure_monitoring

    alarm = SPEC.alarms[0].name
    stack.client("cloudwatch").delete_alarms(AlarmNames=[alarm])
    try:
        yield [f"alarm {alarm}", "is missing", "make bootstrap"]
    finally:
        ensure_monitoring(stack.client("sns"), stack.client("logs"), stack.client("cloudwatch"))


FAULTS = (
    Fault("function published by hand", function_published_by_hand, frozenset({"function"})),
    # Without the function the edge routes nothing: the canary's link breaks on that edge, as
    # every customer's would.
    Fault(
        "function association removed",
        function_association_removed,
        frozenset({"distributions", "canary"}),
    ),
    Fault("pointer moved by hand", pointer_moved_by_hand, frozenset({"content"})),
    Fault("objects changed by hand", objects_changed_by_hand, frozenset({"content"})),
    Fault("invalid job record", invalid_job_record, frozenset({"job_records"})),
    Fault("duplicated token", duplicated_token, frozenset({"job_records"})),
    Fault("stale shell on an edge", stale_shell_on_an_edge, frozenset({"freshness"})),
    # Data can only become reachable by changing a distribution, which that check names too.
    Fault("job data reachable", job_data_reachable, frozenset({"distributions", "exposure"})),
    Fault("public access block removed", public_access_block_removed, frozenset({"exposure"})),
    Fault("alarm deleted", alarm_deleted, frozenset({"monitoring"})),
)


def _another_complete_build(stack: Any, live: str | None) -> str:
    """A complete build other than ``live`` (staged here; the same text stages the same build),
    so the edges serve it whole and only the content check can tell. ``builds/LATEST`` is put
    back: a later release of LATEST must not pick this one."""
    from localaws.demo import changed_site

    s3 = stack.client("s3")
    latest = s3.get_object(Bucket=config.BUCKET, Key=config.LATEST_KEY)
    with tempfile.TemporaryDirectory() as workdir:
        staged = staging.stage(s3, changed_site(Path(workdir), "moved by hand"))
    s3.put_object(
        Bucket=config.BUCKET,
        Key=config.LATEST_KEY,
        Body=latest["Body"].read(),
        ContentType=latest["ContentType"],
        **({"CacheControl": latest["CacheControl"]} if latest.get("CacheControl") else {}),
    )
    assert staged.build_id != live
    return staged.build_id


def _new_job(stack: Any) -> Any:
    store = JobStore(stack.client("s3"), stack.client("logs"))
    new = NewJob(
        customer_name="Planted Fault",
        location="Test Lane",
        service_date=date.today() + timedelta(days=3),
        price="120.00",
        status="scheduled",
    )
    return store.create(new, idempotency_key=f"fault-{uuid.uuid4().hex}").job


def edge_cache(stack: Any, alias: str, method: str, body: dict[str, Any] | None = None) -> Any:
    """The local CloudFront's stale-copy route for one edge (localaws/cloudfront/control.py)."""
    request = urllib.request.Request(
        f"{stack.cloudfront_url}/_localaws/edges/{alias}/cache",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)

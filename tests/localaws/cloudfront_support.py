"""Shared pieces of the local CloudFront tests: configs, HTTP without redirects, a private server.

Tests drive the emulator only from outside: boto3, botocore waiters, the AWS CLI and HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from werkzeug.datastructures import Headers

from localaws import stack

# The managed cache policy ids as the project's bootstrap sends them to AWS.
from qdn.distribution_spec import CACHING_DISABLED, CACHING_OPTIMIZED

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent

FUNCTION_CONFIG = {"Comment": "test", "Runtime": "cloudfront-js-2.0"}
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
# A function-URL domain: the edge sends anything routed here to the --api-handler in-process.
# The edge recognises any host under .lambda-url.<region>.on.aws (hyphens included).
API_DOMAIN = "edge-test-api.lambda-url.us-east-1.on.aws"

REWRITE_JS = """\
function handler(event) {
  var request = event.request;
  if (request.uri.startsWith('/track/') || request.uri.startsWith('/book/')) {
    request.querystring.original_path = {value: request.uri};
    request.uri = '/index.html';
  }
  if (request.uri === '/boom') {
    throw new Error('rewrite failed on purpose');
  }
  if (request.uri === '/moved') {
    return {statusCode: 302, statusDescription: 'Found',
            headers: {location: {value: '/index.html'}}};
  }
  console.log('rewrote to ' + request.uri);
  return request;
}
"""

# Answers from the store: the value of the key named by the path, and what the helpers report.
KVS_READER_JS = """\
import cf from 'cloudfront';
const kvs = cf.kvs();

async function handler(event) {
  var key = event.request.uri.slice(1);
  var body;
  try {
    body = 'value=' + await kvs.get(key);
  } catch (e) {
    body = 'fallback (' + e.message + ')';
  }
  if (key === 'settings') {
    var settings = await kvs.get(key, {format: 'json'});
    body = 'colour=' + settings.colour;
  }
  var meta = await kvs.meta();
  return {
    statusCode: 200,
    headers: {'x-exists': {value: String(await kvs.exists(key))},
              'x-key-count': {value: String(meta.keyCount)}},
    body: body
  };
}
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def s3_origin(bucket: str, origin_path: str = "/site", origin_id: str = "site") -> dict[str, Any]:
    return {
        "Id": origin_id,
        "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
        "OriginPath": origin_path,
        "S3OriginConfig": {"OriginAccessIdentity": ""},
    }


def api_origin(origin_id: str = "api") -> dict[str, Any]:
    return {
        "Id": origin_id,
        "DomainName": API_DOMAIN,
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": "https-only",
        },
    }


def legacy_behaviour(
    *, query_string: bool = False, min_ttl: int = 0, default_ttl: int, max_ttl: int
) -> dict[str, Any]:
    """Caching set by a behaviour's legacy fields (ForwardedValues and TTLs), not a cache policy."""
    return {
        "ForwardedValues": {"QueryString": query_string, "Cookies": {"Forward": "none"}},
        "MinTTL": min_ttl,
        "DefaultTTL": default_ttl,
        "MaxTTL": max_ttl,
    }


def distribution_config(
    bucket: str,
    *,
    function_arn: str | None = None,
    aliases: tuple[str, ...] = (),
    origin_path: str = "/site",
    default_behaviour: dict[str, Any] | None = None,
    with_api: bool = False,
    error_caching: dict[int, int] | None = None,
    default_root: str = "index.html",
) -> dict[str, Any]:
    """A distribution like the site's: S3 origin at /site, the function, /api/* to the API."""
    default = default_behaviour or {"CachePolicyId": CACHING_OPTIMIZED}
    default = {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https", **default}
    if function_arn:
        default["FunctionAssociations"] = {
            "Quantity": 1,
            "Items": [{"FunctionARN": function_arn, "EventType": "viewer-request"}],
        }
    origins = [s3_origin(bucket, origin_path)]
    behaviours = []
    if with_api:
        origins.append(api_origin())
        behaviours.append(
            {
                "PathPattern": "/api/*",
                "TargetOriginId": "api",
                "ViewerProtocolPolicy": "https-only",
                "CachePolicyId": CACHING_DISABLED,
                "AllowedMethods": {
                    "Quantity": len(ALL_METHODS),
                    "Items": ALL_METHODS,
                    "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
                },
            }
        )
    config: dict[str, Any] = {
        "CallerReference": unique("dist"),
        "Aliases": {"Quantity": len(aliases), "Items": list(aliases)},
        "DefaultRootObject": default_root,
        "Origins": {"Quantity": len(origins), "Items": origins},
        "DefaultCacheBehavior": default,
        "CacheBehaviors": {"Quantity": len(behaviours), "Items": behaviours},
        "Comment": "local CloudFront test",
        "Enabled": True,
    }
    if not aliases:
        del config["Aliases"]["Items"]
    if not behaviours:
        del config["CacheBehaviors"]["Items"]
    if error_caching:
        items = [{"ErrorCode": c, "ErrorCachingMinTTL": t} for c, t in error_caching.items()]
        config["CustomErrorResponses"] = {"Quantity": len(items), "Items": items}
    return config


def published_function(cf: Any, code: str = REWRITE_JS, name: str | None = None) -> tuple[str, str]:
    """Create and publish a function; returns (name, ARN)."""
    name = name or unique("fn")
    created = cf.create_function(
        Name=name, FunctionConfig=FUNCTION_CONFIG, FunctionCode=code.encode()
    )
    cf.publish_function(Name=name, IfMatch=created["ETag"])
    return name, created["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]


def viewer_event(uri: str) -> bytes:
    """A viewer-request event for TestFunction, as the AWS console's test tab sends one."""
    return json.dumps(
        {
            "version": "1.0",
            "context": {"eventType": "viewer-request"},
            "viewer": {"ip": "198.51.100.7"},
            "request": {
                "method": "GET",
                "uri": uri,
                "querystring": {},
                "headers": {"host": {"value": "quickdumpnow.com"}},
                "cookies": {},
            },
        }
    ).encode()


def unchecked_client(url: str) -> Any:
    """A client that sends what it is given, so the server's own checks can be seen."""
    return boto3.client(
        "cloudfront",
        endpoint_url=url,
        region_name=stack.REGION,
        config=Config(parameter_validation=False),
    )


def kvs_client(cloudfront_url: str, *, checked: bool = True) -> Any:
    """The key value store data plane's client, as ``stack.client`` makes it: the made-up
    endpoint, the local CloudFront as its HTTP proxy; unchecked, it sends what it is given."""
    return boto3.client(
        stack.KVS_SERVICE,
        endpoint_url=stack.KVS_ENDPOINT,
        region_name=stack.REGION,
        config=Config(proxies={"http": cloudfront_url}, parameter_validation=checked),
    )


def new_store(cf: Any, items: dict[str, str] | None = None) -> dict[str, Any]:
    """A fresh key value store (its ``KeyValueStore`` document and ``ETag``) holding ``items``,
    written through the data plane in one UpdateKeys."""
    created = cf.create_key_value_store(Name=unique("kvs"), Comment="test")
    if items:
        kvs = kvs_client(cf.meta.endpoint_url)
        arn = created["KeyValueStore"]["ARN"]
        etag = kvs.describe_key_value_store(KvsARN=arn)["ETag"]
        puts = [{"Key": k, "Value": v} for k, v in items.items()]
        kvs.update_keys(KvsARN=arn, IfMatch=etag, Puts=puts)
    return created


def kvs_function_config(store_arn: str | None, runtime: str = "cloudfront-js-2.0") -> dict:
    """A FunctionConfig associated with the store (or with none)."""
    items = [{"KeyValueStoreARN": store_arn}] if store_arn else []
    associations: dict[str, Any] = {"Quantity": len(items)}
    if items:
        associations["Items"] = items
    return {"Comment": "test", "Runtime": runtime, "KeyValueStoreAssociations": associations}


def set_edge_readable(cloudfront_url: str, store_name: str, readable: bool) -> Fetched:
    """The local route that makes the edges' reads of a store fail, or work again."""
    return fetch(
        f"{cloudfront_url}/_localaws/key-value-stores/{store_name}/edge",
        method="PUT",
        headers={"Content-Type": "application/json"},
        data=json.dumps({"readable": readable}).encode(),
    )


def invalidation_batch(*paths: str, ref: str | None = None) -> dict[str, Any]:
    return {
        "CallerReference": ref or unique("inv"),
        "Paths": {"Quantity": len(paths), "Items": list(paths)},
    }


def wait_completed(cf: Any, dist_id: str, inv_id: str) -> None:
    """botocore's own waiter, polling every second (the test stacks complete in about one)."""
    cf.get_waiter("invalidation_completed").wait(
        DistributionId=dist_id, Id=inv_id, WaiterConfig={"Delay": 1, "MaxAttempts": 10}
    )


def edge_url(cloudfront_url: str, dist_id: str) -> str:
    with urllib.request.urlopen(f"{cloudfront_url}/_localaws/edges", timeout=5) as resp:
        edges = json.load(resp)
    return next(e["url"] for e in edges if e["id"] == dist_id)


def remove_distribution(cf: Any, dist_id: str) -> None:
    """Disable then delete, as AWS requires; frees the edge listener and function associations."""
    current = cf.get_distribution_config(Id=dist_id)
    config = current["DistributionConfig"]
    config["Enabled"] = False
    updated = cf.update_distribution(Id=dist_id, IfMatch=current["ETag"], DistributionConfig=config)
    cf.delete_distribution(Id=dist_id, IfMatch=updated["ETag"])


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: Headers  # case-insensitive, as HTTP header names are
    body: bytes

    @property
    def x_cache(self) -> str:
        return self.headers.get("X-Cache", "")

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, data: bytes | None = None
) -> Fetched:
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with _OPENER.open(req, timeout=10) as resp:
            return Fetched(resp.status, Headers(list(resp.headers.items())), resp.read())
    except urllib.error.HTTPError as err:
        return Fetched(err.code, Headers(list(err.headers.items())), err.read())


@dataclass
class PrivateCloudFront:
    url: str
    access_log: Path
    process_log: Path
    alias_ports: dict[str, int]
    edge_port_base: int
    exit_code: int | None = None  # set once the process has stopped

    def client(self) -> Any:
        return boto3.client("cloudfront", endpoint_url=self.url, region_name=stack.REGION)

    def kvs_client(self) -> Any:
        return kvs_client(self.url)


def cloudfront_command(
    moto_url: str,
    state_dir: Path,
    *,
    port: int,
    alias_ports: dict[str, int],
    edge_port_base: int,
    delay: float,
    kvs_delay: float = stack.DEFAULT_KVS_PROPAGATION_DELAY,
    state_file: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """argv and environment of ``python -m localaws.cloudfront`` with the stack launcher's flags
    and the test API handler behind /api/*."""
    env = dict(os.environ)
    env.update(stack.FAKE_CREDENTIALS)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO_ROOT)])
    env["EDGE_TEST_JOBS_DIR"] = str(state_dir / "jobs")
    (state_dir / "jobs").mkdir(exist_ok=True)
    cfg = stack.StackConfig(
        moto_port=int(moto_url.rsplit(":", 1)[1]),
        cloudfront_port=port,
        edge_ports=alias_ports,
        edge_port_base=edge_port_base,
        invalidation_delay=delay,
        kvs_propagation_delay=kvs_delay,
        state_dir=state_dir,
    )
    argv = stack.cloudfront_argv(cfg, api_handler="edge_api_handler:handler", state_file=state_file)
    return argv, env


@contextlib.contextmanager
def private_cloudfront(
    moto_url: str,
    state_dir: Path,
    *,
    aliases: tuple[str, ...] = (),
    delay: float = 1.0,
    kvs_delay: float = stack.DEFAULT_KVS_PROPAGATION_DELAY,
    edge_port_base: int | None = None,
    state_file: Path | None = None,
) -> Iterator[PrivateCloudFront]:
    """A local CloudFront of our own (see ``cloudfront_command``) on free ports, in its own session
    so its whole process group is stopped (SIGTERM, as the launcher stops it) at the end."""
    ports = stack.free_ports(1 + len(aliases))
    alias_ports = dict(zip(aliases, ports[1:], strict=True))
    edge_port_base = edge_port_base or stack._free_range_base()
    argv, env = cloudfront_command(
        moto_url,
        state_dir,
        port=ports[0],
        alias_ports=alias_ports,
        edge_port_base=edge_port_base,
        delay=delay,
        kvs_delay=kvs_delay,
        state_file=state_file,
    )
    process_log = state_dir / "cloudfront.log"
    with process_log.open("ab") as out:
        proc = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdout=out, stderr=out, start_new_session=True
        )
    cfg = stack.StackConfig(cloudfront_port=ports[0], state_dir=state_dir)
    running = PrivateCloudFront(
        cfg.cloudfront_url, state_dir / "edge-access.log", process_log, alias_ports, edge_port_base
    )
    try:
        stack.wait_ready(cfg, {"cloudfront": proc})
        yield running
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            running.exit_code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

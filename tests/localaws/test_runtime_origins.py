"""The ``cloudfront`` module's origin helpers change where the edge sends the request, and the
edge takes the return shapes AWS documents (a query string as text, multi-value cookies).

The general helpers (``request.rawQueryString()``, ``cf.edgeLocation``) answer from the viewer's
own request.

One distribution with two S3 origins (``site`` and ``second``, each its own bucket) and a third
bucket outside it; a viewer-request function picks the origin per path. Each object exists with
different content in each bucket, so what the viewer gets back says which origin served it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from cloudfront_support import (
    distribution_config,
    edge_url,
    fetch,
    published_function,
    remove_distribution,
    s3_origin,
    unique,
    viewer_event,
)

from localaws import stack
from localaws.cloudfront.edge import EDGE_NAME
from qdn.distribution_spec import CACHING_DISABLED

# Per path, one helper; the third bucket's domain is filled in per test run.
ROUTING_JS = """\
import cf from 'cloudfront';

function handler(event) {
  const request = event.request;
  switch (request.uri) {
    case '/second.html':
      cf.selectRequestOriginById('second');
      break;
    case '/elsewhere.html':
      cf.updateRequestOrigin({domainName: '%(third)s', originPath: '/other'});
      break;
    case '/failover.html':
    case '/both.html':
      cf.createRequestOriginGroup({
        originIds: ['site', 'second'],
        failoverCriteria: {statusCodes: [403, 404, 500]}
      });
      break;
    case '/no-failover.html':
      cf.createRequestOriginGroup({originIds: ['site', 'second'],
                                   failoverCriteria: {statusCodes: [500]}});
      break;
    case '/unknown-origin.html':
      cf.selectRequestOriginById('no-such-origin');
      break;
    case '/cookies.html':
      return {statusCode: 200, cookies: {
        id: {value: '1', attributes: 'Path=/; Secure'},
        pref: {value: 'a', multiValue: [{value: 'a', attributes: 'Path=/a'}, {value: 'b'}]}
      }};
    case '/raw.html':
      // The general helpers: the query as the viewer sent it, and where the edge is.
      return {statusCode: 200, body: JSON.stringify({
        type: typeof request.rawQueryString(), raw: request.rawQueryString() ?? null,
        edge: cf.edgeLocation
      })};
    case '/plain.html':
      if (request.querystring.sort) {
        // AWS's "normalize query string" shape: the query returned as one string.
        request.querystring = Object.keys(request.querystring).sort()
          .map(k => k + '=' + request.querystring[k].value).join('&');
      }
      break;
  }
  return request;
}
"""


@dataclass
class Routed:
    cf: Any
    function_name: str
    dist_id: str
    url: str


@pytest.fixture
def routed(aws_stack: Any) -> Any:
    cf, s3 = aws_stack.client("cloudfront"), aws_stack.client("s3")
    site, second, third = unique("orig-site"), unique("orig-second"), unique("orig-third")
    for bucket in (site, second, third):
        s3.create_bucket(Bucket=bucket)

    def put(bucket: str, key: str, body: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="text/plain")

    for name in ("plain.html", "second.html", "elsewhere.html", "both.html"):
        put(site, f"site/{name}", f"site:{name}")
        put(second, f"site/{name}", f"second:{name}")
    put(second, "site/failover.html", "second:failover.html")  # missing from the primary
    put(second, "site/no-failover.html", "second:no-failover.html")
    put(third, "other/elsewhere.html", "third:elsewhere.html")

    name, arn = published_function(
        cf, ROUTING_JS % {"third": f"{third}.s3.us-east-1.amazonaws.com"}
    )
    config = distribution_config(
        site, function_arn=arn, default_behaviour={"CachePolicyId": CACHING_DISABLED}
    )
    config["Origins"]["Items"].append(s3_origin(second, "/site", "second"))
    config["Origins"]["Quantity"] = 2
    dist_id = cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    yield Routed(cf, name, dist_id, edge_url(aws_stack.cloudfront_url, dist_id))
    remove_distribution(cf, dist_id)


def _body(routed: Routed, path: str) -> tuple[int, str]:
    answer = fetch(routed.url + path)
    return answer.status, answer.body.decode("utf-8", errors="replace")


def test_select_request_origin_by_id_serves_from_that_origin(routed: Routed) -> None:
    assert _body(routed, "/second.html") == (200, "second:second.html")


def test_without_a_helper_the_behaviour_s_origin_serves(routed: Routed) -> None:
    assert _body(routed, "/plain.html") == (200, "site:plain.html")


def test_the_edge_takes_a_query_string_returned_as_text(routed: Routed) -> None:
    assert _body(routed, "/plain.html?sort=1&b=2&a=1") == (200, "site:plain.html")


def test_the_edge_sets_every_cookie_of_a_generated_response(routed: Routed) -> None:
    answer = fetch(routed.url + "/cookies.html")
    assert answer.status == 200
    assert answer.headers.get_all("Set-Cookie") == [
        "id=1; Path=/; Secure",
        "pref=a; Path=/a",
        "pref=b",
    ]


def test_update_request_origin_reaches_a_domain_outside_the_distribution(routed: Routed) -> None:
    # domainName and originPath both changed: the object comes from the third bucket's /other.
    assert _body(routed, "/elsewhere.html") == (200, "third:elsewhere.html")


def test_an_origin_group_fails_over_on_the_statuses_it_names(routed: Routed) -> None:
    # The primary has no failover.html (S3 with OAC answers 403): the secondary serves it.
    assert _body(routed, "/failover.html") == (200, "second:failover.html")
    # Where the primary has the object, the primary serves it.
    assert _body(routed, "/both.html") == (200, "site:both.html")


def test_an_origin_group_keeps_the_primary_answer_for_other_statuses(routed: Routed) -> None:
    status, body = _body(routed, "/no-failover.html")
    assert status == 403
    assert "AccessDenied" in body


def test_an_origin_the_distribution_lacks_is_a_function_error(routed: Routed) -> None:
    answer = fetch(routed.url + "/unknown-origin.html")
    assert answer.status == 503
    assert answer.x_cache == "FunctionExecutionError from cloudfront"


def test_test_function_runs_the_helpers_without_showing_an_origin(routed: Routed) -> None:
    # AWS: "The Test API ... don't test whether an origin modification has occurred".
    etag = routed.cf.describe_function(Name=routed.function_name, Stage="LIVE")["ETag"]
    for path in ("/second.html", "/elsewhere.html", "/failover.html", "/unknown-origin.html"):
        result = routed.cf.test_function(
            Name=routed.function_name, IfMatch=etag, Stage="LIVE", EventObject=viewer_event(path)
        )["TestResult"]
        assert result["FunctionErrorMessage"] == ""
        assert json.loads(result["FunctionOutput"]) == {
            "request": {
                "method": "GET",
                "uri": path,
                "querystring": {},
                "headers": {"host": {"value": "quickdumpnow.com"}},
                "cookies": {},
            }
        }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?b=2&a=1&&c=%20d", ("string", "b=2&a=1&&c=%20d")),  # unparsed, unaltered
        ("?", ("string", "")),  # a bare '?'
        ("", ("undefined", None)),  # no '?' at all
    ],
)
def test_raw_query_string_is_the_query_the_viewer_sent(
    routed: Routed, query: str, expected: tuple[str, str | None]
) -> None:
    status, body = _body(routed, "/raw.html" + query)
    assert status == 200, body
    answer = json.loads(body)
    assert (answer["type"], answer["raw"]) == expected
    assert answer["edge"] == {"name": EDGE_NAME, "serverIp": stack.HOST, "region": stack.REGION}

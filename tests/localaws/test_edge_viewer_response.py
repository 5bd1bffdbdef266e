"""A viewer-response function at the edge, as AWS documents it: it runs on every response below
400, from the cache or the origin, sees the request as it went on, and what it returns replaces
the status, headers and cookies (and the body only when it sets one). It does not run for a
response the viewer-request function generated, nor for a status of 400 or more.

Over HTTP against the local CloudFront: one S3 origin, a viewer-request function that answers
one path itself and rewrites another, and a viewer-response function that reports what it saw in
a header and acts per path.
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
    unique,
)

from localaws.cloudfront import viewer

REQUEST_JS = """\
function handler(event) {
  var request = event.request;
  if (request.uri === '/generated.html') {
    return {statusCode: 200, statusDescription: 'OK', body: 'from the viewer-request function'};
  }
  if (request.uri === '/rewritten.html') request.uri = '/page.html';
  return request;
}
"""

RESPONSE_JS = """\
function handler(event) {
  var request = event.request, response = event.response;
  var type = response.headers['content-type'];
  response.headers['x-seen'] = {value: JSON.stringify({
    eventType: event.context.eventType, uri: request.uri, status: response.statusCode,
    description: response.statusDescription, contentType: type ? type.value : null,
    raw: request.rawQueryString() === undefined ? null : request.rawQueryString()
  })};
  response.headers['strict-transport-security'] = {value: 'max-age=63072000'};
  switch (request.uri) {
    case '/replace.html':
      response.statusCode = 201;
      response.statusDescription = 'Created';
      response.body = {encoding: 'text', data: 'replaced'};
      break;
    case '/cookie.html':
      response.cookies['seen'] = {value: '1', attributes: 'Path=/; Secure'};
      break;
    case '/drop.html':
      delete response.headers['content-type'];
      break;
    case '/request.html':
      return request;  // not a response: CloudFront refuses it
    case '/throw.html':
      throw new Error('viewer-response failed');
  }
  return response;
}
"""

PAGES = ("page.html", "replace.html", "cookie.html", "drop.html", "request.html", "throw.html")


@dataclass
class Site:
    url: str


@pytest.fixture(scope="module")
def site(aws_stack: Any) -> Any:
    cf, s3 = aws_stack.client("cloudfront"), aws_stack.client("s3")
    bucket = unique("viewer-response")
    s3.create_bucket(Bucket=bucket)
    for name in PAGES:
        s3.put_object(
            Bucket=bucket, Key=f"site/{name}", Body=f"origin:{name}".encode(),
            ContentType="text/plain",
        )  # fmt: skip
    _, request_arn = published_function(cf, REQUEST_JS)
    _, response_arn = published_function(cf, RESPONSE_JS)
    config = distribution_config(bucket)  # CachingOptimized: a second fetch is a cache hit
    config["DefaultCacheBehavior"]["FunctionAssociations"] = {
        "Quantity": 2,
        "Items": [
            {"FunctionARN": request_arn, "EventType": "viewer-request"},
            {"FunctionARN": response_arn, "EventType": "viewer-response"},
        ],
    }
    dist_id = cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]
    yield Site(edge_url(aws_stack.cloudfront_url, dist_id))
    remove_distribution(cf, dist_id)


def _seen(answer: Any) -> dict[str, Any]:
    return json.loads(answer.headers["X-Seen"])


def test_it_changes_every_response_from_the_origin_and_from_the_cache(site: Site) -> None:
    first = fetch(site.url + "/page.html?b=2&&a")
    again = fetch(site.url + "/page.html?b=2&&a")
    assert (first.x_cache, again.x_cache) == ("Miss from cloudfront", "Hit from cloudfront")
    for answer in (first, again):
        assert answer.status == 200
        assert answer.body == b"origin:page.html"  # the body is the origin's: not set
        # The name as sent: each word capitalised, as AWS documents for function headers.
        assert ("Strict-Transport-Security", "max-age=63072000") in list(answer.headers.items())
        assert _seen(answer) == {
            "eventType": "viewer-response",
            "uri": "/page.html",
            "status": 200,
            "description": "OK",
            "contentType": "text/plain",
            "raw": "b=2&&a",
        }


def test_it_sees_the_request_the_viewer_request_function_sent_on(site: Site) -> None:
    answer = fetch(site.url + "/rewritten.html")
    assert answer.status == 200 and answer.body == b"origin:page.html"
    assert _seen(answer)["uri"] == "/page.html"
    assert _seen(answer)["raw"] is None  # no '?' in the viewer's URL


def test_its_status_body_cookies_and_headers_replace_the_origin_s(site: Site) -> None:
    replaced = fetch(site.url + "/replace.html")
    assert (replaced.status, replaced.body) == (201, b"replaced")
    cookie = fetch(site.url + "/cookie.html")
    assert cookie.headers.get_all("Set-Cookie") == ["seen=1; Path=/; Secure"]
    dropped = fetch(site.url + "/drop.html")
    assert dropped.status == 200 and "Content-Type" not in dropped.headers
    assert dropped.body == b"origin:drop.html"


@pytest.mark.parametrize("path", ["/request.html", "/throw.html"])
def test_a_failing_or_non_response_result_is_a_function_error(site: Site, path: str) -> None:
    answer = fetch(site.url + path)
    assert answer.status == 503
    assert answer.x_cache == "FunctionExecutionError from cloudfront"


def test_it_does_not_run_for_an_error_status_or_a_generated_response(site: Site) -> None:
    missing = fetch(site.url + "/missing.html")  # S3 through the origin: 403
    assert missing.status >= 400
    assert "X-Seen" not in missing.headers and "Strict-Transport-Security" not in missing.headers
    generated = fetch(site.url + "/generated.html")
    assert generated.status == 200 and generated.body == b"from the viewer-request function"
    assert generated.x_cache == "FunctionGeneratedResponse from cloudfront"
    assert "X-Seen" not in generated.headers


def test_the_event_s_response_moves_set_cookie_into_cookies() -> None:
    req = viewer.ViewerRequest("GET", "/", [], [("host", "example.com")], [], "198.51.100.7")
    headers = [
        ("Content-Type", "text/html"),
        ("Set-Cookie", "a=1; Path=/; Secure"),
        ("Set-Cookie", "a=2"),
        ("Set-Cookie", "b=x=y; HttpOnly"),
        ("X-Twice", "1"),
        ("X-Twice", "2"),
    ]
    event = viewer.response_event(
        req, 299, headers, distribution_id="E1", domain_name="d.example", request_id="r"
    )
    assert event["context"]["eventType"] == "viewer-response"
    assert event["response"] == {
        "statusCode": 299,
        "statusDescription": "",  # no reason phrase for an unassigned status
        "headers": {
            "content-type": {"value": "text/html"},
            "x-twice": {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]},
        },
        "cookies": {
            "a": {
                "value": "1",
                "attributes": "Path=/; Secure",
                "multiValue": [
                    {"value": "1", "attributes": "Path=/; Secure"},
                    {"value": "2", "attributes": ""},
                ],
            },
            "b": {"value": "x=y", "attributes": "HttpOnly"},
        },
    }

"""CloudFront's REST/XML wire protocol, driven entirely by botocore's service model.

Which operation a request is comes from each operation's ``requestUri`` and method; its input is
read with moto's model-driven ``RestXMLParser`` and its output written with moto's ``rest-xml``
serializer, so no XML is written by hand and every shape (namespaces, list wrappers, header
members such as ``ETag``) is exactly what botocore's own client parser expects. Those two classes
are moto internals (moto is pinned); ``tests/localaws/test_cloudfront_wire.py`` covers them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import ParseError

from moto.core.errors import ErrorLookupFactory, ErrorShape
from moto.core.parse import RequestParserError, RestXMLParser
from moto.core.serialize import SerializationContext, get_serializer_class
from moto.core.utils import get_service_model
from werkzeug.datastructures import Headers, MultiDict

from localaws.cloudfront.errors import CloudFrontError

SERVICE_MODEL = get_service_model("cloudfront")
API_VERSION = SERVICE_MODEL.api_version  # "2020-05-31": every request path starts with it
_ERRORS = ErrorLookupFactory().for_service(SERVICE_MODEL)

_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")

# The codes this protocol answers its own failures with (``kvswire`` has the data plane's).
UNKNOWN_OPERATION = "InvalidAction"
BAD_REQUEST = "InvalidArgument"
INTERNAL_FAILURE = "InternalFailure"


@dataclass(frozen=True)
class Route:
    """One operation's HTTP binding, compiled from the model."""

    operation: str
    method: str
    pattern: re.Pattern[str]
    # Literal query keys the URI requires (``?WithTags``), which tell apart same-path operations.
    query_literals: tuple[str, ...]
    # More literal characters wins when two templates match (``/function/{Name}/describe`` beats
    # a hypothetical ``/function/{Name}/{Other}``).
    specificity: int


def _compile(operation: str, http: dict[str, Any]) -> Route:
    uri = http["requestUri"]
    path, _, query = uri.partition("?")
    regex = ""
    pos = 0
    for m in _LABEL.finditer(path):
        regex += re.escape(path[pos : m.start()])
        greedy = m.group(2) == "+"
        regex += f"(?P<{m.group(1)}>{'.+' if greedy else '[^/]+'})"
        pos = m.end()
    regex += re.escape(path[pos:])
    literals = tuple(part.split("=")[0] for part in query.split("&") if part)
    specificity = len(_LABEL.sub("", path)) + len(literals)
    return Route(operation, http["method"], re.compile(regex + r"\Z"), literals, specificity)


def compile_routes(model: Any) -> tuple[Route, ...]:
    """Every operation's route in a service model (this API's, or the key value store data
    plane's in ``kvswire``)."""
    return tuple(_compile(name, model.operation_model(name).http) for name in model.operation_names)


ROUTES = compile_routes(SERVICE_MODEL)


def match_route(method: str, raw_path: str, query: MultiDict) -> tuple[str, dict[str, str]] | None:
    """The operation at ``method raw_path`` and its URI labels (percent-decoded), or None."""
    return find_route(ROUTES, method, raw_path, query)


def find_route(
    routes: tuple[Route, ...], method: str, raw_path: str, query: MultiDict
) -> tuple[str, dict[str, str]] | None:
    """The operation of ``routes`` at ``method raw_path`` and its URI labels, or None."""
    best: tuple[Route, dict[str, str]] | None = None
    for route in routes:
        if route.method != method:
            continue
        if any(lit not in query for lit in route.query_literals):
            continue
        m = route.pattern.match(raw_path)
        if m and (best is None or route.specificity > best[0].specificity):
            best = (route, {k: unquote(v) for k, v in m.groupdict().items()})
    if best is None:
        return None
    return best[0].operation, best[1]


def parse_input(
    operation: str,
    *,
    method: str,
    raw_path: str,
    url_params: dict[str, str],
    query: MultiDict,
    headers: Headers,
    body: bytes,
) -> dict[str, Any]:
    """The operation's input as a dict keyed by the model's member names.

    Malformed XML, numbers that are not numbers and bad base64 become ``MalformedInput``, the code
    CloudFront answers schema violations with; missing required members become
    ``InvalidArgument`` (or ``MissingBody`` when the whole payload is absent), never a traceback.
    """
    op_model = SERVICE_MODEL.operation_model(operation)
    parser = RestXMLParser(op_model)
    try:
        parsed = parser.parse(
            {
                "method": method,
                "values": query,
                "headers": headers,
                "body": body,
                "url_path": raw_path,
                "url_params": url_params,
            }
        )
    except RequestParserError as exc:
        raise CloudFrontError("MalformedInput", "The request body is not well-formed XML.") from exc
    except (ParseError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        # moto's parser lets int(), base64 and map-entry errors through as they are.
        raise CloudFrontError("MalformedInput", f"The request could not be read: {exc}") from exc
    _check_required(op_model.input_shape, parsed)
    return parsed


def _check_required(shape: Any, parsed: dict[str, Any]) -> None:
    if shape is None:
        return
    payload = shape.serialization.get("payload")
    if payload and payload not in parsed:
        raise CloudFrontError(
            "MissingBody", f"This operation needs a {payload} XML document as its body."
        )
    for name in shape.required_members:
        member = shape.members[name]
        location = member.serialization.get("location")
        # URI labels are always present once the route matched; If-Match is checked by each
        # operation so a missing one is InvalidIfMatchVersion, as AWS answers it.
        if location in ("uri", "header", "headers", "querystring"):
            continue
        if name not in parsed:
            raise CloudFrontError("InvalidArgument", f"The request is missing {name}.")
    for name, member in shape.members.items():
        if name in parsed and member.serialization.get("location") is None:
            _check_value(member, parsed[name], name)


def _check_value(shape: Any, value: Any, path: str) -> None:
    """Every required member of every nested structure must be present: AWS says which."""
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            raise CloudFrontError("MalformedInput", f"{path} must be an XML element with children.")
        for name in shape.required_members:
            if name not in value:
                raise CloudFrontError("InvalidArgument", f"{path}.{name} is required.")
        for name, member in shape.members.items():
            if name in value:
                _check_value(member, value[name], f"{path}.{name}")
    elif shape.type_name == "list":
        if not isinstance(value, list):
            raise CloudFrontError("MalformedInput", f"{path} must be a list of elements.")
        for i, item in enumerate(value):
            _check_value(shape.member, item, f"{path}[{i}]")


def serializer_class(service: str, model: Any) -> type:
    """moto's serializer for the model's protocol, taught the few error codes AWS uses but the
    model lacks (``CloudFrontError.UNMODELLED_STATUS``)."""
    errors = ErrorLookupFactory().for_service(model)

    class Serializer(get_serializer_class(service, model.protocol)):  # type: ignore[misc]
        def _serialize_error(self, resp: Any, error: Exception) -> Any:
            shape = error_shape(getattr(error, "code", type(error).__name__), errors)
            serialized = self.MAP_TYPE()
            self._serialize_error_metadata(serialized, error, shape)
            return self._serialized_error_to_response(resp, error, shape, serialized)

    return Serializer


_Serializer = serializer_class("cloudfront", SERVICE_MODEL)


def error_shape(code: str, errors: Any = _ERRORS) -> ErrorShape:
    """The model's shape for ``code``; for an unmodelled code, one with AWS's status for it."""
    shape = errors.from_code(code)
    if shape is not None:
        return shape
    status = CloudFrontError.UNMODELLED_STATUS.get(code, 400)
    return ErrorShape(
        shape_name=code,
        shape_model={
            "exception": True,
            "type": "structure",
            "members": {},
            "error": {"code": code, "httpStatusCode": status, "senderFault": status < 500},
        },
    )


@dataclass(frozen=True)
class WireResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def finish(raw: Any, request_id: str) -> WireResponse:
    body = raw["body"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = {str(k): str(v) for k, v in raw["headers"].items()}
    headers["x-amz-request-id"] = request_id
    return WireResponse(int(raw["status_code"]), headers, body or b"")


def serialize_result(operation: str | None, result: dict[str, Any]) -> WireResponse:
    """The operation's output dict (model member names) as CloudFront's HTTP response."""
    request_id = str(uuid.uuid4())
    op_model = SERVICE_MODEL.operation_model(operation)
    serializer = _Serializer(op_model, context=SerializationContext(request_id))
    raw = serializer.serialize(result)
    # moto stamps its own Content-Type over a modelled Content-Type header (GetFunction's
    # ContentType): the model's member wins, as on the real wire.
    for name, member in (op_model.output_shape.members if op_model.output_shape else {}).items():
        if member.serialization.get("location") == "header" and result.get(name) is not None:
            header = member.serialization.get("name", name)
            for existing in [k for k in raw["headers"] if k.lower() == header.lower()]:
                del raw["headers"][existing]
            raw["headers"][header] = str(result[name])
    return finish(raw, request_id)


def serialize_error(operation: str | None, error: CloudFrontError) -> WireResponse:
    """An AWS error document (``<ErrorResponse>``) with the model's status for the code."""
    request_id = str(uuid.uuid4())
    # Errors before an operation is known (no route) are serialized against any operation: the
    # error document does not depend on it.
    op_model = SERVICE_MODEL.operation_model(operation or "ListFunctions")
    serializer = _Serializer(op_model, context=SerializationContext(request_id))
    return finish(serializer.serialize(error), request_id)

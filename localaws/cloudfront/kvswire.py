"""The key value store data plane's wire protocol (``cloudfront-keyvaluestore``, REST-JSON).

The data plane is a service of its own: its own model (2022-07-26), JSON bodies, and errors
named ``ConflictException``, ``ValidationException`` and so on, told to boto3 by the
``X-Amzn-Errortype`` header. Like ``wire`` for the control plane, everything comes from botocore's
model: routes from each operation's ``requestUri``, input read by moto's ``RestJSONParser``,
output and errors written by moto's ``rest-json`` serializer. Its paths (``/key-value-stores/...``)
never collide with the control plane's (``/2020-05-31/...``), so both are served on one port.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.core.parse import RequestParserError, RestJSONParser
from moto.core.serialize import SerializationContext
from moto.core.utils import get_service_model
from werkzeug.datastructures import Headers, MultiDict

from localaws.cloudfront import wire
from localaws.cloudfront.errors import CloudFrontError

SERVICE = "cloudfront-keyvaluestore"
SERVICE_MODEL = get_service_model(SERVICE)
PATH_PREFIX = "/key-value-stores"
ROUTES = wire.compile_routes(SERVICE_MODEL)
_Serializer = wire.serializer_class(SERVICE, SERVICE_MODEL)

# The codes this protocol answers its own failures with (the control plane's differ).
UNKNOWN_OPERATION = "UnknownOperationException"
BAD_REQUEST = "ValidationException"
INTERNAL_FAILURE = "InternalServerException"


def validation(message: str) -> CloudFrontError:
    return CloudFrontError(BAD_REQUEST, message)


def match_route(method: str, raw_path: str, query: MultiDict) -> tuple[str, dict[str, str]] | None:
    """The data-plane operation at ``method raw_path`` and its URI labels, or None."""
    return wire.find_route(ROUTES, method, raw_path, query)


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
    """The operation's input by the model's member names; what cannot be read, or a required
    member that is missing, is a ``ValidationException`` as the data plane answers it."""
    op_model = SERVICE_MODEL.operation_model(operation)
    try:
        parsed = RestJSONParser(op_model).parse(
            {
                "method": method,
                "values": query,
                "headers": headers,
                "body": body,
                "url_path": raw_path,
                "url_params": url_params,
            }
        )
    except (RequestParserError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise validation(f"The request could not be read: {exc}") from exc
    for name in op_model.input_shape.required_members:
        if name not in parsed:
            raise validation(f"The request is missing {name}.")
    return parsed


def serialize_result(operation: str | None, result: dict[str, Any]) -> wire.WireResponse:
    request_id = str(uuid.uuid4())
    op_model = SERVICE_MODEL.operation_model(operation)
    raw = _Serializer(op_model, context=SerializationContext(request_id)).serialize(result)
    return wire.finish(raw, request_id)


def serialize_error(operation: str | None, error: CloudFrontError) -> wire.WireResponse:
    """A REST-JSON error: the code in ``X-Amzn-Errortype`` and the body, the model's status."""
    request_id = str(uuid.uuid4())
    # Errors before an operation is known (no route) are serialized against any operation: the
    # error document does not depend on it.
    op_model = SERVICE_MODEL.operation_model(operation or "DescribeKeyValueStore")
    serializer = _Serializer(op_model, context=SerializationContext(request_id))
    return wire.finish(serializer.serialize(error), request_id)

"""AWS errors the local CloudFront raises, named by the codes boto3 maps to ``ClientError``s.

An error carries only its code and message; the HTTP status and the XML body come from the error
shapes in botocore's service model (see ``wire``), so a caller gets exactly the exception class a
real account would raise. The few codes AWS returns that the model does not define carry their
status here.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CloudFrontError(Exception):
    """A request CloudFront refuses; ``code`` is the AWS error code, ``message`` says why."""

    # AWS codes that botocore's model lacks, with the status AWS answers them with. Codes the model
    # defines get their status from the model, never from here.
    UNMODELLED_STATUS: ClassVar[dict[str, int]] = {
        # Same CallerReference, different paths: a conflict with an existing resource.
        "InvalidationBatchAlreadyExists": 409,
        # CloudFront's answer to XML that does not fit the operation's schema.
        "MalformedInput": 400,
        # No operation at this method and path (AWS's common error for unknown actions).
        "InvalidAction": 400,
        # Our own failure; AWS's common code for it.
        "InternalFailure": 500,
        # The key value store data plane's answer to a path that is no operation of it.
        "UnknownOperationException": 404,
    }

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def invalid_argument(message: str) -> CloudFrontError:
    return CloudFrontError("InvalidArgument", message)


def missing_if_match(what: str) -> CloudFrontError:
    return CloudFrontError(
        "InvalidIfMatchVersion",
        f"The If-Match version is missing or not valid for the {what}; "
        "send the ETag from the last Describe/Get call.",
    )


def stale_if_match(what: str, sent: str) -> CloudFrontError:
    return CloudFrontError(
        "PreconditionFailed",
        f"The If-Match version {sent!r} does not match the current ETag of the {what}; "
        "describe it again and retry with the new ETag.",
    )


def check_if_match(if_match: str | None, current: str | tuple[str, ...], what: str) -> None:
    """AWS's optimistic locking: a missing If-Match is one error, a stale one another."""
    if not if_match:
        raise missing_if_match(what)
    allowed = (current,) if isinstance(current, str) else current
    if if_match not in allowed:
        raise stale_if_match(what, if_match)


def check_quantities(value: Any, path: str) -> None:
    """AWS's InconsistentQuantities: every ``Quantity`` must equal the length of its ``Items``."""
    if isinstance(value, dict):
        if "Quantity" in value:
            items = value.get("Items") or []
            if value["Quantity"] != len(items):
                raise CloudFrontError(
                    "InconsistentQuantities",
                    f"{path}.Quantity is {value['Quantity']} but {path}.Items has {len(items)}.",
                )
        for key, child in value.items():
            check_quantities(child, f"{path}.{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            check_quantities(child, f"{path}[{i}]")

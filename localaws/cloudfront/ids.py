"""Identifiers shaped like CloudFront's own: ids, ETags, domain names and ARNs.

Real values look like ``E2QWRUHAPOMQZL`` (distribution id, ETag), ``I2J0I21PCUYOIK`` (invalidation),
``d111111abcdef8.cloudfront.net``, a key value store's UUID, and ``KV1F83G8C2ARO7P`` (the ETag of a
store's data); code that parses or validates them (a regex in a DAG, a test that looks for
``.cloudfront.net``) should work the same against this emulator.
"""

from __future__ import annotations

import secrets
import string
import uuid

# moto's and the AWS documentation's example account; nothing checks it, but ARNs need one.
ACCOUNT_ID = "123456789012"

_UPPER_ALNUM = string.ascii_uppercase + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
# Ids and ETags are one letter and 13 upper-case alphanumerics, as AWS issues them.
_ID_TAIL = 13


def _token(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def distribution_id() -> str:
    return "E" + _token(_UPPER_ALNUM, _ID_TAIL)


def invalidation_id() -> str:
    return "I" + _token(_UPPER_ALNUM, _ID_TAIL)


def etag() -> str:
    return "E" + _token(_UPPER_ALNUM, _ID_TAIL)


def distribution_domain() -> str:
    return "d" + _token(_LOWER_ALNUM, _ID_TAIL) + ".cloudfront.net"


def distribution_arn(dist_id: str) -> str:
    return f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{dist_id}"


def function_arn(name: str) -> str:
    return f"arn:aws:cloudfront::{ACCOUNT_ID}:function/{name}"


def function_name_from_arn(arn: str) -> str | None:
    prefix = f"arn:aws:cloudfront::{ACCOUNT_ID}:function/"
    return arn[len(prefix) :] if arn.startswith(prefix) else None


def key_value_store_id() -> str:
    return str(uuid.uuid4())


def key_value_store_arn(store_id: str) -> str:
    return f"arn:aws:cloudfront::{ACCOUNT_ID}:key-value-store/{store_id}"


def key_value_store_data_etag() -> str:
    """The data plane's version of a store's keys: "KV" and 13 upper-case alphanumerics."""
    return "KV" + _token(_UPPER_ALNUM, _ID_TAIL)

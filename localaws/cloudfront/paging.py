"""The List operations' paging: ``MaxItems`` (a string in the model, 1 to 100 in practice) and
the page document built from it, written once for functions, distributions and invalidations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from localaws.cloudfront.errors import invalid_argument

# The List operations' default and ceiling page size.
MAX_ITEMS = 100

T = TypeVar("T")


def page_size(value: Any) -> int:
    if value is None or value == "":
        return MAX_ITEMS
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise invalid_argument(f"MaxItems must be a number, not {value!r}.") from None
    if not 1 <= size <= MAX_ITEMS:
        raise invalid_argument(f"MaxItems must be between 1 and {MAX_ITEMS}, not {size}.")
    return size


def list_page(
    p: dict[str, Any],
    remaining: Sequence[T],
    marker_of: Callable[[T], str],
    summary: Callable[[T], dict[str, Any]],
) -> dict[str, Any]:
    """FunctionList's shape: the first ``MaxItems`` of ``remaining`` (what follows the request's
    Marker), and the NextMarker to ask for the rest when there is more."""
    max_items = page_size(p.get("MaxItems"))
    shown = remaining[:max_items]
    result: dict[str, Any] = {"MaxItems": max_items, "Quantity": len(shown)}
    if shown:
        result["Items"] = [summary(item) for item in shown]
    if len(remaining) > max_items:
        result["NextMarker"] = marker_of(remaining[max_items])
    return result


def marked_list_page(
    p: dict[str, Any],
    remaining: Sequence[T],
    marker_of: Callable[[T], str],
    summary: Callable[[T], dict[str, Any]],
) -> dict[str, Any]:
    """DistributionList's and InvalidationList's shape: ``list_page`` plus the Marker it started
    from and IsTruncated."""
    result = list_page(p, remaining, marker_of, summary)
    result.update(Marker=p.get("Marker") or "", IsTruncated="NextMarker" in result)
    return result

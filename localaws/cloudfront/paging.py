"""``MaxItems`` as the List operations take it: a string in the model, 1 to 100 in practice."""

from __future__ import annotations

from typing import Any

from localaws.cloudfront.errors import invalid_argument

# The List operations' default and ceiling page size.
MAX_ITEMS = 100


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

"""Reading values out of untrusted event JSON: None for anything unusable, never an error."""

import math
from typing import Any

_LARGEST = 2**53


def number(value: object) -> float | None:
    """An int or finite float (not a bool) of at most 2**53 in magnitude."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if abs(value) <= _LARGEST else None


def timestamp(value: object) -> int | None:
    """Epoch milliseconds: an int, or a finite float rounded down."""
    result = number(value)
    return None if result is None else math.floor(result)


def positive_int(value: object) -> int | None:
    result = number(value)
    return None if result is None or result <= 0 else math.floor(result)


def point(data: dict[str, Any]) -> tuple[float, float] | None:
    """`data`'s x and y, when both are numbers."""
    x, y = number(data.get("x")), number(data.get("y"))
    return None if x is None or y is None else (x, y)


def text(value: object, limit: int) -> str | None:
    """A non-blank string, cut at `limit` characters."""
    return value[:limit] if isinstance(value, str) and value.strip() else None

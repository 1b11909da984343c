"""Reading values out of untrusted event JSON: None for anything unusable, never an error."""

import math
from typing import Any

import orjson

_LARGEST = 2**53
_INT64 = 2**63
MAX_PROPERTY_DEPTH = 8
MAX_PROPERTY_VALUES = 1000
MAX_PROPERTY_TEXT = 1000
MAX_PROPERTY_KEY = 200
_KEY_ESCAPES = str.maketrans({"%": "%25", ".": "%2E", "\x00": "%00"})


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


def storable(value: object) -> object:
    """A JSON value from a recording as MongoDB can store it (FerretDB's rules).

    Keys are escaped like URLs (`%` as `%25`, `.` as `%2E`, NUL as `%00`, a leading `$` as
    `%24`), ints beyond 64 bits become floats (what JavaScript had), a list inside a list
    becomes its JSON text (FerretDB 1.x stores no nested arrays), and the value is cut to
    MAX_PROPERTY_DEPTH levels, MAX_PROPERTY_VALUES values and strings of MAX_PROPERTY_TEXT
    characters, so that a derived event stays far below the 16 MB document limit.
    """
    return _Budget(MAX_PROPERTY_VALUES).storable(value, 0)


def storable_key(key: str) -> str:
    escaped = key[:MAX_PROPERTY_KEY].translate(_KEY_ESCAPES)
    return "%24" + escaped[1:] if escaped.startswith("$") else escaped


class _Budget:
    def __init__(self, values: int) -> None:
        self.left = values

    def storable(self, value: object, depth: int) -> object:
        self.left -= 1
        if self.left < 0:
            return None
        if isinstance(value, dict | list) and depth >= MAX_PROPERTY_DEPTH:
            return None
        if isinstance(value, dict):
            items = [(k, v) for k, v in value.items() if isinstance(k, str)]
            return {storable_key(k): self.storable(v, depth + 1) for k, v in items[: self.left]}
        if isinstance(value, list):
            return [self._item(item, depth + 1) for item in value[: self.left]]
        return _storable_scalar(value)

    def _item(self, item: object, depth: int) -> object:
        value = self.storable(item, depth)
        if isinstance(value, list):
            return orjson.dumps(value).decode()[:MAX_PROPERTY_TEXT]
        return value


def _storable_scalar(value: object) -> object:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value[:MAX_PROPERTY_TEXT]
    return None

"""Job payloads as JSON, never pickle: a queue entry cannot run code when read."""

from typing import Any

import orjson


def serialize(payload: dict[str, Any]) -> bytes:
    # A failed job's result is an exception object; store its repr.
    return orjson.dumps(payload, default=repr)


def deserialize(raw: bytes) -> dict[str, Any]:
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("a job payload must be a JSON object")
    return value

"""The size cap of one free-form JSON value (custom event properties), and how it is measured.

Custom event properties are whatever a site's page sends; capped here, one event cannot make
a stored document or an API answer large. The cap is the value serialized as compact JSON.
"""

import json

import orjson

MAX_JSON_VALUE_BYTES = 8 * 1024


def serialized_size(value: object) -> int:
    """Bytes of `value` as compact JSON (what an answer or a stored document carries)."""
    try:
        return len(orjson.dumps(value))
    except (orjson.JSONEncodeError, TypeError):  # ints beyond 64 bits, keys that are not str
        return len(json.dumps(value, default=str, separators=(",", ":")).encode())

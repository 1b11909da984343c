"""JavaScript errors, whichever way a client reports them, in the one stored form.

The snippet sends errors in the batch's `errors` array. Other rrweb clients
record them as rrweb custom events, `{type: 5, data: {tag: "$error", payload}}`,
with payload fields named after `ErrorEvent` (`filename`, `lineno`, `colno`),
after `Error` (`message`, `stack`), nested under `error`, or a bare string.
Both become the same `sightline.error` custom event here, before privacy and
storage, so replay, extraction and the session's error signals read one form.
"""

from typing import Any

from api.ingest.contract import ErrorEvent
from core.rrweb import tags
from core.rrweb.events import EventType

RRWEB_ERROR_TAGS = frozenset({"$error"})
CUSTOM = EventType.Custom.value
MAX_POSITION = 2**31 - 1

# The stored field, then the names clients use for it, in order of preference.
_ALIASES: dict[str, tuple[str, ...]] = {
    "message": ("message", "msg", "reason", "description"),
    "stack": ("stack", "stacktrace"),
    "source": ("source", "filename", "fileName", "url"),
    "line": ("line", "lineno", "lineNumber"),
    "column": ("column", "colno", "columnNumber"),
}
_LIMITS = {"message": 2000, "stack": 10_000, "source": 4096}


def error_event(error: ErrorEvent) -> dict[str, Any]:
    """The stream event for one error of the batch's `errors` array."""
    data = {"tag": tags.ERROR, "payload": error.model_dump(exclude={"timestamp"})}
    return {"type": CUSTOM, "data": data, "timestamp": error.timestamp}


def normalized(event: dict[str, Any]) -> dict[str, Any]:
    """`event` itself, or the `sightline.error` event when it is an rrweb `$error`."""
    data = event.get("data")
    if event.get("type") != CUSTOM or not isinstance(data, dict):
        return event
    tag = data.get("tag")
    if not isinstance(tag, str) or tag not in RRWEB_ERROR_TAGS:
        return event
    return error_event(_from_payload(data.get("payload"), event["timestamp"]))


def _from_payload(payload: object, timestamp: int) -> ErrorEvent:
    """The error a free-form payload describes; what cannot be read is left out."""
    if isinstance(payload, str):
        payload = {"message": payload}
    if not isinstance(payload, dict):
        payload = {}
    nested = payload.get("error")
    sources = [payload, nested] if isinstance(nested, dict) else [payload]
    if isinstance(nested, str):
        sources.append({"message": nested})
    fields = {name: _first(sources, name) for name in _ALIASES}
    return ErrorEvent(
        message=_text(fields["message"], "message") or "",
        timestamp=timestamp,
        stack=_text(fields["stack"], "stack"),
        source=_text(fields["source"], "source"),
        line=_position(fields["line"]),
        column=_position(fields["column"]),
    )


def _first(sources: list[dict[str, Any]], name: str) -> object:
    for source in sources:
        for alias in _ALIASES[name]:
            if source.get(alias) is not None:
                return source[alias]
    return None


def _text(value: object, name: str) -> str | None:
    return value[: _LIMITS[name]] if isinstance(value, str) else None


def _position(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_POSITION else None

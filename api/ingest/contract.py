"""The exact shape of an ingest batch (documented in the README).

Validation happens here, before anything is stored; the rrweb events
themselves are checked only for what the server relies on (an integer type, a
plausible timestamp, an object), and stored as they came otherwise.
"""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from core.json_size import MAX_JSON_VALUE_BYTES, serialized_size

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
EPOCH_2000_MS = 946_684_800_000
EPOCH_2100_MS = 4_102_444_800_000
MAX_EVENTS = 10_000
MAX_CUSTOM = 500
MAX_PROPERTY_DEPTH = 32


class Page(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str = Field(min_length=1, max_length=4096)
    title: str | None = Field(default=None, max_length=1024)
    referrer: str | None = Field(default=None, max_length=4096)


class RrwebEvent(BaseModel):
    # Strict: the event is stored as sent, so "4" or 1.7e12 must not pass for an integer.
    model_config = ConfigDict(extra="allow")
    type: int = Field(ge=0, le=64, strict=True)
    timestamp: int = Field(ge=EPOCH_2000_MS, le=EPOCH_2100_MS, strict=True)
    data: dict[str, Any] = Field(default_factory=dict)


class CustomEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=200)
    timestamp: int = Field(ge=EPOCH_2000_MS, le=EPOCH_2100_MS)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("properties")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > 50:
            raise ValueError("at most 50 properties")
        if nesting_depth(value) > MAX_PROPERTY_DEPTH:
            raise ValueError(f"properties nest at most {MAX_PROPERTY_DEPTH} levels deep")
        size = serialized_size(value)
        if size > MAX_JSON_VALUE_BYTES:
            raise ValueError(f"properties are {size} bytes as JSON, at most {MAX_JSON_VALUE_BYTES}")
        return value


class ErrorEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: str = Field(max_length=2000)
    timestamp: int = Field(ge=EPOCH_2000_MS, le=EPOCH_2100_MS)
    stack: str | None = Field(default=None, max_length=10_000)
    source: str | None = Field(default=None, max_length=4096)
    line: int | None = None
    column: int | None = None


class Batch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=100)
    visitor_id: Identifier
    session_id: Identifier
    seq: int = Field(ge=0, le=10_000_000)
    page: Page
    events: list[RrwebEvent] = Field(max_length=MAX_EVENTS)
    custom: list[CustomEvent] = Field(default_factory=list, max_length=MAX_CUSTOM)
    errors: list[ErrorEvent] = Field(default_factory=list, max_length=MAX_CUSTOM)
    sent_at: int | None = None

    @field_validator("events")
    @classmethod
    def _not_empty(cls, value: list[RrwebEvent]) -> list[RrwebEvent]:
        if not value:
            raise ValueError("a batch needs at least one event")
        return value


def nesting_depth(value: Any) -> int:
    """How many lists and objects deep a JSON value goes (0 for a scalar)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def describe_errors(errors: list[Any]) -> list[str]:
    """Readable problems such as `events.3.timestamp: Input should be ...`."""
    return [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors[:20]]

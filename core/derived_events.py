"""The derived events one session's recording yields, and their stable keys."""

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    PAGE_VIEW = "page_view"
    CLICK = "click"
    RAGE_CLICK = "rage_click"
    DEAD_CLICK = "dead_click"
    ERROR_CLICK = "error_click"
    INPUT = "input"
    SUBMIT = "submit"
    SCROLL = "scroll"
    CUSTOM = "custom"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class DerivedEvent:
    """One derived event. `timestamp` is the epoch ms of the source event; `x`/`y` are page
    coordinates (client position plus the document scroll offset); `ordinal` tells apart events
    of one kind at the same millisecond, so `key()` is unique within a session and the same
    each time the same stream is processed."""

    kind: Kind
    timestamp: int
    url: str | None = None
    path: str | None = None
    selector: str | None = None
    element_path: list[dict[str, Any]] | None = None
    text: str | None = None
    text_masked: bool = False
    tag: str | None = None
    href: str | None = None
    x: float | None = None
    y: float | None = None
    viewport_width: int | None = None
    viewport_height: int | None = None
    page_height: int | None = None
    name: str | None = None
    properties: dict[str, Any] | None = None
    message: str | None = None
    field_type: str | None = None
    depth_px: int | None = None
    depth_share: float | None = None
    count: int | None = None
    signals_version: int | None = None
    ordinal: int = 0

    def key(self) -> str:
        return f"{self.kind}:{self.timestamp}:{self.ordinal}"

    def to_document(self) -> dict[str, Any]:
        """A plain dict for storage: the key, then every field that is not None."""
        doc: dict[str, Any] = {"key": self.key()}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, Kind):
                value = value.value
            elif isinstance(value, dict):
                value = dict(value)
            doc[item.name] = value
        return doc

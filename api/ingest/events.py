"""Turning a validated batch into the event stream that is stored."""

from bisect import insort
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from api.ingest import client_errors
from api.ingest.contract import Batch
from core.rrweb import tags
from core.rrweb.events import EventType
from storage.sessions import MAX_PAGES, PageVisit

MAX_DIMENSION = 2**31 - 1


def stream(batch: Batch, raw_events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """rrweb events in order, with the snippet's custom events and errors merged in
    as rrweb Custom events, so replay and extraction read one stream. Errors that
    the client recorded as rrweb custom events take the same form (see
    `client_errors`)."""
    events = [client_errors.normalized(e) for e in raw_events]
    extra: list[dict[str, Any]] = [
        {
            "type": EventType.Custom.value,
            "data": {"tag": tags.TRACK, "payload": c.model_dump(exclude={"timestamp"})},
            "timestamp": c.timestamp,
        }
        for c in batch.custom
    ] + [client_errors.error_event(e) for e in batch.errors]
    for event in sorted(extra, key=_timestamp):
        insort(events, event, key=_timestamp)
    return events


def _timestamp(event: dict[str, Any]) -> int:
    stamp: int = event["timestamp"]
    return stamp


def path_of(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return "/"


def page_visits(events: list[dict[str, Any]]) -> list[PageVisit]:
    """Page loads (Meta events) and single-page-app navigations reported by the snippet."""
    visits = []
    for event in events:
        href = _href(event)
        if href:
            visits.append(PageVisit(url=href, path=path_of(href), at=event["timestamp"]))
    # The session document keeps every page; a batch of thousands of Meta events must not
    # outgrow MongoDB's 16 MB document limit.
    return visits[:MAX_PAGES]


def _href(event: dict[str, Any]) -> str | None:
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    if event.get("type") == EventType.Meta:
        href = data.get("href")
    elif event.get("type") == EventType.Custom and data.get("tag") == tags.NAVIGATION:
        payload = data.get("payload")
        href = payload.get("href") if isinstance(payload, dict) else None
    else:
        return None
    return href[:4096] if isinstance(href, str) and href else None


def viewport(events: list[dict[str, Any]]) -> dict[str, int] | None:
    for event in reversed(events):
        data = event.get("data")
        if event.get("type") == EventType.Meta and isinstance(data, dict):
            width, height = data.get("width"), data.get("height")
            if _dimension(width) and _dimension(height):
                return {"width": width, "height": height}
    return None


def _dimension(value: object) -> TypeGuard[int]:
    """A size MongoDB can store (no int beyond 64 bits) and a browser can have."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DIMENSION

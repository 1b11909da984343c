"""Autotracked events: listing them, counting them over time, recomputing signals."""

from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import strawberry
from redis.exceptions import RedisError
from strawberry.scalars import JSON

from core.cursors import CursorKind
from core.derived_events import Kind
from core.epoch import epoch_ms, from_epoch_ms
from graph.context import Context
from graph.errors import ServiceUnavailableError
from graph.ownership import owned_site
from graph.pagination import PageInfo, keyset_page
from graph.ranges import TimeRange
from graph.selectors import SelectorMatch, element_selector
from storage import events
from storage.database import Document
from workers.queue import Job

strawberry.enum(Kind, name="EventKind", description="What an autotracked event records.")

CURSOR = CursorKind("Query.events", datetime)


@strawberry.type(description="An event derived from a recording (never an input's value).")
class Event:
    id: strawberry.ID
    kind: Kind
    at: datetime
    session_id: str
    visitor_id: str
    url: str | None
    path: str | None
    selector: str | None
    text: str | None
    text_masked: bool
    tag: str | None
    href: str | None
    x: float | None
    y: float | None
    viewport_width: int | None
    page_height: int | None
    name: str | None
    properties: JSON | None
    message: str | None
    field_type: str | None
    depth_px: int | None
    depth_share: float | None
    count: int | None
    signals_version: int | None

    @classmethod
    def from_document(cls, doc: Document) -> "Event":
        return cls(
            id=strawberry.ID(doc["_id"]),
            kind=Kind(doc["kind"]),
            at=doc["at"],
            session_id=doc["session_id"],
            visitor_id=doc["visitor_id"],
            text_masked=bool(doc.get("text_masked", False)),
            properties=cast(JSON, doc.get("properties")),
            **{name: doc.get(name) for name in _OPTIONAL},
        )


_OPTIONAL = (
    "url", "path", "selector", "text", "tag", "href", "x", "y", "viewport_width", "page_height",
    "name", "message", "field_type", "depth_px", "depth_share", "count", "signals_version",
)  # fmt: skip


@strawberry.input
class EventFilter:
    kinds: list[Kind] | None = None
    after: datetime | None = None
    before: datetime | None = None
    session_id: str | None = None
    visitor_id: str | None = None
    url_contains: str | None = None
    path: str | None = None
    selector: str | None = strawberry.field(
        default=None, description="A CSS selector the element matches (see selectorMatch)."
    )
    text_contains: str | None = None
    name: str | None = None
    selector_match: SelectorMatch = SelectorMatch.CSS

    def to_storage(self) -> events.EventFilter:
        if self.selector is not None:
            element_selector(self.selector, self.selector_match)
        values = vars(self).copy()
        values["selector_match"] = SelectorMatch(self.selector_match)
        values["kinds"] = sorted({Kind(k).value for k in self.kinds}) if self.kinds else None
        return events.EventFilter(**values)


@strawberry.type
class EventConnection:
    nodes: list[Event]
    page_info: PageInfo


@strawberry.enum
class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"


@strawberry.type(description="How many events of one kind happened in one time bucket.")
class EventCount:
    kind: Kind
    bucket_start: datetime
    count: int


@strawberry.type
class EventQuery:
    @strawberry.field(description="A site's events, newest first, paginated by keyset.")
    async def events(
        self,
        info: strawberry.Info[Context, None],
        site_id: strawberry.ID,
        filter: EventFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> EventConnection:
        site = await owned_site(info.context, str(site_id))
        secret = info.context.resources.settings.secret_key
        filters = filter.to_storage() if filter else events.EventFilter()

        async def fetch(position: tuple[Any, str] | None, limit: int) -> list[Document]:
            return await events.search_events(
                info.context.db, site["_id"], filters, after=position, limit=limit
            )

        docs, page_info = await keyset_page(
            secret, CURSOR, first, after, fetch, lambda d: (d["at"], d["_id"])
        )
        return EventConnection(nodes=[Event.from_document(d) for d in docs], page_info=page_info)

    @strawberry.field(description="Event counts per kind and time bucket, for charts.")
    async def event_counts(
        self,
        info: strawberry.Info[Context, None],
        site_id: strawberry.ID,
        range: TimeRange,
        interval: Interval | None = None,
        filter: EventFilter | None = None,
    ) -> list[EventCount]:
        site = await owned_site(info.context, str(site_id))
        window = range
        filters = filter.to_storage() if filter else events.EventFilter()
        filters = events.EventFilter(
            **{**vars(filters), "after": window.start, "before": window.end}
        )
        bucket = Interval(interval).value if interval else Interval.DAY.value
        rows = await events.count_by_bucket(info.context.db, site["_id"], filters, bucket)
        return [
            EventCount(
                kind=Kind(kind),
                bucket_start=from_epoch_ms(start),
                count=count,
            )
            for kind, start, count in rows
        ]


@strawberry.type
class EventMutation:
    @strawberry.mutation(
        description="Re-derive rage, dead and error clicks of sessions started in the range "
        "under the site's current signal settings (a worker job)."
    )
    async def recompute_signals(
        self,
        info: strawberry.Info[Context, None],
        site_id: strawberry.ID,
        range: TimeRange | None = None,
    ) -> bool:
        site = await owned_site(info.context, str(site_id))
        window = range
        try:
            await info.context.resources.queue.enqueue(
                Job.RECOMPUTE_SIGNALS,
                site["_id"],
                epoch_ms(window.start) if window else None,
                epoch_ms(window.end) if window else None,
            )
        except RedisError:
            raise ServiceUnavailableError(
                "The job queue is unavailable; try again shortly."
            ) from None
        return True

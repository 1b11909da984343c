"""Sessions and visitors: finding a visit and getting the link to watch it."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import strawberry

from core.cursors import CursorKind
from core.epoch import from_epoch_ms
from graph.context import Context
from graph.errors import NotFoundError
from graph.links import Link, replay_link
from graph.ownership import on_owned_site, owned_site
from graph.pagination import PageInfo, keyset_page
from storage import session_search, sessions, visitors
from storage.sessions import SessionDocument

NO_SUCH_SESSION = "No such session."


@strawberry.type
class PageView:
    url: str
    path: str
    at: datetime


@strawberry.type
class Viewport:
    width: int
    height: int


@strawberry.type(description="One visit, recorded from its first batch to its last.")
class Session:
    id: strawberry.ID
    site_id: strawberry.ID
    session_id: str = strawberry.field(description="The id the snippet gave the session.")
    visitor_id: str
    started_at: datetime
    last_activity_at: datetime
    duration_ms: int
    page_count: int
    event_count: int
    entry_url: str | None
    exit_url: str | None
    pages: list[PageView]
    viewport: Viewport | None
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: str
    country: str | None
    click_count: int
    rage_click_count: int
    dead_click_count: int
    error_click_count: int
    error_count: int
    frustrated: bool = strawberry.field(description="Has a rage, dead or error click.")
    incomplete: str | None = strawberry.field(
        description="Why the recording is not whole (missing batches, no full snapshot), or null."
    )
    replayable: bool = strawberry.field(description="False when no full snapshot was stored.")

    @strawberry.field(
        description="A signed link (valid 15 minutes) to the session's rrweb events; "
        "null when the recording cannot be replayed (no full snapshot was stored)."
    )
    def replay_url(self, info: strawberry.Info[Context, None]) -> Link | None:
        if not self.replayable:
            return None
        return replay_link(info.context.resources.settings, str(self.id))

    @classmethod
    def from_document(cls, doc: SessionDocument) -> "Session":
        pages = sorted(doc.get("pages") or [], key=lambda p: p["at"])
        viewport = doc.get("viewport")
        return cls(
            id=strawberry.ID(doc["_id"]),
            site_id=strawberry.ID(doc["site_id"]),
            session_id=doc["session_id"],
            visitor_id=doc["visitor_id"],
            started_at=doc["started_at"],
            last_activity_at=doc["last_activity_at"],
            duration_ms=doc.get("duration_ms", 0),
            page_count=doc.get("page_count", 0),
            event_count=doc.get("event_count", 0),
            entry_url=doc.get("entry_url"),
            exit_url=doc.get("exit_url"),
            pages=[
                PageView(url=p["url"], path=p["path"], at=from_epoch_ms(p["at"])) for p in pages
            ],
            viewport=Viewport(**viewport) if viewport else None,
            browser=doc.get("browser"),
            browser_version=doc.get("browser_version"),
            os=doc.get("os"),
            os_version=doc.get("os_version"),
            device_type=doc.get("device_type") or "unknown",
            country=doc.get("country"),
            click_count=doc.get("click_count", 0),
            rage_click_count=doc.get("rage_click_count", 0),
            dead_click_count=doc.get("dead_click_count", 0),
            error_click_count=doc.get("error_click_count", 0),
            error_count=doc.get("error_count", 0),
            frustrated=bool(doc.get("frustrated", False)),
            incomplete=doc.get("incomplete"),
            replayable=doc.get("replayable", True),
        )


@strawberry.type
class SessionConnection:
    nodes: list[Session]
    page_info: PageInfo


@strawberry.enum
class SessionOrder(StrEnum):
    STARTED_AT_DESC = "started_at_desc"
    STARTED_AT_ASC = "started_at_asc"
    DURATION_DESC = "duration_desc"
    DURATION_ASC = "duration_asc"


@strawberry.input(description="Every field is optional; given fields must all match.")
class SessionFilter:
    started_after: datetime | None = None
    started_before: datetime | None = None
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    min_pages: int | None = None
    max_pages: int | None = None
    url_contains: str | None = None
    device_type: str | None = None
    browser: str | None = None
    os: str | None = None
    country: str | None = None
    visitor_id: str | None = None
    has_rage_clicks: bool | None = None
    has_dead_clicks: bool | None = None
    has_errors: bool | None = None
    frustrated: bool | None = None

    def to_storage(self) -> session_search.SessionFilter:
        return session_search.SessionFilter(**vars(self))


@strawberry.type(description="A returning browser, known by the snippet's visitor id.")
class Visitor:
    id: str
    site_id: strawberry.ID
    first_seen_at: datetime
    last_seen_at: datetime

    @strawberry.field(description="The visitor's sessions, newest first.")
    async def sessions(
        self,
        info: strawberry.Info[Context, None],
        first: int | None = None,
        after: str | None = None,
    ) -> SessionConnection:
        return await _search(
            info.context,
            str(self.site_id),
            session_search.SessionFilter(visitor_id=self.id),
            first,
            after,
            SessionOrder.STARTED_AT_DESC,
            "Visitor.sessions",
        )


_ORDERS = {
    SessionOrder.STARTED_AT_DESC: (session_search.SortKey.STARTED_AT, True),
    SessionOrder.STARTED_AT_ASC: (session_search.SortKey.STARTED_AT, False),
    SessionOrder.DURATION_DESC: (session_search.SortKey.DURATION, True),
    SessionOrder.DURATION_ASC: (session_search.SortKey.DURATION, False),
}


def _cursor_kind(listed: str, order: SessionOrder) -> CursorKind:
    """One kind per list and order: a page of one cannot continue another."""
    sort = _ORDERS[order][0]
    by_duration = sort is session_search.SortKey.DURATION
    return CursorKind(f"{listed}.{order.value}", int if by_duration else datetime, by_duration)


async def _search(
    ctx: Context,
    site_id: str,
    filters: session_search.SessionFilter,
    first: int | None,
    after: str | None,
    order: SessionOrder,
    listed: str,
) -> SessionConnection:
    sort, descending = _ORDERS[SessionOrder(order)]
    secret, kind = ctx.resources.settings.secret_key, _cursor_kind(listed, SessionOrder(order))

    async def fetch(position: tuple[Any, str] | None, limit: int) -> list[SessionDocument]:
        after_row = session_search.Position(*position) if position is not None else None
        return await session_search.search_sessions(
            ctx.db, site_id, filters, sort=sort, descending=descending, after=after_row, limit=limit
        )

    docs, page_info = await keyset_page(
        secret, kind, first, after, fetch, lambda d: (d.get(sort.value), d["_id"])
    )
    return SessionConnection(nodes=[Session.from_document(d) for d in docs], page_info=page_info)


@strawberry.type
class SessionQuery:
    @strawberry.field(description="A site's sessions, filtered and paginated by keyset.")
    async def sessions(
        self,
        info: strawberry.Info[Context, None],
        site_id: strawberry.ID,
        filter: SessionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        order_by: SessionOrder | None = None,
    ) -> SessionConnection:
        site = await owned_site(info.context, str(site_id))
        filters = filter.to_storage() if filter else session_search.SessionFilter()
        order = order_by or SessionOrder.STARTED_AT_DESC
        return await _search(
            info.context, site["_id"], filters, first, after, order, "Query.sessions"
        )

    @strawberry.field(description="One session, by its id.")
    async def session(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> Session:
        doc = await sessions.find_by_id(info.context.db, str(id))
        return Session.from_document(await on_owned_site(info.context, doc, NO_SUCH_SESSION))

    @strawberry.field(description="A visitor of a site, by the snippet's visitor id.")
    async def visitor(
        self, info: strawberry.Info[Context, None], site_id: strawberry.ID, id: str
    ) -> Visitor:
        site = await owned_site(info.context, str(site_id))
        doc = await visitors.find_visitor(info.context.db, site["_id"], id)
        if doc is None:
            raise NotFoundError("No such visitor.")
        return Visitor(
            id=doc["visitor_id"],
            site_id=strawberry.ID(site["_id"]),
            first_seen_at=doc["first_seen_at"],
            last_seen_at=doc["last_seen_at"],
        )

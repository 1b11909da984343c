"""Finding sessions: filters and keyset pagination over the `sessions` collection.

Pages are cut by (sort value, _id), never by offset, so a page boundary does
not move when new sessions arrive. A list by start time whose filter is a time
range and equality on the client fields reads hour by hour
(storage.session_bucket_pages) once every session has its hour; any other sort
or filter (duration, pages, URL, visitor, the signals) runs one sorted query on
an index that starts with `site_id`.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, cast

from core.epoch import epoch_ms
from storage import migrate, session_backfill
from storage.database import Database, Document, query_limit
from storage.session_bucket_pages import EQUALITY_FIELDS, Window, bucket_page
from storage.sessions import COLLECTION, SessionDocument

PROJECTION: Document = {"privacy_state": 0, "chunks": 0}


class SortKey(Enum):
    STARTED_AT = "started_at"
    DURATION = "duration_ms"


@dataclass(frozen=True)
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


_PRESENCE = {
    "has_rage_clicks": "rage_click_count",
    "has_dead_clicks": "dead_click_count",
    "has_errors": "error_count",
}


@dataclass(frozen=True)
class Position:
    """Where the previous page ended: the last row's sort value and id."""

    value: Any
    id: str


def _range(low: Any, high: Any, *, high_exclusive: bool = False) -> dict[str, Any] | None:
    bounds = {}
    if low is not None:
        bounds["$gte"] = low
    if high is not None:
        bounds["$lt" if high_exclusive else "$lte"] = high
    return bounds or None


def build_query(site_id: str, f: SessionFilter) -> Document:
    query: Document = {"site_id": site_id}
    ranges = {
        "started_at": _range(f.started_after, f.started_before, high_exclusive=True),
        "duration_ms": _range(f.min_duration_ms, f.max_duration_ms),
        "page_count": _range(f.min_pages, f.max_pages),
    }
    query.update({k: v for k, v in ranges.items() if v is not None})
    equal = {
        "device_type": f.device_type,
        "browser": f.browser,
        "os": f.os,
        "country": f.country,
        "visitor_id": f.visitor_id,
    }
    query.update({k: v for k, v in equal.items() if v is not None})
    if f.url_contains:
        query["urls"] = {"$regex": re.escape(f.url_contains)}
    for flag, counter in _PRESENCE.items():
        wanted = getattr(f, flag)
        if wanted is not None:
            query[counter] = {"$gt": 0} if wanted else {"$in": [0, None]}
    if f.frustrated is not None:
        query["frustrated"] = True if f.frustrated else {"$ne": True}
    return query


def _after(sort: SortKey, descending: bool, position: Position) -> Document:
    op = "$lt" if descending else "$gt"
    field = sort.value
    return {
        "$or": [
            {field: {op: position.value}},
            {field: position.value, "_id": {op: position.id}},
        ]
    }


async def search_sessions(
    db: Database,
    site_id: str,
    f: SessionFilter,
    *,
    sort: SortKey = SortKey.STARTED_AT,
    descending: bool = True,
    after: Position | None = None,
    limit: int = 20,
) -> list[SessionDocument]:
    """Up to `limit` sessions after `after`, in the requested order."""
    with query_limit(db):
        if sort is SortKey.STARTED_AT and by_hour(f) and await _hours_filled(db):
            return await bucket_page(
                db, site_id, _equal(f), _window(f), descending=descending,
                after=_after_key(after), limit=limit, projection=PROJECTION,
            )  # fmt: skip
    return await scan_sessions(
        db, site_id, f, sort=sort, descending=descending, after=after, limit=limit
    )


def by_hour(f: SessionFilter) -> bool:
    """Whether the hour-by-hour path serves `f`: a time range and client fields only.

    A visitor's sessions are few and found by equality already; the other filters
    can leave most hours empty, so walking hours would read many for one page.
    """
    served = {"started_after", "started_before", *EQUALITY_FIELDS}
    return all(value is None for name, value in vars(f).items() if name not in served)


async def _hours_filled(db: Database) -> bool:
    """Sessions written before `start_bucket` existed are listed once the migration gave it them."""
    return await migrate.is_done(db, session_backfill.STEP)


def _equal(f: SessionFilter) -> dict[str, Any]:
    return {name: getattr(f, name) for name in EQUALITY_FIELDS if getattr(f, name) is not None}


def _window(f: SessionFilter) -> Window:
    low = None if f.started_after is None else epoch_ms(f.started_after)
    high = None if f.started_before is None else epoch_ms(f.started_before)
    return Window(low, high)


def _after_key(after: Position | None) -> tuple[int, str] | None:
    return None if after is None else (epoch_ms(after.value), after.id)


async def scan_sessions(
    db: Database,
    site_id: str,
    f: SessionFilter,
    *,
    sort: SortKey = SortKey.STARTED_AT,
    descending: bool = True,
    after: Position | None = None,
    limit: int = 20,
) -> list[SessionDocument]:
    """The same page by one sorted query over the site's sessions (any sort or filter)."""
    query = build_query(site_id, f)
    if after is not None:
        query = {"$and": [query, _after(sort, descending, after)]}
    direction = -1 if descending else 1
    with query_limit(db):
        cursor = db[COLLECTION].find(
            query,
            projection=PROJECTION,
            sort=[(sort.value, direction), ("_id", direction)],
            limit=limit,
        )
        return cast(list[SessionDocument], await cursor.to_list(None))


def position_of(doc: SessionDocument, sort: SortKey) -> Position:
    return Position(value=doc.get(sort.value), id=doc["_id"])

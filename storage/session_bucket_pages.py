"""A page of sessions by start time, read hour by hour (see storage.session_buckets).

Each marked hour in the page's direction is read with one equality lookup
(`site_id`, `start_bucket` and the filter's equality fields, all pushed down by
FerretDB); its few documents are cut to the filter's time range and to the
keyset position, and sorted here by (`started_at`, `_id`), the order the
`by_start` index gives. Hours are disjoint and walked in order, so the page is
the one the sorted query over the whole collection returns, and it stops
reading as soon as it is full.
"""

from dataclasses import dataclass
from typing import Any, cast

from core.epoch import epoch_ms
from storage.database import Database, Document
from storage.session_buckets import FIELD, walk
from storage.sessions import COLLECTION, SessionDocument

# The filter fields this path checks by equality on the lookup itself.
EQUALITY_FIELDS = ("device_type", "browser", "os", "country")


@dataclass(frozen=True)
class Window:
    """Start times a page may hold, as epoch ms: `low` inclusive, `high` exclusive."""

    low: int | None
    high: int | None

    def holds(self, ms: int) -> bool:
        return (self.low is None or ms >= self.low) and (self.high is None or ms < self.high)


async def bucket_page(
    db: Database,
    site_id: str,
    equal: dict[str, Any],
    window: Window,
    *,
    descending: bool,
    after: tuple[int, str] | None,
    limit: int,
    projection: Document,
) -> list[SessionDocument]:
    """Up to `limit` sessions after `after` (start ms, `_id`), by start time."""
    newest = None if window.high is None else window.high - 1
    oldest = window.low
    if after is not None and descending:
        newest = after[0] if newest is None else min(newest, after[0])
    elif after is not None:
        oldest = after[0] if oldest is None else max(oldest, after[0])
    rows: list[SessionDocument] = []
    hours = walk(db, site_id, newest=newest, oldest=oldest, descending=descending)
    async for hour in hours:
        query = {"site_id": site_id, FIELD: hour, **equal}
        docs = cast(
            list[SessionDocument],
            await db[COLLECTION].find(query, projection=projection).to_list(None),
        )
        rows.extend(_in_order(docs, window, after, descending))
        if len(rows) >= limit:
            await hours.aclose()
            break
    return rows[:limit]


def _key(doc: SessionDocument) -> tuple[int, str]:
    return epoch_ms(doc["started_at"]), doc["_id"]


def _in_order(
    docs: list[SessionDocument], window: Window, after: tuple[int, str] | None, descending: bool
) -> list[SessionDocument]:
    kept = [
        doc
        for doc in docs
        if window.holds(_key(doc)[0])
        and (after is None or (_key(doc) < after if descending else _key(doc) > after))
    ]
    return sorted(kept, key=_key, reverse=descending)

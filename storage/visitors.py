"""Visitors: the browsers that come back, identified by the snippet's visitor id.

A visitor is written on a session's first batch and then at most about once a
`REFRESH` per session (see `due`), not on every batch: each write is a round trip
that FerretDB turns into a read and a whole-document write. So `last_seen_at` and
`last_received_at` may lag the visitor's newest batch by up to `REFRESH`, and
retention, which reads `last_received_at`, may erase a visitor up to that much early.
"""

from datetime import UTC, datetime, timedelta
from typing import Any, NotRequired, TypedDict, cast

from core.epoch import from_epoch_ms
from storage import engine
from storage.database import Database, Document
from storage.ids import visitor_key

COLLECTION = "visitors"
REFRESH = timedelta(minutes=1)


def due(noted_at: datetime | None, received_at: datetime) -> bool:
    """Whether a batch received at `received_at` must write its visitor, given when its
    session last noted a visitor write that had succeeded (None: never, or a retry)."""
    return noted_at is None or received_at - noted_at >= REFRESH


class VisitorDocument(TypedDict):
    """A visitor as stored."""

    _id: str  # storage.ids.visitor_key(site_id, visitor_id)
    site_id: str
    visitor_id: str
    created_at: datetime
    first_seen_at: datetime  # client time
    last_seen_at: datetime  # client time
    last_received_at: NotRequired[datetime]  # server time; absent on visitors recorded before it
    last_client: dict[str, Any]  # api.ingest.pipeline's client fields


async def record_visit(
    db: Database,
    *,
    site_id: str,
    visitor_id: str,
    first_ts: int,
    last_ts: int,
    client: dict[str, Any],
    received_at: datetime,
) -> None:
    """Fold a batch into its visitor; `last_received_at` (server time) is what retention reads."""
    query = {"_id": visitor_key(site_id, visitor_id)}
    update = {
        "$setOnInsert": {
            "site_id": site_id,
            "visitor_id": visitor_id,
            "created_at": datetime.now(UTC),
        },
        "$min": {"first_seen_at": from_epoch_ms(first_ts)},
        "$max": {
            "last_seen_at": from_epoch_ms(last_ts),
            "last_received_at": received_at,
        },
        "$set": {"last_client": client},
    }
    await engine.raced_upsert(db, lambda: db[COLLECTION].update_one(query, update, upsert=True))


async def find_visitor(db: Database, site_id: str, visitor_id: str) -> VisitorDocument | None:
    visitor = await db[COLLECTION].find_one({"_id": visitor_key(site_id, visitor_id)})
    return cast(VisitorDocument | None, visitor)


def received_before(site_id: str, cutoff: datetime) -> Document:
    """The query for visitors whose last batch reached the server before `cutoff`
    (visitors recorded before `last_received_at` existed: by their last activity)."""
    return {
        "site_id": site_id,
        "$or": [
            {"last_received_at": {"$lt": cutoff}},
            {"last_received_at": {"$exists": False}, "last_seen_at": {"$lt": cutoff}},
        ],
    }

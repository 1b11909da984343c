"""Sessions: one visit, summarised as batches arrive, found by the API's filters.

Every update here is idempotent (`$min`, `$max`, `$addToSet`, `$set` of a
key), so a batch retried after a failure leaves the same session behind.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument

from storage.database import Database, Document
from storage.ids import new_id

COLLECTION = "sessions"
MAX_PAGES = 500
MAX_URLS = 200


@dataclass(frozen=True)
class PageVisit:
    url: str
    path: str
    at: int  # epoch ms


@dataclass(frozen=True)
class BatchSummary:
    site_id: str
    session_id: str
    visitor_id: str
    seq: int
    first_ts: int
    last_ts: int
    event_count: int
    pages: list[PageVisit]
    urls: list[str]
    viewport: dict[str, int] | None
    client: dict[str, Any]
    privacy_state: Document
    on_insert: dict[str, Any] = field(default_factory=dict)


async def find_by_id(db: Database, session_internal_id: str) -> Document | None:
    return await db[COLLECTION].find_one(
        {"_id": session_internal_id}, projection={"privacy_state": 0}
    )


async def find_session(db: Database, site_id: str, session_id: str) -> Document | None:
    return await db[COLLECTION].find_one({"site_id": site_id, "session_id": session_id})


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


async def record_batch(db: Database, batch: BatchSummary) -> Document:
    """Fold one batch into its session, creating the session on its first batch."""
    update: dict[str, Any] = {
        "$setOnInsert": {
            "_id": new_id(),
            "created_at": datetime.now(UTC),
            **batch.client,
            **batch.on_insert,
        },
        "$min": {"started_at": _ms(batch.first_ts)},
        "$max": {"last_activity_at": _ms(batch.last_ts)},
        "$set": {
            f"chunks.{batch.seq}": batch.event_count,
            "privacy_state": batch.privacy_state,
            "visitor_id": batch.visitor_id,
            "updated_at": datetime.now(UTC),
        },
        "$addToSet": {
            "pages": {"$each": [vars(p) for p in batch.pages]},
            "urls": {"$each": batch.urls},
        },
    }
    if batch.viewport:
        update["$set"]["viewport"] = batch.viewport
    session = await db[COLLECTION].find_one_and_update(
        {"site_id": batch.site_id, "session_id": batch.session_id},
        update,
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert session is not None
    return await _refresh_summary(db, session)


async def _refresh_summary(db: Database, session: Document) -> Document:
    pages = sorted(session.get("pages") or [], key=lambda p: p["at"])
    chunks = session.get("chunks") or {}
    derived = {
        "duration_ms": int(
            (session["last_activity_at"] - session["started_at"]).total_seconds() * 1000
        ),
        "page_count": len(pages),
        "chunk_count": len(chunks),
        "event_count": sum(chunks.values()),
    }
    changes: dict[str, Any] = {"$max": derived}
    if pages:
        changes["$set"] = {"entry_url": pages[0]["url"], "exit_url": pages[-1]["url"]}
    refreshed = await db[COLLECTION].find_one_and_update(
        {"_id": session["_id"]}, changes, return_document=ReturnDocument.AFTER
    )
    return refreshed or session

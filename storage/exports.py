"""Visitor exports: one JSON document, stored compressed in slices until it expires.

Each slice names the visitor and the sessions the export holds, so erasing either
removes the export with it (see `storage.erasure`); a link is only issued, and
only downloads, while the export's slices are there and not expired.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bson import Binary

from storage.database import Database, Document

COLLECTION = "exports"
LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class Subject:
    """Whose data an export holds."""

    site_id: str
    visitor_id: str
    session_ids: list[str]


async def store_slice(
    db: Database, *, request_id: str, subject: Subject, index: int, blob: bytes
) -> None:
    await db[COLLECTION].replace_one(
        {"_id": f"{request_id}:{index:06d}"},
        {
            "request_id": request_id,
            "site_id": subject.site_id,
            "visitor_id": subject.visitor_id,
            "session_ids": subject.session_ids,
            "index": index,
            "data": Binary(blob),
            "expires_at": datetime.now(UTC) + LIFETIME,
        },
        upsert=True,
    )


def _live(request_id: str) -> Document:
    return {"request_id": request_id, "expires_at": {"$gt": datetime.now(UTC)}}


async def slices(db: Database, request_id: str) -> list[str]:
    """The export's slices in order; none once it expired or was erased."""
    cursor = db[COLLECTION].find(_live(request_id), projection={"_id": 1}, sort=[("index", 1)])
    return [doc["_id"] async for doc in cursor]


async def available(db: Database, request_id: str) -> bool:
    """Whether the export can be downloaded (a link to it may be issued)."""
    return await db[COLLECTION].find_one(_live(request_id), projection={"_id": 1}) is not None


async def delete_export(db: Database, request_id: str) -> int:
    result = await db[COLLECTION].delete_many({"request_id": request_id})
    return result.deleted_count


async def slice_data(db: Database, slice_id: str) -> bytes | None:
    doc = await db[COLLECTION].find_one({"_id": slice_id}, projection={"data": 1})
    return bytes(doc["data"]) if doc else None


async def delete_expired(db: Database, now: datetime) -> int:
    result = await db[COLLECTION].delete_many({"expires_at": {"$lt": now}})
    return result.deleted_count

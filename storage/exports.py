"""Visitor exports: one JSON document, stored compressed in slices until it expires."""

from datetime import UTC, datetime, timedelta

from bson import Binary

from storage.database import Database

COLLECTION = "exports"
LIFETIME = timedelta(hours=24)


async def store_slice(
    db: Database, *, request_id: str, site_id: str, index: int, blob: bytes
) -> None:
    await db[COLLECTION].replace_one(
        {"_id": f"{request_id}:{index:06d}"},
        {
            "request_id": request_id,
            "site_id": site_id,
            "index": index,
            "data": Binary(blob),
            "expires_at": datetime.now(UTC) + LIFETIME,
        },
        upsert=True,
    )


async def slices(db: Database, request_id: str) -> list[str]:
    cursor = db[COLLECTION].find(
        {"request_id": request_id}, projection={"_id": 1}, sort=[("index", 1)]
    )
    return [doc["_id"] async for doc in cursor]


async def slice_data(db: Database, slice_id: str) -> bytes | None:
    doc = await db[COLLECTION].find_one({"_id": slice_id}, projection={"data": 1})
    return bytes(doc["data"]) if doc else None


async def delete_expired(db: Database) -> int:
    result = await db[COLLECTION].delete_many({"expires_at": {"$lt": datetime.now(UTC)}})
    return result.deleted_count

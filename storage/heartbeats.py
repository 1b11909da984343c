"""Worker heartbeats: when each worker last ran a job that reached MongoDB."""

from datetime import UTC, datetime
from typing import TypedDict, cast

from storage.database import Database

COLLECTION = "worker_heartbeats"


class HeartbeatDocument(TypedDict):
    _id: str  # the worker's name
    at: datetime
    beats: int


async def record_heartbeat(db: Database, *, worker: str) -> datetime:
    """Mark `worker` as alive now; one document a worker, so they never pile up."""
    now = datetime.now(UTC)
    await db[COLLECTION].update_one(
        {"_id": worker}, {"$set": {"at": now}, "$inc": {"beats": 1}}, upsert=True
    )
    return now


async def latest_heartbeats(db: Database, *, limit: int = 50) -> list[HeartbeatDocument]:
    cursor = db[COLLECTION].find({}, sort=[("at", -1)], limit=limit)
    return cast(list[HeartbeatDocument], await cursor.to_list(None))

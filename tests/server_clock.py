"""Moving stored data back in server time, as if it had been received earlier."""

from datetime import timedelta

from storage.database import Database

# The fields that hold the server's clock (when a batch was received), in any collection.
RECEIVED_FIELDS = ("received_at", "last_received_at", "last_chunk_at", "visitor_noted_at")


async def receive_earlier(db: Database, by: timedelta, **match: str) -> int:
    """Move every receive time of the documents matching `match` (in every collection
    that has them) back by `by`; how many documents moved."""
    moved = 0
    for name in await db.list_collection_names():
        async for doc in db[name].find(match):
            earlier = {f: doc[f] - by for f in RECEIVED_FIELDS if f in doc}
            if earlier:
                await db[name].update_one({"_id": doc["_id"]}, {"$set": earlier})
                moved += 1
    return moved

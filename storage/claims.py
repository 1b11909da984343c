"""Leases in MongoDB: one worker at a time does a piece of work, even across queues.

A claim is a document keyed by the work's name with a holder and an expiry;
a worker that dies simply lets its lease run out.
"""

import re
from datetime import UTC, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from storage.database import Database

COLLECTION = "claims"


async def acquire(db: Database, name: str, holder: str, lease: timedelta) -> bool:
    now = datetime.now(UTC)
    until = now + lease
    taken = await db[COLLECTION].find_one_and_update(
        {"_id": name, "until": {"$lt": now}}, {"$set": {"holder": holder, "until": until}}
    )
    if taken is not None:
        return True
    try:
        await db[COLLECTION].insert_one({"_id": name, "holder": holder, "until": until})
    except DuplicateKeyError:
        return False
    return True


async def release(db: Database, name: str, holder: str) -> None:
    await db[COLLECTION].delete_one({"_id": name, "holder": holder})


async def renew(db: Database, name: str, holder: str, lease: timedelta) -> bool:
    """Extend a held lease; False when it was lost (expired and taken by another)."""
    result = await db[COLLECTION].update_one(
        {"_id": name, "holder": holder}, {"$set": {"until": datetime.now(UTC) + lease}}
    )
    return result.matched_count == 1


async def held_with_prefix(db: Database, prefix: str) -> bool:
    """Whether any unexpired claim's name starts with `prefix`."""
    found = await db[COLLECTION].find_one(
        {"_id": {"$regex": "^" + re.escape(prefix)}, "until": {"$gt": datetime.now(UTC)}}
    )
    return found is not None
